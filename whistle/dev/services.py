"""Start, stop and report the local dev services (Kafka, PostgreSQL) unless configured external."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from whistle.dev import kafka, postgres
from whistle.dev.process import ServiceError
from whistle.settings import Settings, get_settings

__all__ = [
    "ServiceError",
    "ensure_services",
    "kafka_up",
    "postgres_up",
    "redacted_dsn",
    "services_status",
    "stop_all",
]


@contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    """Serialise up/down across processes sharing this checkout (several `make test` at once)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / "dev-services.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _external(name: str, variable: str, value: str) -> str:
    """The status line of a service configured from outside."""
    return f"{name:<9} external  {variable}={value}"


def kafka_up(settings: Settings | None = None) -> str:
    """Make sure the broker runs (or is external); return its status line."""
    settings = settings or get_settings()
    if not settings.local_kafka:
        return _external("kafka", "WHISTLE_KAFKA_BOOTSTRAP", settings.bootstrap)
    with _locked(settings.state_dir):
        return kafka.kafka_start(settings.state_dir)


def postgres_up(settings: Settings | None = None) -> str:
    """Make sure PostgreSQL runs with database ``whistle`` (or is external); return a line."""
    settings = settings or get_settings()
    if not settings.local_postgres:
        return _external("postgres", "WHISTLE_DATABASE_URL", redacted_dsn(settings.dsn))
    with _locked(settings.state_dir):
        return postgres.postgres_start(settings.state_dir)


def ensure_services(settings: Settings | None = None) -> list[str]:
    """Make sure every dev service runs; return one status line per service."""
    settings = settings or get_settings()
    return [kafka_up(settings), postgres_up(settings)]


def stop_all(settings: Settings | None = None) -> list[str]:
    """Stop the services this checkout started (never external ones); return status lines."""
    settings = settings or get_settings()
    lines = []
    with _locked(settings.state_dir):
        if settings.local_kafka:
            lines.append(kafka.kafka_stop(settings.state_dir))
        if settings.local_postgres:
            lines.append(postgres.postgres_stop(settings.state_dir))
    return lines


def services_status(settings: Settings | None = None) -> tuple[bool, list[str]]:
    """Whether all services are up (external counts as up), and one line per service."""
    settings = settings or get_settings()
    if settings.local_kafka:
        kafka_ok, kafka_line = kafka.kafka_status(settings.state_dir)
    else:
        kafka_ok = True
        kafka_line = _external("kafka", "WHISTLE_KAFKA_BOOTSTRAP", settings.bootstrap)
    if settings.local_postgres:
        pg_ok, pg_line = postgres.postgres_status(settings.state_dir)
    else:
        pg_ok = True
        pg_line = _external("postgres", "WHISTLE_DATABASE_URL", redacted_dsn(settings.dsn))
    return kafka_ok and pg_ok, [kafka_line, pg_line]


def redacted_dsn(dsn: str) -> str:
    """A DSN without its password (safe to print)."""
    head, sep, tail = dsn.rpartition("@")
    if not sep or ":" not in head.split("//", 1)[-1]:
        return dsn
    scheme, _, credentials = head.partition("//")
    user = credentials.split(":", 1)[0]
    return f"{scheme}//{user}:***@{tail}"

"""Helpers that run Whistle's own processes (worker, projector, API) for integration tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from whistle.service.process_supervisor import Supervisor
from whistle.settings import Settings


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def isolated_env(
    tmp_path: Path, bootstrap: str, dsn: str, prefix: str, partitions: int = 4
) -> dict[str, str]:
    """Environment for processes that use their own topics, database and data folder."""
    return {
        "WHISTLE_KAFKA_BOOTSTRAP": bootstrap,
        "WHISTLE_DATABASE_URL": dsn,
        "WHISTLE_TOPIC_PREFIX": prefix,
        "WHISTLE_PARTITIONS": str(partitions),
        "WHISTLE_STATE_DIR": str(tmp_path / "state"),
        "WHISTLE_HTTP_PORT": str(free_port()),
        "WHISTLE_WORKER_WEB_PORT": str(free_port()),
    }


def settings_of(env: dict[str, str]) -> Settings:
    """The settings a child process started with ``env`` reads."""
    fields = {k.removeprefix("WHISTLE_").lower(): v for k, v in env.items()}
    return Settings.model_validate(fields)


@contextmanager
def supervised(tmp_path: Path, env: dict[str, str]) -> Iterator[Supervisor]:
    """A supervisor whose children are all stopped when the block ends."""
    supervisor = Supervisor(settings_of(env), tmp_path / "logs", env=env)
    try:
        yield supervisor
    finally:
        supervisor.stop()

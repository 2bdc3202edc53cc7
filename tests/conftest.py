"""Shared fixtures: real Kafka and PostgreSQL (started on demand), fresh names and databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from whistle.dev import kafka, postgres
from whistle.dev.services import ServiceError, kafka_up, postgres_up, redacted_dsn
from whistle.settings import Settings


def services_required() -> bool:
    """True when missing services must fail the run (CI, or WHISTLE_REQUIRE_SERVICES=1)."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"} or (
        os.environ.get("WHISTLE_REQUIRE_SERVICES") == "1"
    )


def _unavailable(reason: str) -> None:
    """Fail (CI) or skip (laptop) a test whose service cannot be reached."""
    if services_required():
        pytest.fail(f"{reason} (services are required under CI / WHISTLE_REQUIRE_SERVICES=1)")
    pytest.skip(f"{reason}; run `whistle dev up` or set the WHISTLE_* address")


def unique_name(prefix: str) -> str:
    """A fresh topic name, group id or database name: ``<prefix>-<12 hex>``."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def with_database(dsn: str, database: str) -> str:
    """``dsn`` pointing at another database of the same server."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


@pytest.fixture(name="unique_name")
def _unique_name_fixture() -> Callable[[str], str]:
    """The ``unique_name(prefix)`` helper, as a fixture."""
    return unique_name


@pytest.fixture(scope="session")
def service_settings() -> Settings:
    """The settings the service fixtures use (read once per session from WHISTLE_*)."""
    return Settings()


@pytest.fixture(scope="session")
def kafka_bootstrap(service_settings: Settings) -> str:
    """Bootstrap address of a broker that answers metadata (the local one is started)."""
    try:
        kafka_up(service_settings)
    except ServiceError as error:
        _unavailable(f"Kafka unavailable: {error}")
    if not kafka.answers(service_settings.bootstrap, 5.0):
        _unavailable(f"Kafka at {service_settings.bootstrap} does not answer metadata requests")
    return service_settings.bootstrap


@pytest.fixture(scope="session")
def database_url(service_settings: Settings) -> str:
    """DSN of the application database on a server that answers (the local one is started)."""
    try:
        postgres_up(service_settings)
    except ServiceError as error:
        _unavailable(f"PostgreSQL unavailable: {error}")
    if not postgres.answers(service_settings.dsn):
        where = redacted_dsn(service_settings.dsn)
        _unavailable(f"PostgreSQL at {where} does not answer `select 1`")
    return service_settings.dsn


@pytest.fixture
async def fresh_database(database_url: str) -> AsyncIterator[str]:
    """A new empty database for one test (dropped afterwards); yields its DSN."""
    name = unique_name("test").replace("-", "_")
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'create database "{name}"')
    finally:
        await admin.close()
    try:
        yield with_database(database_url, name)
    finally:
        admin = await asyncpg.connect(database_url)
        try:
            await admin.execute(f'drop database if exists "{name}" with (force)')
        finally:
            await admin.close()

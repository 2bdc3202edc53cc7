"""Load shedding: requests over the in-flight bounds and requests that find Kafka or PostgreSQL
unreachable are answered at once, 429 or 503 problem+json with Retry-After, never 500."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

from tests.unit.api.conftest import auth
from tests.unit.api.fakes import FakeBus, FakeRead, fake_services
from whistle.api.app import create_app
from whistle.api.deps import Services
from whistle.bus import Decision
from whistle.settings import Settings

ACK = {"department": "urban_management"}


class HeldBus(FakeBus):
    """Commands wait until released (a slow decider), or raise ``error``."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.waiting = 0
        self.error: BaseException | None = None

    async def submit(self, command: Any, case_id: str, command_id: str) -> Decision:
        if self.error is not None:
            raise self.error
        self.waiting += 1
        await self.release.wait()
        return await super().submit(command, case_id, command_id)


@pytest.fixture
def services() -> Services:
    """Fakes with a bus that can be held."""
    services = fake_services()
    services.bus = HeldBus()
    return services


@pytest.fixture
async def small(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """An app with room for two commands and two reads at a time."""
    settings = Settings(api_max_inflight_commands=2, api_max_inflight_reads=2, api_retry_after_s=3)
    app = create_app(settings, services=services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http


async def _until(predicate: Any) -> None:
    for _ in range(200):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met")


async def test_commands_over_the_bound_are_shed_with_retry_after(
    small: httpx.AsyncClient, services: Services
) -> None:
    bus = services.bus
    assert isinstance(bus, HeldBus)
    headers = auth("tok-liaison-in")
    held = [
        asyncio.create_task(small.post("/v1/cases/WH-IN/acknowledge", json=ACK, headers=headers))
        for _ in range(2)
    ]
    await _until(lambda: bus.waiting == 2)
    shed = await small.post("/v1/cases/WH-IN/acknowledge", json=ACK, headers=headers)
    assert shed.status_code == 429
    assert shed.headers["retry-after"] == "3"
    assert shed.headers["content-type"] == "application/problem+json"
    assert shed.json()["code"] == "overloaded"
    assert shed.json()["status"] == 429
    read = await small.get("/v1/cases/WH-IN", headers=headers)
    assert read.status_code == 200, "reads have their own bound"
    assert (await small.get("/healthz")).status_code == 200
    bus.release.set()
    assert [r.status_code for r in await asyncio.gather(*held)] == [200, 200]
    again = await small.post("/v1/cases/WH-IN/acknowledge", json=ACK, headers=headers)
    assert again.status_code == 200, "the places are given back"


async def test_open311_is_shed_with_its_own_error_shape(
    small: httpx.AsyncClient, services: Services
) -> None:
    bus = services.bus
    assert isinstance(bus, HeldBus)
    headers = auth("tok-liaison-in")
    held = [
        asyncio.create_task(small.post("/v1/cases/WH-IN/acknowledge", json=ACK, headers=headers))
        for _ in range(2)
    ]
    await _until(lambda: bus.waiting == 2)
    form = {"api_key": "tok-sec-in", "service_code": "noise", "lat": "24.7", "long": "118.1"}
    shed = await small.post("/open311/v2/requests.json", data=form)
    assert shed.status_code == 429
    assert shed.headers["retry-after"] == "3"
    assert shed.json() == [{"code": 429, "description": shed.json()[0]["description"]}]
    bus.release.set()
    await asyncio.gather(*held)


@pytest.mark.parametrize(
    "error", [KafkaTimeoutError(), KafkaConnectionError("broker down")], ids=type
)
async def test_kafka_unreachable_is_503_with_retry_after(
    small: httpx.AsyncClient, services: Services, error: Exception
) -> None:
    bus = services.bus
    assert isinstance(bus, HeldBus)
    bus.error = error
    response = await small.post(
        "/v1/cases/WH-IN/acknowledge",
        json=ACK,
        headers=auth("tok-liaison-in") | {"Accept-Language": "en"},
    )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "3"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "kafka_unavailable"
    assert "Kafka" in response.json()["detail"]


class DownRead(FakeRead):
    """PostgreSQL refuses: every read raises ``error``."""

    error: BaseException = ConnectionRefusedError(111, "Connection refused")

    async def case_scope(self, case_id: str) -> Any:
        raise self.error

    async def case(self, case_id: str) -> Any:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connection refused"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.TooManyConnectionsError("too many clients"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_postgres_unreachable_is_503_with_retry_after(
    small: httpx.AsyncClient, services: Services, error: BaseException
) -> None:
    services.read = DownRead()
    DownRead.error = error
    response = await small.get("/v1/cases/WH-IN", headers=auth("tok-sec-in"))
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "3"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] in {"postgres_unavailable", "dependency_unavailable"}

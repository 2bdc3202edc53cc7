"""Liveness and readiness."""

from __future__ import annotations

import httpx

from tests.unit.api.fakes import FakeKafka, FakeRead
from whistle.api.deps import Services


async def test_healthz_is_alive(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.json() == {"status": "ok"}
    assert response.headers["server-timing"].startswith("app;dur=")


async def test_readyz_when_everything_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"


async def test_readyz_fails_on_kafka_database_or_lag(
    client: httpx.AsyncClient, services: Services
) -> None:
    kafka = services.kafka_probe
    assert isinstance(kafka, FakeKafka)
    kafka.up = False
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["kafka"]["ok"] is False
    kafka.up = True
    read = services.read
    assert isinstance(read, FakeRead)
    read.down = True
    assert (await client.get("/readyz")).json()["checks"]["postgres"]["ok"] is False
    read.down = False
    read.checkpoints.append({"high_watermark": 101, "next_offset": 0, "last_event_at": None})
    lagging = await client.get("/readyz")
    assert lagging.status_code == 503
    assert lagging.json()["checks"]["projection_lag"] == {
        "ok": False,
        "max_events": 100,
        "events": 101,
        "seconds": 0.0,
    }

"""The delivery worker, off a real Kafka topic, to a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from tests.conftest import unique_name
from tests.integration.webhooks.receiver import Receiver, running_receiver
from whistle.domain.base import SYSTEM, Actor, event_id_for
from whistle.domain.codec import encode
from whistle.domain.events import CaseRouted, ClockBreached, WhistleRaised
from whistle.settings import Settings
from whistle.topics import CASE_EVENTS, ensure_topics
from whistle.webhooks.delivery_store import WebhookStore
from whistle.webhooks.schema import ensure_schema
from whistle.webhooks.secretbox import SecretBox
from whistle.webhooks.signing import new_secret, verify
from whistle.webhooks.worker import DeliveryWorker

pytestmark = pytest.mark.integration

SECRETARY = Actor(user_id="sec-jinhai", role="secretary", area="tongan.datong.jinhai")
URBAN = "urban_management"
POLICE = "public_security"


def raised(case_id: str) -> WhistleRaised:
    """A parking whistle in 金海社区."""
    now = datetime.now(UTC)
    return WhistleRaised(
        event_id=event_id_for(f"{case_id}-raise", 1),
        case_id=case_id,
        seq=1,
        occurred_at=now,
        actor=SECRETARY,
        command_id=f"{case_id}-raise",
        community="tongan.datong.jinhai",
        category="parking",
        title="滨海步道违停",
        urgency="general",
        channel="whistle",
        address="金海社区滨海步道",
    )


def routed(case_id: str, lead: str, *supporting: str) -> CaseRouted:
    """The router's dispatch to ``lead`` and ``supporting``."""
    return CaseRouted(
        event_id=event_id_for(f"{case_id}-route", 2),
        case_id=case_id,
        seq=2,
        occurred_at=datetime.now(UTC),
        actor=SYSTEM,
        command_id=f"{case_id}-route",
        lead=lead,
        supporting=supporting,
        rule_id="parking",
        rules_version="test",
        policy="default",
        clocks=(),
    )


def breached(case_id: str, department: str) -> ClockBreached:
    """Nobody acknowledged for ``department``."""
    now = datetime.now(UTC)
    return ClockBreached(
        event_id=event_id_for(f"{case_id}-breach", 3),
        case_id=case_id,
        seq=3,
        occurred_at=now,
        actor=SYSTEM,
        command_id=f"{case_id}-breach",
        clock_key=f"ack:{department}",
        kind="ack",
        department=department,
        due_at=now,
        lateness="PT1S",
    )


@dataclass
class Rig:
    """Topic, database, store and receiver of one test."""

    settings: Settings
    store: WebhookStore
    receiver: Receiver
    producer: AIOKafkaProducer

    async def publish(self, *events: Any) -> None:
        """Append events to the case-events topic, keyed by case id."""
        for event in events:
            await self.producer.send_and_wait(
                self.settings.topic(CASE_EVENTS.name),
                key=event.case_id.encode(),
                value=encode(event),
            )

    async def add(self, department: str, path: str) -> tuple[int, str]:
        """Register an endpoint on the receiver; return its id and secret."""
        secret = new_secret()
        return await self.store.add_endpoint(department, self.receiver.url + path, secret), secret

    async def deliveries(self) -> list[asyncpg.Record]:
        """The delivery rows."""
        return await self.store.pool.fetch("SELECT * FROM webhooks.deliveries ORDER BY 1")


@pytest.fixture
async def rig(kafka_bootstrap: str, fresh_database: str, tmp_path: Path) -> AsyncIterator[Rig]:
    """A fresh topic prefix and database, the webhooks schema, and a running receiver."""
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap,
        database_url=fresh_database,
        topic_prefix=unique_name("wh"),
        partitions=2,
        state_dir=tmp_path,
    )
    await ensure_topics(settings, (CASE_EVENTS,))
    pool = await asyncpg.create_pool(fresh_database, min_size=1, max_size=8)
    async with pool.acquire() as conn:
        await ensure_schema(conn)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        async with running_receiver() as receiver:
            yield Rig(settings, WebhookStore(pool, SecretBox("test-key")), receiver, producer)
    finally:
        await producer.stop()
        await pool.close()


@asynccontextmanager
async def worker(rig: Rig, delays: tuple[int, ...] = (0, 1, 1)) -> AsyncIterator[DeliveryWorker]:
    """A delivery worker running for the block."""
    stop = asyncio.Event()
    running = DeliveryWorker(rig.settings, rig.store, delays=delays, timeout_s=5.0)
    task = asyncio.create_task(running.run(stop))
    try:
        yield running
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def eventually(check: Any, timeout_s: float = 20.0) -> Any:
    """Poll an async ``check`` until it returns something truthy (bounded)."""
    for _ in range(int(timeout_s / 0.1)):
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def test_a_routed_department_receives_a_signed_cloudevent(rig: Rig) -> None:
    _, urban_secret = await rig.add(URBAN, "/urban")
    await rig.add(POLICE, "/police")
    await rig.add("water", "/water")
    case_id = f"WH-{uuid.uuid4().hex[:8]}"
    async with worker(rig):
        await rig.publish(raised(case_id), routed(case_id, URBAN, POLICE))
        got = await rig.receiver.wait_for("/urban", 1)
        await rig.receiver.wait_for("/police", 1)
    assert len(got) == 1
    request = got[0]
    verify(urban_secret, request.headers, request.body)
    assert request.headers["content-type"] == "application/cloudevents+json"
    assert request.headers["webhook-id"] == routed(case_id, URBAN).event_id
    cloudevent = json.loads(request.body)
    assert cloudevent["specversion"] == "1.0"
    assert cloudevent["id"] == request.headers["webhook-id"]
    assert cloudevent["department"] == URBAN
    assert cloudevent["caseid"] == case_id
    assert cloudevent["acknowledgepath"] == f"/v1/cases/{case_id}/acknowledge"
    assert rig.receiver.on("/water") == []  # not routed there
    delivered = REGISTRY.get_sample_value(
        "whistle_webhook_attempts_total", {"outcome": "delivered"}
    )
    assert delivered is not None and delivered >= 2  # /metrics of `whistle webhooks deliver`


async def test_a_replayed_log_never_delivers_twice(rig: Rig) -> None:
    await rig.add(URBAN, "/urban")
    case_id = f"WH-{uuid.uuid4().hex[:8]}"
    await rig.publish(raised(case_id), routed(case_id, URBAN), breached(case_id, URBAN))
    async with worker(rig):
        await rig.receiver.wait_for("/urban", 2)
    await rig.store.pool.execute("DELETE FROM webhooks.checkpoints")  # replay from the start
    await rig.store.pool.execute("DELETE FROM webhooks.case_departments")  # forget it all
    async with worker(rig):
        await rig.publish(breached(case_id, URBAN))  # the same event again
        await asyncio.sleep(3)
    assert len(rig.receiver.on("/urban")) == 2
    assert len(await rig.deliveries()) == 2


async def test_410_disables_the_endpoint_and_dead_letters_the_delivery(rig: Rig) -> None:
    endpoint_id, _ = await rig.add(URBAN, "/gone")
    rig.receiver.answers["/gone"] = [(410, {})]
    case_id = f"WH-{uuid.uuid4().hex[:8]}"
    async with worker(rig):
        await rig.publish(raised(case_id), routed(case_id, URBAN))
        await rig.receiver.wait_for("/gone", 1)

        async def disabled() -> bool:
            endpoint = await rig.store.endpoint(endpoint_id)
            return endpoint is not None and not endpoint.enabled

        await eventually(disabled)
        await rig.publish(breached(case_id, URBAN))
        await asyncio.sleep(2)
    assert len(rig.receiver.on("/gone")) == 1  # nothing more once disabled
    [delivery] = await rig.deliveries()
    assert (delivery["status"], delivery["last_status_code"]) == ("dead", 410)


async def test_failures_are_retried_then_dead_lettered_then_redelivered_by_hand(
    rig: Rig,
) -> None:
    await rig.add(URBAN, "/flaky")
    rig.receiver.answers["/flaky"] = [(503, {"retry-after": "1"}), (500, {}), (500, {})]
    case_id = f"WH-{uuid.uuid4().hex[:8]}"
    async with worker(rig, delays=(0, 1, 1)):
        await rig.publish(raised(case_id), routed(case_id, URBAN))
        await rig.receiver.wait_for("/flaky", 3)

        async def dead() -> list[asyncpg.Record]:
            return [d for d in await rig.deliveries() if d["status"] == "dead"]

        [letter] = await eventually(dead)
        attempts = await rig.store.attempts(letter["delivery_id"])
        assert [a["status_code"] for a in attempts] == [503, 500, 500]
        assert await rig.store.redeliver(letter["delivery_id"])
        await rig.receiver.wait_for("/flaky", 4)

        async def delivered() -> bool:
            return [d["status"] for d in await rig.deliveries()] == ["delivered"]

        await eventually(delivered)
    ids = {r.headers["webhook-id"] for r in rig.receiver.on("/flaky")}
    assert len(ids) == 1  # the same webhook-id every time: receivers can dedupe


async def test_during_rotation_deliveries_verify_with_either_secret(rig: Rig) -> None:
    from datetime import timedelta

    endpoint_id, old = await rig.add(URBAN, "/rot")
    new = new_secret()
    await rig.store.rotate(endpoint_id, new, timedelta(hours=1))
    case_id = f"WH-{uuid.uuid4().hex[:8]}"
    async with worker(rig):
        await rig.publish(raised(case_id), routed(case_id, URBAN))
        [request] = await rig.receiver.wait_for("/rot", 1)
    verify(old, request.headers, request.body)
    verify(new, request.headers, request.body)


async def test_a_failing_consumer_stops_the_worker_instead_of_idling(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("database went away")

    monkeypatch.setattr("whistle.webhooks.worker.enqueue", broken)
    await rig.add(URBAN, "/urban")
    case_id = f"WH-{uuid.uuid4().hex[:8]}"
    await rig.publish(raised(case_id), routed(case_id, URBAN))
    running = DeliveryWorker(rig.settings, rig.store, timeout_s=5.0)
    with pytest.raises(RuntimeError, match="database went away"):
        await asyncio.wait_for(running.run(asyncio.Event()), 30)

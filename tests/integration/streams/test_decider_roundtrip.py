"""A worker process routes a raised whistle: command in, decision back, events on the log."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from tests.conftest import unique_name
from tests.service_fixtures import isolated_env, settings_of, supervised
from whistle.bus import CommandBus
from whistle.domain import Actor, RaiseWhistle, load_rules
from whistle.topics import CASE_EVENTS, ensure_topics

pytestmark = pytest.mark.integration

SECRETARY = Actor(user_id="sec-jinhai", role="secretary", area="tongan.datong.jinhai")


def raise_command(case_id: str) -> RaiseWhistle:
    """A parking whistle in 金海社区."""
    return RaiseWhistle(
        command_id=str(uuid.uuid4()),
        case_id=case_id,
        actor=SECRETARY,
        community="tongan.datong.jinhai",
        category="parking",
        title="滨海步道违停",
        address="金海社区滨海步道",
    )


async def read_events(bootstrap: str, topic: str, want: int) -> list[dict[str, object]]:
    """Read ``want`` events from the start of ``topic`` (bounded wait)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    events: list[dict[str, object]] = []
    try:
        for _ in range(60):
            batch = await consumer.getmany(timeout_ms=500)
            events += [json.loads(r.value) for rs in batch.values() for r in rs]
            if len(events) >= want:
                break
    finally:
        await consumer.stop()
    return events


async def test_a_raised_whistle_is_decided_and_routed(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    env = isolated_env(tmp_path, kafka_bootstrap, database_url, unique_name("t"))
    settings = settings_of(env)
    await ensure_topics(settings)
    with supervised(tmp_path, env) as supervisor:
        supervisor.start("worker", "worker")
        bus = CommandBus(settings.model_copy(update={"reply_timeout_s": 60.0}))
        await bus.start()
        try:
            command = raise_command("WH-TEST-1")
            decision = await bus.submit(command, command.case_id, command.command_id)
            again = await bus.submit(command, command.case_id, command.command_id)
        finally:
            await bus.stop()
        assert decision.status == "accepted"
        assert [e["type"] for e in decision.events] == ["WhistleRaised"]
        assert again.status == "duplicate"
        events = await read_events(kafka_bootstrap, settings.topic(CASE_EVENTS.name), 2)
    assert [(e["type"], e["seq"]) for e in events] == [("WhistleRaised", 1), ("CaseRouted", 2)]
    assert events[1]["lead"] == load_rules().match("parking", "tongan.datong.jinhai").lead

"""Malformed and unknown records go to the dead-letter topic with a reason; the stream goes on.

Bad commands are caught by the worker's decider; bad events on the log by the projector, the
log's reader (the worker itself only writes the event log).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from projections.migrate import LIVE_SCHEMA
from tests.conftest import unique_name
from tests.integration.streams.test_decider_roundtrip import raise_command
from tests.logcheck import read_topic
from tests.service_fixtures import isolated_env, settings_of, supervised
from whistle.domain import encode
from whistle.topics import CASE_COMMANDS, CASE_EVENTS, DEAD_LETTERS, ensure_topics

pytestmark = pytest.mark.integration

POISON_COMMANDS = [
    b"\xff\xfe not json",
    b'{"type": "LaunchRocket", "command_id": "x", "case_id": "P-1"}',
    b'{"type": "RaiseWhistle", "command_id": "x", "case_id": "P-2"}',
]
POISON_EVENTS = [
    b"[1, 2",
    json.dumps({"type": "WhistleRaised", "schema_version": 99, "case_id": "P-3"}).encode(),
]


async def test_poison_records_are_dead_lettered_and_the_stream_goes_on(
    kafka_bootstrap: str, fresh_database: str, tmp_path: Path
) -> None:
    env = isolated_env(tmp_path, kafka_bootstrap, fresh_database, unique_name("poison"))
    settings = settings_of(env)
    await ensure_topics(settings)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for value in POISON_COMMANDS:
            await producer.send_and_wait(settings.topic(CASE_COMMANDS.name), value, b"P")
        for value in POISON_EVENTS:
            await producer.send_and_wait(settings.topic(CASE_EVENTS.name), value, b"P")
        good = raise_command("P-GOOD")
        await producer.send_and_wait(
            settings.topic(CASE_COMMANDS.name), encode(good), good.case_id.encode()
        )
    finally:
        await producer.stop()
    with supervised(tmp_path, env) as supervisor:
        supervisor.start("worker", "worker")
        supervisor.start("projector", "projector")
        dead = await read_dead_letters(kafka_bootstrap, settings.topic(DEAD_LETTERS.name), 5)
        routed = await wait_for_routed(kafka_bootstrap, settings.topic(CASE_EVENTS.name))
        projected = await wait_for_projected(fresh_database, "P-GOOD")
    assert projected == "routed"  # the projector went on past the bad events
    assert sorted(value for value, _ in dead) == sorted(POISON_COMMANDS + POISON_EVENTS)
    assert all(headers.get("reason") for _, headers in dead)
    assert routed == "P-GOOD"


async def read_dead_letters(
    bootstrap: str, topic: str, want: int
) -> list[tuple[bytes, dict[str, str]]]:
    """The first ``want`` dead letters with their headers (bounded wait)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", metadata_max_age_ms=500
    )
    await consumer.start()
    found: list[tuple[bytes, dict[str, str]]] = []
    try:
        for _ in range(120):
            batch = await consumer.getmany(timeout_ms=500)
            for record in (r for rs in batch.values() for r in rs):
                headers = {k: v.decode() for k, v in record.headers}
                found.append((record.value or b"", headers))
            if len(found) >= want:
                break
    finally:
        await consumer.stop()
    return found


async def wait_for_routed(bootstrap: str, topic: str) -> str:
    """The case id of the first CaseRouted on the log (bounded wait)."""
    for _ in range(60):
        for event in await read_topic(bootstrap, topic):
            if isinstance(event, dict) and event.get("type") == "CaseRouted":
                return str(event["case_id"])
        await asyncio.sleep(0.5)
    raise AssertionError("the good whistle was never routed")


async def wait_for_projected(dsn: str, case_id: str) -> str:
    """The projected status of ``case_id`` once it is routed (bounded wait)."""
    for _ in range(120):
        try:
            conn = await asyncpg.connect(dsn)
        except (OSError, asyncpg.PostgresError):
            await asyncio.sleep(0.5)
            continue
        try:
            status = await conn.fetchval(
                f"select status from {LIVE_SCHEMA}.cases where case_id = $1", case_id
            )
        except asyncpg.UndefinedTableError:
            status = None  # not migrated yet
        finally:
            await conn.close()
        if status == "routed":
            return str(status)
        await asyncio.sleep(0.5)
    raise AssertionError(f"{case_id} was never projected as routed")

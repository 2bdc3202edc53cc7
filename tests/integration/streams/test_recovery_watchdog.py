"""A worker whose table recovery stalls starts its Faust process again, and then recovers.

The stall is real: the changelog partition the worker recovers ends with a transaction's commit
marker. The marker takes an offset, so the partition's highwater counts it, but a consumer is
never handed it as a record, and Faust (without ``exactly_once``) waits for that offset for ever.
The test then appends a record to the partition, so the next recovery has a last offset it can
read, and checks that the worker, still the same process, recovers and decides every command
once.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from tests.conftest import unique_name
from tests.integration.streams.test_decider_roundtrip import raise_command
from tests.integration.streams.test_kill import distinct
from tests.logcheck import check_log, read_topic
from tests.service_fixtures import isolated_env, settings_of, supervised
from whistle.domain import encode
from whistle.topics import CASE_COMMANDS, CASE_EVENTS, changelog_topic, ensure_topics

pytestmark = pytest.mark.integration

STALL_S = 8
PROBE = b"recovery-watchdog-probe"


async def end_with_a_commit_marker(bootstrap: str, topic: str, partition: int) -> None:
    """One record (a tombstone of a key no case has) in a committed transaction: the
    partition's last offset is then the commit marker."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, transactional_id=f"{topic}-probe", enable_idempotence=True
    )
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send(topic, None, key=PROBE, partition=partition)
    finally:
        await producer.stop()


async def append(bootstrap: str, topic: str, partition: int) -> None:
    """One more such tombstone, outside a transaction: now the last offset is a record."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, None, key=PROBE, partition=partition)
    finally:
        await producer.stop()


async def raise_whistles(bootstrap: str, topic: str, case_ids: list[str]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for case_id in case_ids:
            await producer.send_and_wait(topic, encode(raise_command(case_id)), case_id.encode())
    finally:
        await producer.stop()


def log_lines(log: Path, event: str) -> list[dict[str, Any]]:
    """The worker's structured log lines of ``event``."""
    if not log.exists():
        return []
    return [
        json.loads(line)
        for line in log.read_text().splitlines()
        if line.startswith("{") and f'"{event}"' in line
    ]


async def until_logged(log: Path, event: str, count: int = 1, bound_s: float = 240) -> None:
    for _ in range(int(bound_s * 2)):
        if len(log_lines(log, event)) >= count:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"no {event} in {log} after {bound_s:.0f} s")


async def until_routed(bootstrap: str, topic: str, case_ids: set[str]) -> list[dict[str, Any]]:
    for _ in range(240):
        events = await read_topic(bootstrap, topic)
        routed = {e["case_id"] for e in distinct(events) if e["type"] == "CaseRouted"}
        if case_ids <= routed:
            return events
        await asyncio.sleep(0.5)
    raise AssertionError(f"not routed: {sorted(case_ids - routed)}")


async def test_a_stalled_recovery_restarts_the_worker_which_then_recovers(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    env = isolated_env(tmp_path, kafka_bootstrap, database_url, unique_name("stall"), 2)
    env["WHISTLE_WORKER_RECOVERY_STALL_S"] = str(STALL_S)
    settings = settings_of(env)
    await ensure_topics(settings)
    changelog = changelog_topic(settings, "cases")
    await end_with_a_commit_marker(kafka_bootstrap, changelog, 0)
    commands = settings.topic(CASE_COMMANDS.name)
    before = [f"W-{i}" for i in range(6)]
    await raise_whistles(kafka_bootstrap, commands, before)
    log = tmp_path / "logs" / "worker-1.log"
    with supervised(tmp_path, env) as supervisor:
        supervisor.start("worker-1", "worker", "--id", "worker-1")
        await until_logged(log, "table_recovery_stalled")
        stall = log_lines(log, "table_recovery_stalled")[0]
        # Faust reads up to the marker's offset (1) and has applied the record before it (0).
        assert {"topic": changelog, "partition": 0, "offset": 0, "highwater": 1} in stall["behind"]
        assert stall["stalled_s"] >= STALL_S and stall["action"] == "restart"
        assert log_lines(log, "deadlines_rebuilt") == []  # nothing was recovered, nothing fired
        await append(kafka_bootstrap, changelog, 0)
        await until_logged(log, "worker_restart")
        await until_logged(log, "deadlines_rebuilt")
        assert log_lines(log, "deadlines_rebuilt")[-1]["partitions"] == [0, 1]
        after = [f"W-{i}" for i in range(6, 12)]
        await raise_whistles(kafka_bootstrap, commands, after)
        log_topic = settings.topic(CASE_EVENTS.name)
        events = await until_routed(kafka_bootstrap, log_topic, {*before, *after})
        supervisor.check_alive()  # the worker process itself never exited
    report = check_log(events)
    assert not report.gaps and not report.conflicts and not report.repeated_commands
    kinds = Counter(e["type"] for e in distinct(events))
    assert kinds["WhistleRaised"] == kinds["CaseRouted"] == 12

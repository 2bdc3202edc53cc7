"""Three workers share the partitions; one dies for good and its deadlines still fire, once."""

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
from tests.integration.streams.test_kill import assert_deadlines_fired_once, distinct, until_serving
from tests.logcheck import check_log, read_topic
from tests.service_fixtures import free_port, isolated_env, settings_of, supervised
from tests.short_sla_policies import SUPERVISION_AFTER_S, write_short_sla_policies
from whistle.domain import encode
from whistle.topics import CASE_COMMANDS, CASE_EVENTS, ensure_topics

pytestmark = pytest.mark.integration

WORKERS = 3
CASES = 60
ACK_WITHIN_S = 20


async def test_a_dead_workers_partitions_and_deadlines_move_to_the_others(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    env = isolated_env(tmp_path, kafka_bootstrap, database_url, unique_name("scale"), 6)
    env["WHISTLE_SLA_POLICIES_FILE"] = str(write_short_sla_policies(tmp_path, ACK_WITHIN_S))
    # A survivor whose recovery of the dead worker's partitions stalls (CI trial 4, 12-03)
    # starts its Faust process again after this long, within the waits below.
    env["WHISTLE_WORKER_RECOVERY_STALL_S"] = "30"
    settings = settings_of(env)
    await ensure_topics(settings)
    ports = [free_port() for _ in range(WORKERS)]
    with supervised(tmp_path, env) as supervisor:
        for n, port in enumerate(ports, start=1):
            supervisor.start(
                f"worker-{n}", "worker", "--id", f"worker-{n}", "--web-port", str(port)
            )
        await asyncio.gather(*(until_serving(port) for port in ports))
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            for i in range(CASES):
                command = raise_command(f"S-{i}")
                await producer.send_and_wait(
                    settings.topic(CASE_COMMANDS.name), encode(command), command.case_id.encode()
                )
        finally:
            await producer.stop()
        log = settings.topic(CASE_EVENTS.name)
        await wait_routed(kafka_bootstrap, log)
        await until_each_owns_some(tmp_path / "logs")  # else worker-2 dies owning nothing
        supervisor.kill("worker-2")  # its deadlines are still pending: due ACK_WITHIN_S after
        await asyncio.sleep(ACK_WITHIN_S + SUPERVISION_AFTER_S + settings.session_timeout_s + 10)
        events = await read_topic(kafka_bootstrap, log)
        for _ in range(30):  # a busy box may take longer to rebalance: wait (bounded) for the rest
            if all_fired(distinct(events)):
                await asyncio.sleep(5)  # and long enough for a second firing to show
                events = await read_topic(kafka_bootstrap, log)
                break
            await asyncio.sleep(2)
            events = await read_topic(kafka_bootstrap, log)
        survivors = [last_owned(tmp_path / "logs" / f"worker-{n}.log") for n in (1, 3)]
    report = check_log(events)
    assert not report.gaps and not report.conflicts and not report.repeated_commands
    unique = distinct(events)
    kinds = Counter(e["type"] for e in unique)
    assert kinds["CaseRouted"] == CASES
    assert kinds["ClockBreached"] > 0
    assert_deadlines_fired_once(unique)
    assert set().union(*survivors) == set(range(6)), f"survivors own {survivors}"


def all_fired(events: list[dict[str, Any]]) -> bool:
    """Whether every unmet ack clock of a routed case has breached and its rungs escalated."""
    try:
        assert_deadlines_fired_once(events)
    except AssertionError:
        return False
    return True


def last_owned(log: Path) -> set[int]:
    """The partitions a worker said it owned the last time its assignment changed."""
    owned: set[int] = set()
    for line in log.read_text().splitlines():
        if line.startswith("{") and '"deadlines_rebuilt"' in line:
            owned = set(json.loads(line)["partitions"])
    return owned


async def until_each_owns_some(logs: Path) -> None:
    """Until the workers share the partitions, each owning some (bounded): on a busy box the
    last one can join the group after every whistle is routed."""
    for _ in range(240):
        owned = [last_owned(logs / f"worker-{n}.log") for n in range(1, WORKERS + 1)]
        if all(owned) and sum(map(len, owned)) == len(set().union(*owned)) == 6:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"the workers never shared the partitions: {owned}")


async def wait_routed(bootstrap: str, topic: str) -> None:
    """Until every raised whistle is routed (bounded)."""
    for _ in range(120):
        kinds = Counter(e["type"] for e in distinct(await read_topic(bootstrap, topic)))
        if kinds["CaseRouted"] == CASES:
            return
        await asyncio.sleep(0.5)
    raise AssertionError("not every whistle was routed")

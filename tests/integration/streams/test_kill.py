"""SIGKILL the worker at random moments under load: nothing lost, nothing applied twice.

Whistles are raised steadily (and half of them acknowledged by their lead department) while the
worker is killed and restarted several times. Deadlines are seconds long, so they come due while
the worker is dead too. Afterwards the log must show: every whistle raised and routed once, each
case's events gap-free with one event per seq, each command's events in one unbroken run, every
unacknowledged clock breached exactly once, and every ladder rung fired once.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.conftest import unique_name
from tests.integration.streams.test_decider_roundtrip import raise_command
from tests.logcheck import check_log, read_topic
from tests.service_fixtures import isolated_env, settings_of, supervised
from tests.short_sla_policies import ACK_WITHIN_S, SUPERVISION_AFTER_S, write_short_sla_policies
from whistle.domain import Acknowledge, Actor, encode, load_rules
from whistle.service.process_supervisor import Supervisor
from whistle.topics import CASE_COMMANDS, CASE_EVENTS, ensure_topics

pytestmark = pytest.mark.integration

CASES = int(os.environ.get("WHISTLE_KILL_CASES", "150"))
KILLS = int(os.environ.get("WHISTLE_KILL_CYCLES", "3"))
LEAD = load_rules().match("parking", "tongan.datong.jinhai").lead
# The acknowledger's bound; it ends as soon as half the cases are acknowledged (seconds when the
# machine is idle, minutes when a CI box is busy; worker restarts are what takes the time).
ACK_PHASE_S = 420.0


async def send_load(bootstrap: str, topic: str, prefix: str, seconds: float) -> None:
    """Raise CASES whistles over ``seconds``."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for i in range(CASES):
            case_id = f"{prefix}-{i}"
            await producer.send_and_wait(topic, encode(raise_command(case_id)), case_id.encode())
            await asyncio.sleep(seconds / CASES)
    finally:
        await producer.stop()


async def acknowledge_routed(bootstrap: str, events: str, commands: str, seconds: float) -> int:
    """As the lead liaison would: acknowledge every second case once it shows up routed."""
    liaison = Actor(user_id="liaison", role="liaison", department=LEAD)
    consumer = AIOKafkaConsumer(
        events, bootstrap_servers=bootstrap, auto_offset_reset="earliest", metadata_max_age_ms=500
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await consumer.start()
    await producer.start()
    acked: set[str] = set()
    try:
        stop = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < stop and len(acked) < CASES // 2:
            batch = await consumer.getmany(timeout_ms=200)
            for record in (r for rs in batch.values() for r in rs):
                event = json.loads(record.value)
                case_id = event["case_id"]
                if event["type"] != "CaseRouted" or case_id in acked:
                    continue
                if int(case_id.rsplit("-", 1)[1]) % 2 == 0:
                    ack = Acknowledge(
                        command_id=f"ack-{case_id}", case_id=case_id, actor=liaison, department=LEAD
                    )
                    await producer.send_and_wait(commands, encode(ack), case_id.encode())
                    acked.add(case_id)
        return len(acked)
    finally:
        await consumer.stop()
        await producer.stop()


async def until_serving(port: int) -> None:
    """Wait until the worker's web server answers.

    It answers early in start-up, before the worker has joined its group and recovered its
    table, so the kills that follow land in start-up, recovery and steady work alike.
    """
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            try:
                if (await client.get(f"http://127.0.0.1:{port}/metrics")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the worker never started serving")


async def kill_repeatedly(supervisor: Supervisor, port: int, rng: random.Random) -> None:
    """SIGKILL the worker KILLS times at random moments while it works, restarting it."""
    for _ in range(KILLS):
        await until_serving(port)
        await asyncio.sleep(rng.uniform(0.2, 2.5))
        supervisor.kill("worker")
        await asyncio.sleep(rng.uniform(0.0, 1.0))
        supervisor.start("worker", "worker")


def distinct(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One event per (case, seq)."""
    return list({(e["case_id"], e["seq"]): e for e in events}.values())


async def test_killing_the_worker_loses_and_duplicates_nothing(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    env = isolated_env(tmp_path, kafka_bootstrap, database_url, unique_name("kill"))
    env["WHISTLE_SLA_POLICIES_FILE"] = str(write_short_sla_policies(tmp_path))
    settings = settings_of(env)
    await ensure_topics(settings)
    rng = random.Random(int(os.environ.get("WHISTLE_KILL_SEED", "7")))
    with supervised(tmp_path, env) as supervisor:
        supervisor.start("worker", "worker")
        commands, log = settings.topic(CASE_COMMANDS.name), settings.topic(CASE_EVENTS.name)
        _, acks, _ = await asyncio.gather(
            send_load(kafka_bootstrap, commands, "K", 6.0 * KILLS),
            acknowledge_routed(kafka_bootstrap, log, commands, ACK_PHASE_S),
            kill_repeatedly(supervisor, settings.worker_web_port, rng),
        )
        events = await settle(kafka_bootstrap, log)
        diagnosis = await diagnose(settings.worker_web_port, tmp_path, events)
    unique = distinct(events)
    kinds = Counter(e["type"] for e in unique)
    assert kinds["WhistleRaised"] == CASES and kinds["CaseRouted"] == CASES, diagnosis
    assert acks == CASES // 2, f"the liaison acknowledged {acks} cases, not half; {diagnosis}"
    report = check_log(events)
    assert not report.gaps, report.gaps[:5]
    assert not report.conflicts, report.conflicts[:5]
    assert not report.repeated_commands, report.repeated_commands[:5]
    print(
        f"kills={KILLS} events={report.events} redelivered={report.identical_redeliveries} {kinds}"
    )
    assert_deadlines_fired_once(unique)


async def diagnose(port: int, folder: Path, events: list[dict[str, Any]]) -> str:
    """What a failure message needs: the log's counts, cases not routed, the worker's view."""
    kinds = Counter(e["type"] for e in distinct(events))
    routed = {e["case_id"] for e in events if e["type"] == "CaseRouted"}
    unrouted = sorted({f"K-{i}" for i in range(CASES)} - routed)
    try:
        async with httpx.AsyncClient() as client:
            page = (await client.get(f"http://127.0.0.1:{port}/metrics", timeout=5)).text
        gauges = [
            line
            for line in page.splitlines()
            if line.startswith(("whistle_consumer_lag", "whistle_commands_total"))
        ]
    except httpx.HTTPError as exc:
        gauges = [f"/metrics: {exc!r}"]
    log_tail = (folder / "logs" / "worker.log").read_text(errors="replace").splitlines()[-25:]
    return "\n".join(
        [f"log: {dict(kinds)}", f"not routed: {unrouted[:20]}", *gauges, "worker log:", *log_tail]
    )


async def settle(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """The log once every case is routed and nothing changed for a whole ladder (bounded)."""
    events: list[dict[str, Any]] = []
    previous: Counter[str] | None = None
    for _ in range(40):
        await asyncio.sleep(ACK_WITHIN_S + SUPERVISION_AFTER_S)
        events = await read_topic(bootstrap, topic)
        kinds = Counter(e["type"] for e in distinct(events))
        if kinds["CaseRouted"] == CASES and kinds == previous:
            return events
        previous = kinds
    return events


def assert_deadlines_fired_once(events: list[dict[str, Any]]) -> None:
    """Each unmet ack clock breached once and escalated once per rung; met ones not at all."""
    acked = {
        (e["case_id"], e["department"]) for e in events if e["type"] == "DepartmentAcknowledged"
    }
    breaches = Counter(
        (e["case_id"], e["department"]) for e in events if e["type"] == "ClockBreached"
    )
    rungs = Counter(
        (e["case_id"], e["clock_key"], e["level"])
        for e in events
        if e["type"] == "CaseEscalated" and e.get("automatic")
    )
    assert all(n == 1 for n in breaches.values()), breaches.most_common(3)
    assert all(n == 1 for n in rungs.values()), rungs.most_common(3)
    for routed in (e for e in events if e["type"] == "CaseRouted"):
        for department in (routed["lead"], *routed["supporting"]):
            key = (routed["case_id"], department)
            if key not in acked:
                assert breaches[key] == 1, f"ack clock of {key} did not breach exactly once"

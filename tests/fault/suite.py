"""The fault suite: steady mixed traffic while workers and projectors are killed -9 and the
broker and PostgreSQL are hard-restarted; then every promise of the log is checked.

Full run (figures in docs/reliability.md):

    .venv/bin/python -m tests.fault.suite --cycles 20 --broker-restarts 3 --pg-restarts 3

It starts its own Kafka broker and PostgreSQL on free ports in a temp folder (never the shared
development services), two stream workers, a projector and a webhook deliverer, and a receiver
for the departments' webhooks. Exit status 0 when nothing was lost or applied twice.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from projections.rebuild import check
from tests.fault.nemesis import FaultLog, Fleet, Plan, unleash, watch
from tests.fault.receiver import WireCount, receiving
from tests.fault.services import PrivateServices
from tests.fault.traffic import Ledger, steady_traffic
from tests.fault.verdict import (
    Verdict,
    distinct,
    due_deadlines,
    expected_webhooks,
    judge_commands,
    judge_deadlines,
)
from tests.integration.projections.helpers import projected_offsets
from tests.integration.streams.test_kill import until_serving
from tests.logcheck import read_topic
from tests.service_fixtures import free_port, isolated_env, settings_of
from tests.short_sla_policies import write_short_sla_policies
from whistle.domain.areas import load_departments
from whistle.service.process_supervisor import Supervisor
from whistle.settings import Settings
from whistle.topics import CASE_EVENTS, ensure_topics
from whistle.webhooks.schema import ensure_schema
from whistle.webhooks.signing import new_secret
from whistle.webhooks.worker import open_store

ALL_TARGETS = ("worker-1", "worker-2", "projector", "webhooks")
SETTLE_S = 420.0


@dataclass(frozen=True)
class Options:
    """What to do: faults, traffic rate, seed."""

    cycles: int = 20
    broker_restarts: int = 3
    pg_restarts: int = 3
    rate_per_s: float = 3.0
    seed: int = 7
    partitions: int = 6
    targets: tuple[str, ...] = ALL_TARGETS
    keep: bool = False
    gap_s: tuple[float, float] = (1.0, 5.0)
    """Pause before each fault (random within the range)."""


def say(text: str) -> None:
    """A progress line with the time."""
    print(f"{time.strftime('%X')} {text}", flush=True)


def environment(services: PrivateServices, folder: Path, partitions: int) -> dict[str, str]:
    """WHISTLE_* for the children: private services, fast SLA policies, a fixed secret key."""
    env = isolated_env(folder, services.bootstrap, services.dsn, "fault", partitions)
    env["WHISTLE_SLA_POLICIES_FILE"] = str(write_short_sla_policies(folder))
    env["WHISTLE_SECRET_KEY"] = base64.urlsafe_b64encode(os.urandom(32)).decode()
    env["WHISTLE_REPLY_TIMEOUT_S"] = "15"
    return env


async def register_endpoints(settings: Settings, url: str) -> None:
    """One webhook endpoint per department, all pointing at the test receiver."""
    store = await open_store(settings, min_size=1, max_size=2)
    try:
        async with store.pool.acquire() as conn:
            await ensure_schema(conn)
        for department in load_departments():
            await store.add_endpoint(department, url, new_secret())
    finally:
        await store.pool.close()


def fleet_of(settings: Settings, env: dict[str, str], logs: Path) -> Fleet:
    """Two stream workers, a projector and a webhook deliverer."""
    second = str(free_port())
    commands = {
        "worker-1": ("worker", "--id", "worker-1"),
        "worker-2": ("worker", "--id", "worker-2", "--web-port", second),
        "projector": ("projector",),
        "webhooks": ("webhooks", "deliver"),
    }
    ports = {"worker-1": settings.worker_web_port, "worker-2": int(second)}
    return Fleet(Supervisor(settings, logs, env=env), commands, ports)


async def settle_log(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """The log once no deadline is due within a minute and nothing changed for a while."""
    deadline = time.monotonic() + SETTLE_S
    previous = -1
    while True:
        records = await read_topic(bootstrap, topic)
        soon = datetime.now(UTC) + timedelta(seconds=60)
        pending = len(due_deadlines(distinct(records), soon))
        if (not pending and len(records) == previous) or time.monotonic() > deadline:
            return records
        say(f"settling: {len(records)} records, {pending} deadlines due within a minute")
        previous = len(records)
        await asyncio.sleep(5.0)


async def settle_projector(dsn: str, topic: str, records: int) -> None:
    """Until the projector's checkpoints cover every record of the log (bounded)."""
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline:
        done = await projected_offsets(dsn, topic)
        if done >= records:
            return
        say(f"settling: projector at {done} of {records}")
        await asyncio.sleep(3.0)


async def settle_webhooks(wire: WireCount, expected: set[tuple[str, str]], dsn: str) -> None:
    """Until the receiver saw every expected delivery and every row says so (bounded).

    A delivery the receiver answered can still be ``pending`` for a while: its deliverer was
    killed, or PostgreSQL restarted, between the answer and the status update. Its lease (a
    minute) then expires and it is sent again, a duplicate on the wire, until a row records it.
    """
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline:
        missing = len(expected - set(wire.got))
        statuses = {} if missing else await deliveries_by_status(dsn)
        unfinished = {k: v for k, v in statuses.items() if k != "delivered"}
        if not missing and not unfinished.get("pending"):
            return  # anything else left (dead letters) is final: the verdict names it
        say(
            f"settling: {missing} of {len(expected)} webhooks not received yet"
            if missing
            else f"settling: deliveries not recorded as delivered yet: {unfinished}"
        )
        await asyncio.sleep(3.0)


async def deliveries_by_status(dsn: str) -> dict[str, int]:
    """Rows of webhooks.deliveries per status."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT status, count(*) AS n FROM webhooks.deliveries GROUP BY 1")
        return {r["status"]: r["n"] for r in rows}
    finally:
        await conn.close()


async def run_suite(options: Options) -> Verdict:
    """Start everything, run traffic under faults, settle, and judge."""
    began = time.monotonic()
    rng = random.Random(options.seed)
    services = PrivateServices.create()
    verdict = Verdict()
    try:
        say(f"starting a private broker and PostgreSQL in {services.root}")
        await asyncio.to_thread(services.start)
        async with receiving() as wire:
            await _run(options, services, wire, rng, verdict)
    finally:
        services.close(keep=options.keep)
    verdict.duration_s = round(time.monotonic() - began, 1)
    return verdict


async def _run(
    options: Options,
    services: PrivateServices,
    wire: WireCount,
    rng: random.Random,
    verdict: Verdict,
) -> None:
    folder = services.root / "run"
    folder.mkdir()
    env = environment(services, folder, options.partitions)
    settings = settings_of(env)
    topic = settings.topic(CASE_EVENTS.name)
    await ensure_topics(settings)
    await register_endpoints(settings, wire.url)
    fleet = fleet_of(settings, env, folder / "logs")
    ledger, faults = Ledger(), FaultLog()
    fleet.start_all()
    try:
        say("waiting for the stream workers")
        await asyncio.gather(*(until_serving(port) for port in fleet.web_ports.values()))
        stop_traffic, stop_watch = asyncio.Event(), asyncio.Event()
        watcher = asyncio.create_task(watch(fleet, stop_watch))
        traffic = asyncio.create_task(
            steady_traffic(settings, ledger, stop_traffic, options.rate_per_s, rng, "F")
        )
        plan = Plan(
            options.cycles,
            options.broker_restarts,
            options.pg_restarts,
            options.targets,
            options.gap_s,
        )
        say(
            f"traffic at {options.rate_per_s}/s; faults: {plan.cycles} kill -9 of "
            f"{plan.targets}, {plan.broker_restarts} broker, {plan.pg_restarts} PostgreSQL"
        )
        await unleash(plan, fleet, services, rng, faults)
        stop_traffic.set()
        say("faults done; waiting for the cases in flight")
        await traffic
        records = await settle_log(services.bootstrap, topic)
        await settle_projector(services.dsn, topic, len(records))
        events = distinct(records)
        expected = expected_webhooks(events)
        await settle_webhooks(wire, expected, services.dsn)
        stop_watch.set()
        await watcher
        verdict.deliveries_by_status = await deliveries_by_status(services.dsn)
    finally:
        fleet.supervisor.stop()
    judged_at = datetime.now(UTC)
    records = await read_topic(services.bootstrap, topic)
    events = distinct(records)
    judge_commands(verdict, ledger, records)
    judge_deadlines(verdict, events, judged_at)
    try:
        diffs, _ = await check(services.dsn, services.bootstrap, topic)
        verdict.projection_diffs = [str(d) for d in diffs]
    except Exception as exc:  # a broken check must not hide the other figures
        verdict.projection_diffs = [f"projections check failed: {exc!r}"]
    expected = expected_webhooks(events)
    verdict.webhook_expected = len(expected)
    verdict.webhook_missing = sorted(f"{d} {e}" for d, e in expected - set(wire.got))
    verdict.wire_received, verdict.wire_duplicates = wire.received, wire.duplicates
    verdict.faults = faults.done
    verdict.process_kills = dict(fleet.kills)
    verdict.broker_restarts = services.broker_restarts
    verdict.pg_restarts = services.postgres_restarts
    verdict.unexpected_exits = fleet.unexpected_exits


def summary(verdict: Verdict) -> str:
    """The figures docs/reliability.md records."""
    return "\n".join(
        [
            f"duration            {verdict.duration_s:.0f} s",
            f"faults              {sum(verdict.process_kills.values())} kill -9 "
            f"{verdict.process_kills}, {verdict.broker_restarts} broker and "
            f"{verdict.pg_restarts} PostgreSQL hard restarts",
            f"cases               {verdict.cases} {verdict.scripts}",
            f"commands            {verdict.commands_sent} sent by clients "
            f"({verdict.client_sends} sends, {verdict.client_timeouts} decision timeouts, "
            f"{verdict.client_send_errors} send errors), {verdict.commands_accepted} accepted, "
            f"outcomes {verdict.outcomes}, rejections {verdict.rejections}",
            f"events              {verdict.events} on the log ({verdict.log_records} records, "
            f"{verdict.redelivered_on_log} identical re-appends)",
            f"deadlines fired     {verdict.deadlines_fired} ({verdict.breaches} breaches, "
            f"{verdict.escalations} escalations)",
            f"webhooks            {verdict.webhook_expected} expected, {verdict.wire_received} "
            f"received, {verdict.wire_duplicates} duplicates on the wire, "
            f"deliveries {verdict.deliveries_by_status}",
            f"lost                {len(verdict.lost)}",
            f"duplicated effects  {len(verdict.duplicated_effects)}",
            f"projection diffs    {len(verdict.projection_diffs)}",
            f"unexpected exits    {len(verdict.unexpected_exits)} {verdict.unexpected_exits}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.fault.suite``: run it, print the figures, exit 1 on any failure."""
    parser = argparse.ArgumentParser(prog="python -m tests.fault.suite", description=__doc__)
    parser.add_argument("--cycles", type=int, default=20, help="kill -9 of a worker/projector")
    parser.add_argument("--broker-restarts", type=int, default=3)
    parser.add_argument("--pg-restarts", type=int, default=3)
    parser.add_argument("--rate", type=float, default=3.0, help="cases started per second")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--targets", default=",".join(ALL_TARGETS), help="children to kill")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder and logs")
    parser.add_argument("--json", type=Path, help="also write the verdict as JSON here")
    args = parser.parse_args(argv)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # outages are the point here
    options = Options(
        args.cycles, args.broker_restarts, args.pg_restarts, args.rate, args.seed,
        targets=tuple(args.targets.split(",")), keep=args.keep,
    )  # fmt: skip
    verdict = asyncio.run(run_suite(options))
    print(summary(verdict))
    if args.json:
        args.json.write_text(json.dumps(verdict.as_dict(), indent=2, default=str))
    failures = verdict.failures()
    for line in failures:
        print(f"FAILED: {line}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

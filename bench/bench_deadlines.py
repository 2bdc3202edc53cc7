"""Deadline firing at scale: N clocks due in the same second, routing latency meanwhile, memory
and restart time of the worker holding N open cases.

Method: N cases are raised and routed by hand-made RouteCase commands whose ack clock is due at
one instant T (resolve clocks a week later stay pending), all produced before the worker starts.
A probe raises one ordinary whistle every 100 ms throughout and times raised → routed (send to
seen-on-the-log). When T passes, every ack clock breaches: the lateness each ClockBreached event
records and the time until the last one appears are reported, with the probe's routing p99
before T and during the drain. Then the worker's RSS is read and it is restarted (SIGTERM, start)
and timed until it routes a probe whistle again.

    .venv/bin/python bench/bench_deadlines.py --cases 20000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_streams import produce_all, whistle
from tests.service_fixtures import isolated_env, settings_of, supervised
from whistle.domain import SYSTEM, ClockPlan, RouteCase, encode
from whistle.settings import get_settings
from whistle.topics import CASE_COMMANDS, CASE_EVENTS, ensure_topics


def routed_by_hand(i: int, run: str, due: datetime, now: datetime) -> RouteCase:
    """RouteCase for case i: lead 'transport', ack due at ``due``, resolve in a week."""
    clocks = tuple(
        ClockPlan(
            kind=kind,
            department="transport",
            mode="calendar",
            budget=due - now,
            started_at=now,
            due_at=at,
        )
        for kind, at in (("ack", due), ("resolve", due + timedelta(days=7)))
    )
    return RouteCase(
        command_id=f"route:B-{run}-{i}",
        case_id=f"B-{run}-{i}",
        actor=SYSTEM,
        lead="transport",
        rule_id="bench",
        rules_version="bench",
        policy="bench",
        clocks=clocks,
    )


class LogWatch:
    """Follows the event log: when each case's events were seen, and the breach latenesses."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], float] = {}
        self.lateness: list[float] = []
        self.breach_seen: list[float] = []

    async def follow(self, bootstrap: str, topic: str, stop: asyncio.Event) -> None:
        """Record arrivals until ``stop`` is set."""
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            metadata_max_age_ms=1000,
        )
        await consumer.start()
        try:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=100, max_records=10000)
                now = time.time()
                for record in (r for rs in batch.values() for r in rs):
                    event = json.loads(record.value)
                    key = (event["case_id"], event["type"])
                    if key in self.seen:
                        continue
                    self.seen[key] = now
                    if event["type"] == "ClockBreached" and event["clock_key"].startswith("ack"):
                        late = event["lateness"]
                        self.lateness.append(_seconds(late))
                        self.breach_seen.append(now)
        finally:
            await consumer.stop()


def _seconds(value: object) -> float:
    """A pydantic-serialised timedelta (ISO 8601 'PT1.5S' or seconds) in seconds."""
    if isinstance(value, int | float):
        return float(value)
    text = str(value).removeprefix("PT").removeprefix("P0DT")
    total, number = 0.0, ""
    for ch in text:
        if ch in "HMS":
            total += float(number) * {"H": 3600, "M": 60, "S": 1}[ch]
            number = ""
        else:
            number += ch
    return total


async def probe(bootstrap: str, topic: str, sent: dict[str, float], stop: asyncio.Event) -> None:
    """Raise one whistle every 100 ms, recording when each was sent."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    run = uuid.uuid4().hex[:6]
    try:
        i = 0
        while not stop.is_set():
            command = whistle(i, f"probe{run}")
            sent[command.case_id] = time.time()
            await producer.send_and_wait(topic, encode(command), command.case_id.encode())
            i += 1
            await asyncio.sleep(0.1)
    finally:
        await producer.stop()


def p99(values: list[float]) -> float:
    """99th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else float("nan")


def routing_latencies(
    watch: LogWatch, sent: dict[str, float], since: float, until: float
) -> list[float]:
    """raised → routed latencies of probe whistles sent in [since, until)."""
    return [
        watch.seen[(c, "CaseRouted")] - t
        for c, t in sent.items()
        if since <= t < until and (c, "CaseRouted") in watch.seen
    ]


def rss_mib(pid: int) -> float:
    """Resident memory of a process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def main() -> None:
    """Run the whole measurement once and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20000)
    parser.add_argument("--partitions", type=int, default=12)
    args = parser.parse_args()
    base = get_settings()
    with tempfile.TemporaryDirectory() as tmp:
        env = isolated_env(
            Path(tmp), base.bootstrap, base.dsn, f"bdl-{uuid.uuid4().hex[:8]}", args.partitions
        )
        env["WHISTLE_LOG_LEVEL"] = "WARNING"
        settings = settings_of(env)
        await ensure_topics(settings)
        commands, log = settings.topic(CASE_COMMANDS.name), settings.topic(CASE_EVENTS.name)
        run = uuid.uuid4().hex[:6]
        now = datetime.now(UTC)
        due = now + timedelta(seconds=30 + args.cases / 200)
        records = []
        for i in range(args.cases):
            raised = whistle(i, run)
            records.append((raised.case_id.encode(), encode(raised)))
            records.append((raised.case_id.encode(), encode(routed_by_hand(i, run, due, now))))
        await produce_all(base.bootstrap, commands, records)
        print(
            f"{args.cases} cases produced; ack clocks due at {due:%H:%M:%S} "
            f"(in {(due - datetime.now(UTC)).total_seconds():.0f} s)"
        )
        watch, sent, stop = LogWatch(), {}, asyncio.Event()
        followers = [
            asyncio.create_task(watch.follow(base.bootstrap, log, stop)),
            asyncio.create_task(probe(base.bootstrap, commands, sent, stop)),
        ]
        with supervised(Path(tmp), env) as supervisor:
            started = time.time()
            supervisor.start("worker", "worker")
            while sum(1 for (c, k) in watch.seen if k == "CaseRouted" and run in c) < args.cases:
                await asyncio.sleep(0.5)
            caught_up = time.time()
            print(f"all {args.cases} routed {caught_up - started:.1f} s after worker start")
            t_due = due.timestamp()
            await asyncio.sleep(max(0.0, t_due - time.time()))
            while len(watch.lateness) < args.cases and time.time() < t_due + 300:
                await asyncio.sleep(0.5)
            drained = max(watch.breach_seen) - t_due if watch.breach_seen else float("nan")
            before = routing_latencies(watch, sent, caught_up + 2, t_due)
            during = routing_latencies(watch, sent, t_due, t_due + max(drained, 1.0))
            rss = rss_mib(supervisor.children["worker"].pid)
            print(
                f"breaches {len(watch.lateness)}/{args.cases}; lateness p50 "
                f"{statistics.median(watch.lateness):.2f} s p99 {p99(watch.lateness):.2f} s; "
                f"drained {drained:.1f} s after the due second"
            )
            print(
                f"routing p99 before {p99(before) * 1000:.0f} ms (n={len(before)}), during "
                f"the drain {p99(during) * 1000:.0f} ms (n={len(during)})"
            )
            print(f"worker RSS with {args.cases} open cases: {rss:.0f} MiB")
            supervisor.stop()
            restart = time.time()
            supervisor.start("worker", "worker")
            mark = len(sent)
            while not any((c, "CaseRouted") in watch.seen for c in list(sent)[mark + 1 :]):
                await asyncio.sleep(0.2)
            print(
                f"restart to routing again with {args.cases} open cases: "
                f"{time.time() - restart:.1f} s"
            )
        stop.set()
        await asyncio.gather(*followers)


if __name__ == "__main__":
    asyncio.run(main())

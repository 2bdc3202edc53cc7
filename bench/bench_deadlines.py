"""Deadlines at city scale: a worker holding N open cases (6 pending deadlines each).

Measures, in one run against the real broker:
1. worker start with N open cases in its table's changelog and an empty data folder
   (recovery), and restart with its data folder kept: seconds until it routes a new whistle;
   its RSS once the deadline index is built;
2. firing lateness with N cases pending: L cases whose three ack clocks come due one after
   another over 30 s; lateness = when the ClockBreached is on the event log − due time;
3. a mass expiry: D cases whose ack clocks (3 each: ~100,000 deadlines for D = 33,334) are all
   due in the same second; time until the last breach is on the log, and the raise → routed
   p99 of a probe (one whistle every 100 ms) before and during the drain.

Method: the open cases are not pushed through the worker one by one (a million would take
longer than the run); their table values are made by the real domain (a raise decided and
routed by ``decide_batch`` with the rules in force, at a chosen raise time), copied per case id
and produced onto the ``cases`` table's changelog, partitioned as the commands are: exactly
what the worker would have written. The "far" cases were raised a day ahead, so none of
their deadlines comes due during the run.

    .venv/bin/python bench/bench_deadlines.py --cases 1000000 --drain 33334 --late 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_streams import whistle
from streams.decider import CommandRecord, decide_batch
from streams.producer import partition_of
from tests.service_fixtures import free_port, isolated_env, settings_of, supervised
from whistle.domain import RaiseWhistle, encode, load_policies, load_rules, route
from whistle.service.process_supervisor import Supervisor
from whistle.settings import get_settings
from whistle.topics import CASE_COMMANDS, CASE_EVENTS, changelog_topic, ensure_topics

ACK_BUDGET_S = 30 * 60  # the demo policy's ack clock for an ordinary whistle (calendar time)
TEMPLATE_ID = "TEMPLATE-CASE-ID"


def template(raised_at: float) -> bytes:
    """The table value of a parking whistle in 金海社区 raised (and routed) at ``raised_at``."""
    rules, policies = load_rules(), load_policies()
    command = whistle(0, "t").model_copy(update={"case_id": TEMPLATE_ID, "command_id": "t"})
    record = CommandRecord(b"", encode(command), round(raised_at * 1000))
    result = decide_batch(
        [record],
        lambda *_: None,
        lambda event: route(rules, event, event.occurred_at, policies=policies),
    )
    return result.states[TEMPLATE_ID]


def value_for(template_value: bytes, case_id: str) -> bytes:
    """The template's value for another case id."""
    return template_value.replace(TEMPLATE_ID.encode(), case_id.encode())


async def seed(
    bootstrap: str, topic: str, partitions: int, cases: list[tuple[str, bytes]]
) -> float:
    """Produce (case id, value) records onto the changelog; seconds taken."""
    start = time.perf_counter()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=50, max_batch_size=1024 * 1024, acks=1
    )
    await producer.start()
    try:
        futures = []
        for case_id, value in cases:
            key = case_id.encode()
            futures.append(
                await producer.send(topic, value, key=key, partition=partition_of(key, partitions))
            )
            if len(futures) >= 20000:
                await asyncio.gather(*futures)
                futures = []
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.perf_counter() - start


class LogWatch:
    """Follows the event log: when routings and ack breaches were seen."""

    def __init__(self) -> None:
        self.routed: dict[str, float] = {}
        self.breaches: dict[str, list[tuple[float, float]]] = {}  # group → (due, seen)

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
                batch = await consumer.getmany(timeout_ms=100, max_records=20000)
                now = time.time()
                for record in (r for rs in batch.values() for r in rs):
                    event = json.loads(record.value)
                    kind, case_id = event["type"], event["case_id"]
                    if kind == "CaseRouted":
                        self.routed.setdefault(case_id, now)
                    elif kind == "ClockBreached" and event["clock_key"].startswith("ack"):
                        due = datetime.fromisoformat(event["due_at"]).timestamp()
                        self.breaches.setdefault(case_id.split("-")[0], []).append((due, now))
        finally:
            await consumer.stop()


class Probe:
    """Raises one whistle every 100 ms; remembers when each was sent."""

    def __init__(self) -> None:
        self.sent: dict[str, float] = {}

    async def run(self, bootstrap: str, topic: str, stop: asyncio.Event) -> None:
        """Send until ``stop`` is set."""
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
        await producer.start()
        run = uuid.uuid4().hex[:6]
        try:
            i = 0
            while not stop.is_set():
                command: RaiseWhistle = whistle(i, f"probe{run}")
                self.sent[command.case_id] = time.time()
                await producer.send_and_wait(topic, encode(command), command.case_id.encode())
                i += 1
                await asyncio.sleep(0.1)
        finally:
            await producer.stop()

    def latencies(self, watch: LogWatch, since: float, until: float) -> list[float]:
        """raise → routed of the probes sent in [since, until)."""
        return [
            watch.routed[c] - t
            for c, t in list(self.sent.items())
            if since <= t < until and c in watch.routed
        ]

    async def routes_again(self, watch: LogWatch, since: float, timeout_s: float) -> float:
        """Seconds from ``since`` until a probe sent after it is routed."""
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if any(t >= since and c in watch.routed for c, t in list(self.sent.items())):
                return time.time() - since
            await asyncio.sleep(0.1)
        raise RuntimeError(f"no probe routed within {timeout_s:.0f} s")


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def rss_mib(pid: int) -> float:
    """Resident memory of a process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def settled_rss(pid: int, seconds: float = 5.0) -> float:
    """RSS after the index is built: the highest of a few readings over ``seconds``."""
    readings = []
    for _ in range(int(seconds / 0.5)):
        readings.append(rss_mib(pid))
        await asyncio.sleep(0.5)
    return max(readings)


async def indexed(web_port: int, deadlines: int, since: float, timeout_s: float) -> float:
    """Seconds from ``since`` until the worker's deadline index holds ``deadlines``.

    Read from its ``whistle_deadlines_pending`` gauge, set by the scanner once it has rebuilt
    the index over the partitions it owns (until then, only new cases count).
    """
    url = f"http://127.0.0.1:{web_port}/metrics"
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            page = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())
        except OSError:
            page = b""
        for line in page.decode().splitlines():
            if (
                line.startswith("whistle_deadlines_pending ")
                and float(line.split()[1]) >= deadlines
            ):
                return time.time() - since
        await asyncio.sleep(0.5)
    raise RuntimeError(f"deadline index not rebuilt within {timeout_s:.0f} s")


def start_worker(supervisor: Supervisor, web_port: int) -> None:
    """The worker with a fixed id (its data folder survives a restart)."""
    supervisor.start("worker", "worker", "--id", "w0", "--web-port", str(web_port))


async def main() -> None:
    """Run the whole measurement once and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000, help="open cases held")
    parser.add_argument("--drain", type=int, default=33_334, help="cases due in one second")
    parser.add_argument("--late", type=int, default=1000, help="cases due over 30 s")
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
        changelog = changelog_topic(settings, "cases")
        commands = settings.topic(CASE_COMMANDS.name)
        run = uuid.uuid4().hex[:6]
        far = template(time.time() + 86400)
        cases = [(f"far-{run}-{i:07d}", far) for i in range(args.cases)]
        seconds = await seed(
            base.bootstrap,
            changelog,
            args.partitions,
            [(c, value_for(v, c)) for c, v in cases],
        )
        print(f"{args.cases:,} open cases seeded onto the changelog in {seconds:.0f} s")

        watch, probe, stop = LogWatch(), Probe(), asyncio.Event()
        tasks = [
            asyncio.create_task(
                watch.follow(base.bootstrap, settings.topic(CASE_EVENTS.name), stop)
            ),
            asyncio.create_task(probe.run(base.bootstrap, commands, stop)),
        ]
        web_port = free_port()
        try:
            with supervised(Path(tmp), env) as supervisor:
                started = time.time()
                start_worker(supervisor, web_port)
                cold = await probe.routes_again(watch, started, 1800)
                cold_ready = await indexed(web_port, 6 * args.cases, started, 1800)
                rss = await settled_rss(supervisor.children["worker"].pid)
                print(
                    f"cold start (recovery of {args.cases:,} cases from the changelog): "
                    f"routing after {cold:.1f} s, deadlines indexed after {cold_ready:.1f} s"
                )
                print(f"worker RSS with {args.cases:,} open cases: {rss:.0f} MiB")
                supervisor.stop()
                restarted = time.time()
                start_worker(supervisor, web_port)
                warm = await probe.routes_again(watch, restarted, 1800)
                ready = await indexed(web_port, 6 * args.cases, restarted, 1800)
                rss2 = await settled_rss(supervisor.children["worker"].pid)
                print(
                    f"restart (data folder kept) to routing again: {warm:.1f} s, to its "
                    f"{6 * args.cases:,} deadlines indexed: {ready:.1f} s; RSS {rss2:.0f} MiB"
                )
                warm = max(warm, ready)

                # Lateness and drain groups, due after the next restart has settled.
                supervisor.stop()
                base_t = time.time() + warm + 30
                late_at = [base_t + 30 * i / max(1, args.late) for i in range(args.late)]
                drain_at = int(base_t + 45)
                extra = [
                    (
                        f"late-{run}-{i:06d}",
                        value_for(template(at - ACK_BUDGET_S), f"late-{run}-{i:06d}"),
                    )
                    for i, at in enumerate(late_at)
                ]
                drain_value = template(drain_at - ACK_BUDGET_S)
                extra += [
                    (f"drain-{run}-{i:06d}", value_for(drain_value, f"drain-{run}-{i:06d}"))
                    for i in range(args.drain)
                ]
                await seed(base.bootstrap, changelog, args.partitions, extra)
                restarted = time.time()
                start_worker(supervisor, web_port)
                await probe.routes_again(watch, restarted, 1800)
                ready_at = time.time()
                if time.time() > late_at[0]:
                    print("warning: the worker came back after the first deadline")
                want_drain = 3 * args.drain
                while (
                    len(watch.breaches.get("drain", [])) < want_drain
                    and time.time() < drain_at + 300
                ):
                    await asyncio.sleep(0.5)
                late = [seen - due for due, seen in watch.breaches.get("late", [])]
                drained = [seen for _, seen in watch.breaches.get("drain", [])]
                last = max(drained) - drain_at if drained else float("nan")
                before = probe.latencies(watch, ready_at + 5, drain_at)
                during = probe.latencies(watch, drain_at, drain_at + max(last, 1.0))
                pending = args.cases + args.late + args.drain
                print(
                    f"lateness with {pending:,} open cases ({6 * pending:,} deadlines): "
                    f"{len(late)} ack breaches, p50 {pct(late, 0.5):.2f} s, "
                    f"p99 {pct(late, 0.99):.2f} s"
                )
                print(
                    f"mass expiry: {len(drained):,}/{want_drain:,} ack deadlines due in one "
                    "second, "
                    f"last breach on the log {last:.1f} s after it"
                )
                print(
                    f"probe raise→routed p99: before {pct(before, 0.99) * 1000:.0f} ms "
                    f"(n={len(before)}), during the drain {pct(during, 0.99) * 1000:.0f} ms "
                    f"(n={len(during)}); median {statistics.median(before or [0]) * 1000:.0f} → "
                    f"{statistics.median(during or [0]) * 1000:.0f} ms"
                )
        finally:
            stop.set()
            await asyncio.gather(*tasks)


if __name__ == "__main__":
    asyncio.run(main())

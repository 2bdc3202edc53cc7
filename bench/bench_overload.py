"""Overload: a burst of ten times the sustained rate for 60 s against the running service.

Method (open loop: request i is due at t0 + i/rate and sent then, whatever happened to the
others; latency = response received − intended time). The service runs as in production, as
children (`whistle worker`, `whistle projector`, `whistle api`) on a fresh database and fresh
topics of the local Kafka broker. Each tick sends one command and one read, alternately:

    commands  POST /v1/cases                 (a secretary raises a whistle, Idempotency-Key)
    reads     GET /v1/cases?limit=20 (supervisor) and GET /v1/cases/{id} (secretary)

Phases: `baseline` (--baseline-s at --rate commands/s + --rate reads/s), `burst` (--burst-s
at --factor × --rate each), `drain` (no load: until the worker's consumer lag on the commands
topic and the projector's lag on the events topic are both 0, at most --drain-max-s), and
`after` (--after-s at --rate). Every second it samples the RSS of each process tree (VmRSS
from /proc), the worker's commands lag (committed offsets of its group) and the projector's
events lag (end offsets − its checkpoints in PostgreSQL).

Answers are classed: ok (2xx but 202), pending (202), shed (429/503 with Retry-After),
shed_no_retry_after (429/503 without: a defect), other 4xx, 5xx, client timeout
(--timeout-s), connection error. The client is aiohttp (httpx costs ~7 ms of CPU per request
here and would be the bottleneck).

    .venv/bin/python bench/bench_overload.py --rate 20 --factor 10 --burst-s 60
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import contextlib

from projections.migrate import LIVE_SCHEMA
from streams.aiokafka_adapter import consumer_client
from tests.conftest import unique_name
from tests.stack import Stack, running_stack, scratch_database
from whistle.settings import get_settings
from whistle.topics import CASE_COMMANDS, CASE_EVENTS

PROCESSES = ("api", "worker", "projector")


@dataclass
class Phase:
    """What one phase sent and got back."""

    name: str
    rate: float
    seconds: float
    classes: Counter[str] = field(default_factory=Counter)
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[int] = field(default_factory=Counter)
    rss_mb: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    lag: list[tuple[float, int, int]] = field(default_factory=list)
    lateness: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0
    sent_end: float = 0.0


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank); NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def tree_rss_mb(pid: int) -> float:
    """VmRSS of ``pid`` and its descendants, in MiB."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children[ppid].append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        todo += children.get(current, [])
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


class Lag:
    """The worker's commands lag (its group's committed offsets) and the projector's events lag
    (its checkpoints), against the topics' end offsets."""

    def __init__(self, bootstrap: str, prefix: str, dsn: str) -> None:
        self.bootstrap, self.prefix, self.dsn = bootstrap, prefix, dsn
        self.commands = f"{prefix}.{CASE_COMMANDS.name}"
        self.events = f"{prefix}.{CASE_EVENTS.name}"

    async def start(self) -> None:
        self.admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await self.admin.start()
        self.consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap)
        await self.consumer.start()
        self.pg = await asyncpg.connect(self.dsn)

    async def stop(self) -> None:
        await self.admin.close()
        await self.consumer.stop()
        await self.pg.close()

    async def _ends(self, topic: str) -> dict[TopicPartition, int]:
        parts = self.consumer.partitions_for_topic(topic) or set()
        if not parts:
            await consumer_client(self.consumer).force_metadata_update()
            parts = self.consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        return await self.consumer.end_offsets(tps) if tps else {}

    async def sample(self) -> tuple[int, int]:
        """(commands not yet consumed by the worker, events not yet projected)."""
        ends = await self._ends(self.commands)
        committed = await self.admin.list_consumer_group_offsets(f"{self.prefix}-streams")
        commands = sum(
            end - (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0)
            for tp, end in ends.items()
        )
        ends = await self._ends(self.events)
        rows = await self.pg.fetch(
            f"SELECT partition, max(next_offset) AS next FROM {LIVE_SCHEMA}.checkpoints"
            " WHERE topic = $1 GROUP BY partition",
            self.events,
        )
        done = {r["partition"]: r["next"] for r in rows}
        events = sum(max(0, end - done.get(tp.partition, 0)) for tp, end in ends.items())
        return commands, events


def classify(status: int, headers: Any) -> str:
    """The class of one answer (see the module docstring)."""
    if status in (429, 503):
        return "shed" if headers.get("Retry-After") else "shed_no_retry_after"
    if status == 202:
        return "pending"
    if 200 <= status < 300:
        return "ok"
    return "5xx" if status >= 500 else "4xx"


class Load:
    """Sends the open-loop schedule of one phase and records every answer."""

    def __init__(self, stack: Stack, timeout_s: float) -> None:
        self.stack = stack
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.counter = itertools.count()
        self.case_ids: list[str] = []
        self.accepted = 0

    def _auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.stack.tokens[who]}"}

    async def one(
        self, session: aiohttp.ClientSession, phase: Phase, kind: str, due: float
    ) -> None:
        n = next(self.counter)
        phase.lateness.append(time.perf_counter() - due)
        if kind == "command":
            body = {"category": "parking", "title": f"违停 {n}", "address": "金海社区海堤路"}
            request = session.post(
                "/v1/cases",
                json=body,
                headers=self._auth("secretary") | {"Idempotency-Key": f"burst-{n}"},
            )
        elif n % 2 or not self.case_ids:
            request = session.get("/v1/cases?limit=20", headers=self._auth("supervisor"))
        else:
            case_id = self.case_ids[n % len(self.case_ids)]
            request = session.get(f"/v1/cases/{case_id}", headers=self._auth("secretary"))
        try:
            async with request as response:
                payload = await response.read()
                outcome = classify(response.status, response.headers)
                phase.statuses[response.status] += 1
                if kind == "command" and response.status in (200, 201, 202):
                    self.accepted += 1
                    if len(self.case_ids) < 500:
                        self.case_ids.append(json.loads(payload)["case_id"])
        except TimeoutError:
            outcome = "timeout"
        except aiohttp.ClientError:
            outcome = "connection_error"
        phase.classes[f"{kind}:{outcome}"] += 1
        phase.latency[f"{kind}:{outcome}"].append(time.perf_counter() - due)

    async def run(self, session: aiohttp.ClientSession, phase: Phase) -> None:
        """Commands and reads each at ``phase.rate``/s for ``phase.seconds``."""
        tasks: set[asyncio.Task[None]] = set()
        start = time.perf_counter()
        total = int(phase.rate * phase.seconds)
        for i in range(total):
            due = start + i / phase.rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            for kind in ("command", "read"):
                task = asyncio.create_task(self.one(session, phase, kind, due))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        phase.sent_end = time.perf_counter()
        if tasks:
            await asyncio.wait(tasks)
        phase.elapsed_s = time.perf_counter() - start


async def sampler(stack: Stack, lag: Lag, phase: list[Phase], stop: asyncio.Event) -> None:
    """Every second: RSS per process tree and both lags, into the current phase."""
    while not stop.is_set():
        current = phase[0]
        for name in PROCESSES:
            current.rss_mb[name].append(tree_rss_mb(stack.supervisor.children[name].pid))
        try:
            commands, events = await lag.sample()
            current.lag.append((time.perf_counter(), commands, events))
        except Exception as exc:  # a sample may fail while the broker is busy: go on
            print(f"lag sample failed: {type(exc).__name__}", file=sys.stderr)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


async def drained(drain: Phase, since: float, max_s: float) -> float:
    """Seconds from ``since`` (the last burst request sent) to the first of three samples in a
    row with both lags 0 (the worker commits its offsets every ~3 s, so this errs long)."""
    while time.perf_counter() - since < max_s:
        last = drain.lag[-3:]
        if len(last) == 3 and all(c == 0 and e == 0 for _, c, e in last):
            return last[0][0] - since
        await asyncio.sleep(0.5)
    return math.inf


async def drive(stack: Stack, args: argparse.Namespace, prefix: str, dsn: str) -> list[Phase]:
    """All four phases, with the sampler running throughout."""
    lag = Lag(get_settings().bootstrap, prefix, dsn)
    await lag.start()
    connector = aiohttp.TCPConnector(limit=args.connections)
    phases: list[Phase] = []
    current: list[Phase] = [Phase("setup", 0, 0)]
    stop = asyncio.Event()
    sampling = asyncio.create_task(sampler(stack, lag, current, stop))
    load = Load(stack, args.timeout_s)
    try:
        async with aiohttp.ClientSession(stack.base, connector=connector) as session:
            for name, rate, seconds in (
                ("baseline", args.rate, args.baseline_s),
                ("burst", args.rate * args.factor, args.burst_s),
            ):
                phase = Phase(name, rate, seconds)
                current[0] = phase
                phases.append(phase)
                print(f"{name}: {rate:g}/s commands + {rate:g}/s reads for {seconds:g} s")
                await load.run(session, phase)
            drain = Phase("drain", 0, 0)
            current[0] = drain
            phases.append(drain)
            burst_end = phases[-2].sent_end
            drain.elapsed_s = await drained(drain, burst_end, args.drain_max_s)
            after = Phase("after", args.rate, args.after_s)
            current[0] = after
            phases.append(after)
            await load.run(session, after)
    finally:
        stop.set()
        await sampling
        await lag.stop()
    stack.supervisor.check_alive()
    return phases


def report(phases: list[Phase], args: argparse.Namespace, load: tuple[str, str]) -> dict[str, Any]:
    """Print the figures of each phase; return them as a dict."""
    out: dict[str, Any] = {"uptime_before": load[0], "uptime_after": load[1], "phases": []}
    t0 = min((p.lag[0][0] for p in phases if p.lag), default=0.0)
    for p in phases:
        p.lag = [(round(t - t0, 1), c, e) for t, c, e in p.lag]
        lat = {
            k: {
                "n": len(v),
                "p50_ms": percentile(v, 0.5) * 1000,
                "p99_ms": percentile(v, 0.99) * 1000,
            }
            for k, v in sorted(p.latency.items())
        }
        rss = {k: {"max": max(v), "last": v[-1]} for k, v in p.rss_mb.items() if v}
        peak = max(p.lag, key=lambda s: s[1] + s[2], default=None)
        entry = {
            "phase": p.name, "rate": p.rate, "seconds": round(p.elapsed_s, 1),
            "classes": dict(p.classes), "statuses": dict(p.statuses), "latency": lat,
            "rss_mb": rss, "peak_lag": peak, "last_lag": p.lag[-1] if p.lag else None,
            "generator_late_p50_ms": percentile(p.lateness, 0.5) * 1000,
            "generator_late_p99_ms": percentile(p.lateness, 0.99) * 1000,
        }  # fmt: skip
        out["phases"].append(entry)
        print(f"\n== {p.name}: {p.rate:g}/s each, {p.elapsed_s:.1f} s")
        if p.lateness:
            print(
                f"  generator late to send: p50 {entry['generator_late_p50_ms']:.1f} ms"
                f"  p99 {entry['generator_late_p99_ms']:.1f} ms"
            )
        for key, figures in lat.items():
            print(
                f"  {key:28} {figures['n']:6d}  p50 {figures['p50_ms']:8.1f} ms"
                f"  p99 {figures['p99_ms']:8.1f} ms"
            )
        for name, r in rss.items():
            print(f"  RSS {name:10} max {r['max']:7.1f} MiB  last {r['last']:7.1f} MiB")
        print(f"  lag (t, commands, events): peak {peak}, last {entry['last_lag']}")
    print(f"\nuptime before: {load[0]}\nuptime after:  {load[1]}")
    return out


def uptime() -> str:
    """The load averages, as `uptime` prints them."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=20, help="sustained commands/s (and reads/s)")
    parser.add_argument("--factor", type=float, default=10, help="burst = factor × rate")
    parser.add_argument("--baseline-s", type=float, default=20)
    parser.add_argument("--burst-s", type=float, default=60)
    parser.add_argument("--after-s", type=float, default=15)
    parser.add_argument("--drain-max-s", type=float, default=300)
    parser.add_argument("--timeout-s", type=float, default=30, help="client timeout")
    parser.add_argument("--connections", type=int, default=1000, help="client connections")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    settings = get_settings()
    before = uptime()
    prefix = unique_name("overload")
    with tempfile.TemporaryDirectory() as tmp, scratch_database(settings.dsn, "overload") as dsn:
        os.environ.setdefault("WHISTLE_LOG_LEVEL", "WARNING")
        with running_stack(Path(tmp), settings.bootstrap, dsn, prefix) as stack:
            phases = asyncio.run(drive(stack, args, prefix, dsn))
        shed_lines = sum(
            line.count('"load_shed"') for line in (Path(tmp) / "logs" / "api.log").open()
        )
    figures = report(phases, args, (before, uptime()))
    figures["api_load_shed_log_lines"] = shed_lines
    print(f"api load_shed log lines: {shed_lines}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()

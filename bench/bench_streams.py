"""Raised → routed throughput of the stream worker, beside a plain aiokafka loop, same broker.

Method: the worker(s) start on fresh topics and are warmed up (one whistle per partition routed,
so every partition is assigned); then N RaiseWhistle commands are produced as fast as the
broker takes them. The clock starts when the first of them appears as WhistleRaised on the
event log and stops at the N-th CaseRouted (each whistle = a raise decided, routed in the same
step, 2 events + 1 changelog record + 1 reply produced). The worker processes' CPU seconds over
the same span are divided by N (robust to a busy machine). The baseline
consumes N pre-produced records and produces one record per input (consume → produce, flush at
the end), the lower bound of any Kafka stream processor on this broker. Each is run --runs times,
interleaved; medians and the ratio are printed.

    .venv/bin/python bench/bench_streams.py --whistles 20000 --runs 3 [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streams.producer import partition_of
from tests.service_fixtures import free_port, isolated_env, settings_of, supervised
from whistle.domain import Actor, RaiseWhistle, encode
from whistle.settings import Settings, get_settings
from whistle.topics import CASE_COMMANDS, CASE_EVENTS, ensure_topics

SECRETARY = Actor(user_id="bench", role="secretary", area="tongan.datong.jinhai")
CATEGORIES = ["parking", "noise", "vendors", "sanitation", "greening", "square_dancing"]


def whistle(i: int, run: str) -> RaiseWhistle:
    """The i-th benchmark whistle."""
    return RaiseWhistle(
        command_id=f"{run}-{i}",
        case_id=f"B-{run}-{i}",
        actor=SECRETARY,
        community="tongan.datong.jinhai",
        category=CATEGORIES[i % len(CATEGORIES)],
        title="bench",
        address="金海社区",
    )


async def produce_all(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    """Produce every record and wait until the broker has them."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, acks="all")
    await producer.start()
    try:
        futures = [await producer.send(topic, key=k, value=v) for k, v in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process and its live descendants have used so far (Linux
    /proc). ``whistle worker`` runs Faust in a child process (``streams.startup``): the
    parent alone uses almost none."""
    parents: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # ended meanwhile
        child = int(stat.parent.name)
        parents.setdefault(int(fields[1]), []).append(child)
        times[child] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += times.get(current, 0.0)
        todo.extend(parents.get(current, []))
    return total


@dataclass
class Run:
    """One measured run: wall-clock rate and CPU seconds spent per item."""

    rate: float
    cpu_per_item: float


async def count_routed(
    consumer: AIOKafkaConsumer,
    n: int,
    run: str,
    timeout_s: float,
    cpu: Callable[[], float] = lambda: 0.0,
) -> Run:
    """Rate from the first WhistleRaised of ``run`` to its n-th CaseRouted, and CPU/whistle."""
    first: float | None = None
    cpu_first = 0.0
    routed = 0
    marker = f"-{run}-".encode()
    deadline = time.monotonic() + timeout_s
    while routed < n and time.monotonic() < deadline:
        batch = await consumer.getmany(timeout_ms=200, max_records=5000)
        for records in batch.values():
            for record in records:
                if marker not in (record.key or b""):
                    continue
                kind = json.loads(record.value)["type"]
                if first is None and kind == "WhistleRaised":
                    first, cpu_first = time.perf_counter(), cpu()
                routed += kind == "CaseRouted"
    if routed < n or first is None:
        raise RuntimeError(f"only {routed}/{n} routed within {timeout_s} s")
    seconds, cpu_used = time.perf_counter() - first, cpu() - cpu_first
    return Run(n / seconds, cpu_used / n)


def one_per_partition(partitions: int, run: str) -> list[RaiseWhistle]:
    """Warm-up whistles whose case ids fall on every partition."""
    found: dict[int, RaiseWhistle] = {}
    i = 0
    while len(found) < partitions:
        command = whistle(i, run)
        found.setdefault(partition_of(command.case_id.encode(), partitions), command)
        i += 1
    return list(found.values())


async def whistle_run(base: Settings, n: int, partitions: int, workers: int = 1) -> Run:
    """Raised → routed whistles per second of ``workers`` worker processes.

    The workers are started and warmed up first (one whistle per partition routed, so every
    partition is assigned and recovered); then the N whistles are produced while they run.
    """
    with tempfile.TemporaryDirectory() as tmp:
        env = isolated_env(
            Path(tmp), base.bootstrap, base.dsn, f"bench-{uuid.uuid4().hex[:8]}", partitions
        )
        env["WHISTLE_LOG_LEVEL"] = "WARNING"
        settings = settings_of(env)
        await ensure_topics(settings)
        commands, events = settings.topic(CASE_COMMANDS.name), settings.topic(CASE_EVENTS.name)
        consumer = AIOKafkaConsumer(
            events, bootstrap_servers=base.bootstrap, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            with supervised(Path(tmp), env) as supervisor:
                for i in range(workers):
                    port = str(free_port())
                    supervisor.start(f"worker-{i}", "worker", "--id", f"w{i}", "--web-port", port)
                pids = [child.pid for child in supervisor.children.values()]
                warm = uuid.uuid4().hex[:6]
                warmup = one_per_partition(partitions, warm)
                await produce_all(
                    base.bootstrap, commands, [(c.case_id.encode(), encode(c)) for c in warmup]
                )
                await count_routed(consumer, len(warmup), warm, timeout_s=180)
                run = uuid.uuid4().hex[:6]
                cmds = [whistle(i, run) for i in range(n)]
                measuring = asyncio.create_task(
                    count_routed(
                        consumer,
                        n,
                        run,
                        timeout_s=60 + n / 50,
                        cpu=lambda: sum(cpu_seconds(pid) for pid in pids),
                    )
                )
                await produce_all(
                    base.bootstrap, commands, [(c.case_id.encode(), encode(c)) for c in cmds]
                )
                return await measuring
        finally:
            await consumer.stop()


async def baseline_run(base: Settings, n: int, partitions: int) -> Run:
    """Records per second of a plain aiokafka consume → produce loop."""
    settings = base.model_copy(
        update={"topic_prefix": f"base-{uuid.uuid4().hex[:8]}", "partitions": partitions}
    )
    await ensure_topics(settings)
    source, sink = settings.topic(CASE_COMMANDS.name), settings.topic(CASE_EVENTS.name)
    run = uuid.uuid4().hex[:6]
    await produce_all(
        base.bootstrap, source, [(f"B-{i}".encode(), encode(whistle(i, run))) for i in range(n)]
    )
    consumer = AIOKafkaConsumer(
        source, bootstrap_servers=base.bootstrap, auto_offset_reset="earliest", group_id=f"g-{run}"
    )
    producer = AIOKafkaProducer(bootstrap_servers=base.bootstrap, linger_ms=5, acks="all")
    await consumer.start()
    await producer.start()
    try:
        done, start, cpu_start = 0, None, 0.0
        while done < n:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            for records in batch.values():
                for record in records:
                    if start is None:
                        start, cpu_start = time.perf_counter(), time.process_time()
                    await producer.send(sink, key=record.key, value=record.value)
                    done += 1
        await producer.flush()
        assert start is not None
        seconds, cpu_used = time.perf_counter() - start, time.process_time() - cpu_start
        return Run(n / seconds, cpu_used / n)
    finally:
        await consumer.stop()
        await producer.stop()


async def main() -> None:
    """Interleave the two measurements and print medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--whistles", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (scale-out)")
    args = parser.parse_args()
    base = get_settings()
    ours: list[Run] = []
    plain: list[Run] = []
    for i in range(args.runs):
        plain.append(await baseline_run(base, args.whistles, args.partitions))
        ours.append(await whistle_run(base, args.whistles, args.partitions, args.workers))
        print(
            f"run {i + 1}: whistle {ours[-1].rate:,.0f}/s "
            f"({ours[-1].cpu_per_item * 1e6:,.0f} µs worker CPU each)  "
            f"aiokafka loop {plain[-1].rate:,.0f}/s "
            f"({plain[-1].cpu_per_item * 1e6:,.0f} µs CPU each)"
        )
    m_ours = statistics.median(r.rate for r in ours)
    m_plain = statistics.median(r.rate for r in plain)
    cpu_ours = statistics.median(r.cpu_per_item for r in ours)
    cpu_plain = statistics.median(r.cpu_per_item for r in plain)
    print(
        f"median raised→routed ({args.workers} worker(s)): {m_ours:,.0f} whistles/s; "
        "plain consume→produce: "
        f"{m_plain:,.0f} records/s; ratio {m_ours / m_plain:.2f}"
    )
    print(
        f"median CPU: {cpu_ours * 1e6:,.0f} µs per whistle in the worker "
        f"(= {1 / cpu_ours:,.0f} whistles per CPU-second); loop {cpu_plain * 1e6:,.0f} µs "
        f"per record; load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    asyncio.run(main())

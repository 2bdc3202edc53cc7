"""Benchmark of the what-if replay: per core in process, and end to end through Kafka.

Run: ``.venv/bin/python bench/bench_whatif.py [--cases N] [--kafka-cases M] [--processes P]``
with the local broker (``WHISTLE_KAFKA_BOOTSTRAP``). Method:

1. Cases are generated with the story builder (``tests.stories``: ``Story`` playing
   ``lifecycle_script``, 15 events, and a whistle nobody signs for, which breaches and climbs
   the ladder, 12 events), over 28 days; each template's log is copied per case with its
   case id replaced (the replay reads ids, it does not check event ids).
2. In the same process and the same minutes: the in-process ``decide``+``evolve`` rate of
   ``bench/bench_domain.py`` (its ``run_throughput``, the ceiling), then the replay's rate
   per core (``replay_case`` over decoded events, under a changed rule set: 金海's tourist
   whistles led by civil_affairs alone, the whistle policy's ack budget 30 → 20 minutes).
3. End to end: the logs are produced to a fresh events topic (not timed), then
   ``run_parallel`` reads and replays them in ``--processes`` processes (timed, wall clock,
   both passes), and the combined tally is checked against the in-process one's per case.

Prints the rates and the estimate for 1,000,000 cases at the measured end-to-end rate.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_domain import run_throughput
from tests.stories import T0, Story, lifecycle_script, raise_whistle
from whistle.config.versions import (
    ConfigVersion,
    kind_document,
    next_version,
    seed_version,
    with_kind,
)
from whistle.domain import encode
from whistle.domain.configuration import packaged_configuration
from whistle.whatif.held import re_derived
from whistle.whatif.replay import Proposed
from whistle.whatif.tally import Tally, replay_case

TEMPLATE = "TPL-000000"
DAYS = 28
RULE = "tongan.datong.jinhai.tourist_crowds"


def changed_version() -> ConfigVersion:
    """Version 2: 金海's tourist whistles to civil_affairs alone; the whistle ack budget 20 min."""
    base = seed_version(packaged_configuration())
    routing = kind_document(base.document, "routing")
    for rule in routing["rules"]:
        if rule["id"] == RULE:
            rule.update(lead="civil_affairs", supporting=[])
    policies = kind_document(base.document, "policies")
    for clocks in policies["whistle"]["clocks"].values():
        clocks["ack"]["within"] = "PT20M"
    config = with_kind(with_kind(base.document, "routing", routing), "policies", policies)
    return next_version(base, config, author="bench", reason="bench", effective_from=T0,
                        published_at=T0)  # fmt: skip


def templates() -> list[bytes]:
    """One log per (day, variant), each event a JSON line, case id ``TEMPLATE``."""
    logs = []
    for day in range(DAYS):
        shift = timedelta(days=day)
        for variant in ("lifecycle", "unsigned"):
            story = Story(TEMPLATE, now=T0 + shift)
            if variant == "lifecycle":
                script = [(c, at + shift) for c, at in lifecycle_script(TEMPLATE)]
            else:
                script = [(raise_whistle(TEMPLATE), T0 + shift)]
            for command, at in script:
                story.do(command, at)
            if variant == "unsigned":
                story.do(story.routing(), T0 + shift)
            if variant == "unsigned":  # the ladder of every clock, fired at its due time
                from whistle.domain import fire_due

                _state, events = fire_due(story.s, T0 + shift + timedelta(days=3))
                story.events += events
            logs.append(b"\n".join(encode(e) for e in story.events))
    return logs


def case_logs(n: int) -> list[tuple[str, list[bytes]]]:
    """``n`` cases' logs (case id, encoded events), templates copied round-robin."""
    shapes = templates()
    out = []
    for i in range(n):
        case_id = f"B-{i:08d}"
        raw = shapes[i % len(shapes)].replace(TEMPLATE.encode(), case_id.encode())
        out.append((case_id, raw.split(b"\n")))
    return out


def in_process(logs: list[tuple[str, list[bytes]]], version: ConfigVersion) -> tuple[float, Tally]:
    """CPU seconds to decode and replay every case in this process, and the tally."""
    proposed = Proposed(version)
    proposed.enter()
    horizon = T0 + timedelta(days=DAYS + 30)
    tally = Tally(since=T0 - timedelta(days=1), until=T0 + timedelta(days=DAYS + 1))
    start = time.process_time()
    for _, events in logs:
        replay_case([orjson.loads(e) for e in events], proposed, tally, horizon)
    return time.process_time() - start, tally


def read_split(logs: list[tuple[str, list[bytes]]]) -> tuple[int, int]:
    """Events of ``logs`` whose command the replay holds, and those it re-derives."""
    derived = sum(re_derived(orjson.loads(e)) for _, events in logs for e in events)
    return sum(len(e) for _, e in logs) - derived, derived


async def produce(bootstrap: str, topic: str, logs: list[tuple[str, list[bytes]]]) -> None:
    """The logs on ``topic``, keyed by case id, each record stamped with its event's time."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=50, max_batch_size=512 * 1024,
        compression_type="lz4" if _has_lz4() else None,
    )  # fmt: skip
    await producer.start()
    try:
        pending = []
        for case_id, events in logs:
            key = case_id.encode()
            for raw in events:
                at = datetime.fromisoformat(orjson.loads(raw)["occurred_at"])
                stamp = int(at.timestamp() * 1000)
                pending.append(await producer.send(topic, raw, key=key, timestamp_ms=stamp))
            if len(pending) > 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def _has_lz4() -> bool:
    try:
        import lz4  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    """Run the three parts and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=5000, help="in-process replay")
    parser.add_argument("--kafka-cases", type=int, default=20000, help="end to end via Kafka")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args()
    version = changed_version()

    scripts = [lifecycle_script(f"C{i:06d}") for i in range(2000)]
    run_throughput(scripts[:50])
    _, cpu, commands = run_throughput(scripts)
    ceiling = commands / cpu

    logs = case_logs(args.cases)
    events = sum(len(e) for _, e in logs)
    in_process(logs[:200], version)  # warm up
    cpu, tally = in_process(logs, version)
    print(
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(f"decide+evolve (bench_domain, same run): {ceiling:,.0f} commands/s of CPU")
    print(
        f"replay per core: {events / cpu:,.0f} events/s, {len(logs) / cpu:,.0f} cases/s of CPU "
        f"({len(logs):,} cases, {events:,} events; moved {tally.moved:,}, "
        f"breaches original/proposed {tally.original.rows('all')['all']['breaches']:,}/"
        f"{tally.proposed.rows('all')['all']['breaches']:,})"
    )
    held, derived = read_split(logs)
    print(
        f"events read per case: {events / len(logs):.1f} = {held / len(logs):.1f} held "
        f"(decided again) + {derived / len(logs):.1f} re-derived (projected on the original "
        "side and their firing instants kept, never decided)"
    )
    if args.kafka_cases <= 0:
        return
    from whistle.settings import Settings
    from whistle.topics import CASE_EVENTS, ensure_topics
    from whistle.whatif.source import run_parallel

    prefix = f"bench-whatif-{os.getpid()}-{int(time.time())}"
    settings = Settings(topic_prefix=prefix, partitions=args.partitions)
    asyncio.run(ensure_topics(settings, (CASE_EVENTS,)))
    big = case_logs(args.kafka_cases)
    big_events = sum(len(e) for _, e in big)
    started = time.perf_counter()
    asyncio.run(produce(settings.bootstrap, settings.topic(CASE_EVENTS.name), big))
    produced = time.perf_counter() - started
    since, until = T0 - timedelta(days=1), T0 + timedelta(days=DAYS + 1)
    horizon = T0 + timedelta(days=DAYS + 30)
    started = time.perf_counter()
    combined = run_parallel(settings, version, since, until, horizon, args.processes)
    wall = time.perf_counter() - started
    assert combined.cases == len(big), (combined.cases, len(big))
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    rate = big_events / wall
    print(
        f"end to end via Kafka, {args.processes} processes over {args.partitions} partitions: "
        f"{len(big):,} cases, {big_events:,} events in {wall:.1f} s = {rate:,.0f} events/s "
        f"(produce, not timed: {produced:.1f} s); largest replay process RSS {rss:,.0f} MiB"
    )
    per_case = big_events / len(big)
    estimate = 1_000_000 * per_case / rate
    print(f"1,000,000 cases (~{per_case:.1f} M events) at this rate: {estimate / 60:.1f} min")
    asyncio.run(_delete_topic(settings.bootstrap, settings.topic(CASE_EVENTS.name)))


async def _delete_topic(bootstrap: str, topic: str) -> None:
    """Drop the benchmark's events topic from the broker."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])
    finally:
        await admin.close()


if __name__ == "__main__":
    main()

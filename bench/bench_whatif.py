"""Benchmark of the what-if replay: per core in process, and end to end through Kafka.

Run: ``.venv/bin/python bench/bench_whatif.py [--cases N] [--kafka-cases M] [--processes P]``
with the local broker (``WHISTLE_KAFKA_BOOTSTRAP``). Method:

1. Cases are generated with the story builder over 28 days. ``--shape random`` (the default):
   ``random_story(by_rules=True)``, the story builder's varied cases (disputes, breaches,
   extensions, pauses, reopenings, 10 % left open) routed by the packaged rules and policies,
   their deadlines fired at their due times up to the horizon as the live tracker fires them
   (~20 events a case). ``--shape templates``: the earlier mix, ``lifecycle_script`` (15 events)
   and a whistle nobody signs for (its ladder climbed for 3 days), copied per case.
2. In the same process and the same minutes: the in-process ``decide``+``evolve`` rate of
   ``bench/bench_domain.py`` (its ``run_throughput``, the ceiling), then the replay's rate
   per core (``replay_case`` over decoded events, under a changed rule set: 金海's parking
   (random) or tourist (templates) whistles to another lead, the whistle policy's ack budget
   30 → 20 minutes).
3. End to end: the cases are generated and produced to a fresh events topic by
   ``--processes`` processes, each its own range of cases (not timed); with ``--order time``
   (the default) each range's events are produced in time order, cases interleaved as in the
   live log (only the cases open at an instant are held), with ``--order case`` case by case;
   then ``run_parallel`` reads and replays them in ``--processes`` processes (timed,
   wall clock, both passes); the combined tally must count every case.

Prints the rates, each replay process's peak resident memory (its ``VmHWM``), and the time
for 1,000,000 cases at the measured end-to-end rate (or the measured time, at 1,000,000).
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import multiprocessing
import os
import platform
import random
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_domain import run_throughput
from tests.stories import T0, Story, lifecycle_script, raise_whistle, random_stories
from whistle.config.versions import (
    ConfigVersion,
    kind_document,
    next_version,
    seed_version,
    with_kind,
)
from whistle.domain import encode
from whistle.domain.configuration import packaged_configuration
from whistle.whatif.answer import answer
from whistle.whatif.held import re_derived
from whistle.whatif.replay import Proposed, same_context
from whistle.whatif.tally import Tally, replay_case

TEMPLATE = "TPL-000000"
DAYS = 28
HORIZON = T0 + timedelta(days=DAYS + 30)


def horizon(days: int) -> datetime:
    """Where a log of cases raised over ``days`` ends: 30 days after the last raise."""
    return T0 + timedelta(days=days + 30)


MOVED = {
    "random": ("tongan.datong.jinhai.parking", "urban_management", ["public_security"]),
    "templates": ("tongan.datong.jinhai.tourist_crowds", "civil_affairs", []),
}
"""Per shape: the rule the proposal changes, its new lead and supporting departments."""

CaseLog = tuple[str, list[bytes]]


def changed_version(shape: str = "random") -> ConfigVersion:
    """Version 2: one 金海 rule to another lead; the whistle policy's ack budget 20 min."""
    base = seed_version(packaged_configuration())
    rule_id, lead, supporting = MOVED[shape]
    routing = kind_document(base.document, "routing")
    for rule in routing["rules"]:
        if rule["id"] == rule_id:
            rule.update(lead=lead, supporting=supporting)
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


def case_logs(
    shape: str, count: int, first: int = 0, total: int | None = None, days: int = DAYS
) -> Iterator[CaseLog]:
    """Cases ``first`` .. ``first + count`` of ``total`` (default ``count``) spread over
    ``days`` (random shape), one at a time (case id, encoded events in order)."""
    if shape == "templates":
        shapes = templates()
        for i in range(first, first + count):
            case_id = f"B-{i:08d}"
            raw = shapes[i % len(shapes)].replace(TEMPLATE.encode(), case_id.encode())
            yield case_id, raw.split(b"\n")
        return
    spacing = timedelta(days=days) / (total or count)
    rng = random.Random(first)
    for story in random_stories(
        rng, count, T0, spacing, "R-{:08d}".format, first=first, by_rules=True
    ):
        story.fire_until(horizon(days))
        yield story.case_id, [encode(e) for e in story.events]


def in_process(logs: list[CaseLog], version: ConfigVersion, mirror: bool) -> tuple[float, Tally]:
    """CPU seconds to decode and replay every case in this process, and the tally."""
    proposed = Proposed(version, mirror)
    proposed.enter()
    tally = Tally(since=T0 - timedelta(days=1), until=T0 + timedelta(days=DAYS + 1))
    start = time.process_time()
    for _, events in logs:
        replay_case([orjson.loads(e) for e in events], proposed, tally, HORIZON)
    return time.process_time() - start, tally


class _Record(NamedTuple):
    key: bytes
    offset: int
    value: bytes


def in_process_delta(logs: list[CaseLog], version: ConfigVersion) -> tuple[float, Tally]:
    """CPU seconds of delta mode's reading in this process (``Reader.take`` over the encoded
    events, cases one after another: decode, probe, replay the changed), and its tally."""
    from whistle.whatif.source import Reader

    proposed = Proposed(version, mirror=True, delta=True)
    proposed.enter()
    tally = Tally(since=T0 - timedelta(days=1), until=T0 + timedelta(days=DAYS + 1), delta=True)
    records = [_Record(case_id.encode(), 0, raw) for case_id, events in logs for raw in events]
    records = [r._replace(offset=n) for n, r in enumerate(records)]
    reader = Reader(proposed, tally, HORIZON)
    reader.note(records)
    start = time.process_time()
    for first in range(0, len(records), 5000):
        reader.take(records[first : first + 5000])
    reader.close()
    return time.process_time() - start, tally


def read_split(logs: list[CaseLog]) -> tuple[int, int]:
    """Events of ``logs`` whose command the replay holds, and those it re-derives."""
    derived = sum(re_derived(orjson.loads(e)) for _, events in logs for e in events)
    return sum(len(e) for _, e in logs) - derived, derived


def in_time_order(logs: Iterable[CaseLog]) -> Iterator[CaseLog]:
    """The events of ``logs`` (given in raise order) one by one in time order, as the live
    log interleaves cases: each as a one-event log. Holds only the cases still open at the
    current instant (a heap of their remaining events); a case's events keep their order."""
    heap: list[tuple[datetime, int, str, bytes]] = []
    counter = 0
    for case_id, raws in logs:
        raised = _instant(raws[0])
        while heap and heap[0][0] <= raised:
            _, _, key, raw = heapq.heappop(heap)
            yield key, [raw]
        last = raised
        for raw in raws:
            last = max(last, _instant(raw))
            counter += 1
            heapq.heappush(heap, (last, counter, case_id, raw))
    while heap:
        _, _, key, raw = heapq.heappop(heap)
        yield key, [raw]


def _instant(raw: bytes) -> datetime:
    return datetime.fromisoformat(orjson.loads(raw)["occurred_at"])


async def produce(bootstrap: str, topic: str, logs: Iterable[CaseLog]) -> tuple[int, int]:
    """The logs on ``topic``, keyed by case id, each record stamped with its event's time;
    the cases (raises) and events produced."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=50, max_batch_size=512 * 1024,
        compression_type="lz4" if _has_lz4() else None,
        request_timeout_ms=180_000,  # a 1 M-case log keeps the 2-core broker busy for minutes
    )  # fmt: skip
    await producer.start()
    cases = events = 0
    try:
        pending = []
        for case_id, raws in logs:
            key = case_id.encode()
            events += len(raws)
            for raw in raws:
                event = orjson.loads(raw)
                cases += event["type"] == "WhistleRaised"
                stamp = int(datetime.fromisoformat(event["occurred_at"]).timestamp() * 1000)
                pending.append(await producer.send(topic, raw, key=key, timestamp_ms=stamp))
            if len(pending) > 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return cases, events


def _produce_share(job: tuple[str, str, str, int, int, int, bool, int]) -> tuple[int, int]:
    """One process's share of the cases, generated and produced (cases, events)."""
    bootstrap, topic, shape, first, count, total, timed, days = job
    logs = case_logs(shape, count, first, total, days)
    return asyncio.run(produce(bootstrap, topic, in_time_order(logs) if timed else logs))


def produce_parallel(
    bootstrap: str, topic: str, shape: str, total: int, processes: int, timed: bool,
    days: int = DAYS,
) -> tuple[int, int]:  # fmt: skip
    """``total`` cases generated and produced by ``processes`` processes, each its range of
    cases (``timed``: each range's events in time order), in (cases, events)."""
    share = -(-total // processes)
    jobs = [
        (bootstrap, topic, shape, first, min(share, total - first), total, timed, days)
        for first in range(0, total, share)
    ]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(jobs), mp_context=context) as pool:
        done = list(pool.map(_produce_share, jobs))
    return sum(c for c, _ in done), sum(e for _, e in done)


def _has_lz4() -> bool:
    try:
        import lz4  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    """Run the three parts and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", choices=sorted(MOVED), default="random")
    parser.add_argument("--cases", type=int, default=5000, help="in-process replay")
    parser.add_argument("--kafka-cases", type=int, default=20000, help="end to end via Kafka")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the generated log's topic")
    parser.add_argument(
        "--produce-only", action="store_true", help="generate and keep the log, replay nothing"
    )
    parser.add_argument("--reuse", metavar="PREFIX", help="replay a kept log (its topic prefix)")
    parser.add_argument(
        "--order", choices=("time", "case"), default="time",
        help="the log's order: events in time order (cases interleaved, as live) or by case",
    )  # fmt: skip
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument(
        "--original", choices=("read-models", "log"), default="read-models",
        help="end to end: the original side from the log's read models (built by the "
        "projector's rebuild into a scratch database, not timed) or the log projected again",
    )  # fmt: skip
    parser.add_argument(
        "--compare", action="store_true",
        help="with --original read-models: also run the log's way and check the answers equal",
    )  # fmt: skip
    parser.add_argument(
        "--days", type=int, default=DAYS,
        help="end to end: the days the cases are raised over (same rate, longer log: memory)",
    )  # fmt: skip
    args = parser.parse_args()
    version = changed_version(args.shape)

    scripts = [lifecycle_script(f"C{i:06d}") for i in range(2000)]
    run_throughput(scripts[:50])
    _, cpu, commands = run_throughput(scripts)
    ceiling = commands / cpu

    logs = list(case_logs(args.shape, args.cases))
    events = sum(len(e) for _, e in logs)
    mirror = same_context(version, [seed_version(packaged_configuration())])
    in_process(logs[:200], version, mirror)  # warm up
    full_cpu, full = in_process(logs, version, False)
    cpu, tally = in_process(logs, version, mirror)
    assert answer(tally, version, HORIZON) == answer(full, version, HORIZON), "mirror differs"
    delta_cpu, delta = in_process_delta(logs, version) if mirror else (0.0, tally)
    if mirror:
        same = answer(delta.with_live(full.original), version, HORIZON)
        assert same == answer(full, version, HORIZON), "delta mode differs"
    print(
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}, shape {args.shape}"
    )
    print(f"decide+evolve (bench_domain, same run): {ceiling:,.0f} commands/s of CPU")
    rates = [("every case decided", full_cpu), (f"mirror={mirror}", cpu)]
    if mirror:
        rates.append(("delta mode (unchanged cases probed, the others replayed)", delta_cpu))
    for name, seconds in rates:
        print(
            f"replay per core, {name}: {events / seconds:,.0f} events/s, "
            f"{len(logs) / seconds:,.0f} cases/s of CPU"
        )
    print(
        f"({len(logs):,} cases, {events:,} events; moved {tally.moved:,}, breaches "
        f"original/proposed {tally.original.rows('all')['all']['breaches']:,}/"
        f"{tally.proposed.rows('all')['all']['breaches']:,}; the two tallies' answers equal)"
    )
    held, derived = read_split(logs)
    print(
        f"events read per case: {events / len(logs):.1f} = {held / len(logs):.1f} held "
        f"(decided again) + {derived / len(logs):.1f} re-derived (projected on the original "
        "side and their firing instants kept, never decided)"
    )
    del logs
    if args.kafka_cases <= 0:
        return
    from whistle.settings import Settings
    from whistle.topics import CASE_EVENTS, ensure_topics
    from whistle.whatif.source import run_parallel, total_records

    prefix = args.reuse or f"bench-whatif-{os.getpid()}-{int(time.time())}"
    settings = Settings(topic_prefix=prefix, partitions=args.partitions)
    topic = settings.topic(CASE_EVENTS.name)
    if args.reuse:  # the log of an earlier run (--keep): nothing generated
        cases, produced = -1, 0.0
        big_events = asyncio.run(total_records(settings, T0 - timedelta(days=1))) // 2
    else:
        asyncio.run(ensure_topics(settings, (CASE_EVENTS,)))
        started = time.perf_counter()
        cases, big_events = produce_parallel(
            settings.bootstrap, topic, args.shape, args.kafka_cases, args.processes,
            args.order == "time", args.days,
        )  # fmt: skip
        produced = time.perf_counter() - started
        print(f"generated and produced {cases:,} cases, {big_events:,} events in {produced:.0f} s "
              f"to topic prefix {prefix}", flush=True)  # fmt: skip
        if args.produce_only:
            return
    since, until = T0 - timedelta(days=1), T0 + timedelta(days=args.days + 1)
    end = horizon(args.days)
    if args.original == "read-models":
        dsn = asyncio.run(read_models(settings, topic, prefix, args.processes))
        started = time.perf_counter()
        live = asyncio.run(live_original(dsn, topic, since, until))
        live_s = time.perf_counter() - started
        delta = run_parallel(
            settings, version, since, until, end, args.processes, mirror=mirror,
            ends=live[1], dsn=dsn,
        )  # fmt: skip
        wall = time.perf_counter() - started
        print(f"original side from the read models in {live_s:.1f} s; replayed in delta mode "
              f"{delta.cases - delta.unchanged:,} cases of {delta.cases:,} "
              f"({delta.unchanged:,} decided as they were, not read further)")  # fmt: skip
        peak_open, peak_rss = delta.peak_open, delta.peak_rss_mib
        combined_tally = delta.with_live(live[0])
    else:
        started = time.perf_counter()
        combined_tally = run_parallel(
            settings, version, since, until, end, args.processes, mirror=mirror
        )
        wall = time.perf_counter() - started
        peak_open, peak_rss = combined_tally.peak_open, combined_tally.peak_rss_mib
    if args.compare:
        began = time.perf_counter()
        full = run_parallel(settings, version, since, until, end, args.processes, mirror=mirror)
        slow = time.perf_counter() - began
        same = answer(full, version, end) == answer(combined_tally, version, end)
        print(f"the log projected again (--original log) in {slow:.1f} s, "
              f"{slow / wall:.2f}× the time; answers equal: {same}")  # fmt: skip
        assert same, "the read models' original side differs from the log's"
    combined = combined_tally
    assert cases < 0 or combined.cases == cases, (combined.cases, cases)
    cases = combined.cases
    rate = big_events / wall
    print(
        f"end to end via Kafka, {args.processes} processes over {args.partitions} partitions: "
        f"{cases:,} cases, {big_events:,} events in {wall:.1f} s = {rate:,.0f} events/s, "
        f"{cases / wall:,.0f} cases/s (generate and produce, not timed: {produced:.1f} s); "
        f"largest replay process peak RSS (VmHWM) {peak_rss:,.0f} MiB, most cases "
        f"held at once by one process {peak_open:,}; "
        f"moved {combined.moved:,}"
    )
    per_case = big_events / cases
    estimate = 1_000_000 / (cases / wall)
    print(f"1,000,000 cases (~{per_case:.1f} M events) at this rate: {estimate / 60:.1f} min")
    if not args.keep:
        asyncio.run(_delete_topic(settings.bootstrap, topic))


def bench_database(prefix: str) -> str:
    """The DSN of the scratch database holding the read models of the log ``prefix``."""
    from whistle.settings import get_settings

    base = get_settings().dsn
    return base.rsplit("/", 1)[0] + "/" + prefix.replace("-", "_")


async def read_models(settings: Any, topic: str, prefix: str, workers: int) -> str:
    """The read models of the log, built by the projector's rebuild (``workers`` processes at
    a time, one partition each) into a scratch database named after the log (kept with it:
    reused when its checkpoints cover the topic)."""
    import asyncpg

    from projections.migrate import LIVE_SCHEMA
    from projections.rebuild import build, end_offsets, swap

    dsn = bench_database(prefix)
    name = dsn.rsplit("/", 1)[1]
    admin = await asyncpg.connect(dsn.rsplit("/", 1)[0] + "/postgres")
    try:
        if not await admin.fetchval("SELECT true FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    ends = await end_offsets(settings.bootstrap, topic)
    conn = await asyncpg.connect(dsn)
    try:
        stored = (
            await conn.fetch(
                f"SELECT partition, next_offset FROM {LIVE_SCHEMA}.checkpoints WHERE topic = $1",
                topic,
            )
            if await conn.fetchval("SELECT to_regclass($1)", f"{LIVE_SCHEMA}.checkpoints")
            else []
        )
    finally:
        await conn.close()
    if {r["partition"]: r["next_offset"] for r in stored} == ends:
        print(f"read models of the log: reused (database {name})", flush=True)
        return dsn
    began = time.perf_counter()
    built = await build(dsn, settings.bootstrap, topic, LIVE_SCHEMA + "_bench", workers=workers)
    await swap(dsn, built.schema, LIVE_SCHEMA)
    print(f"read models of the log built by the projector's rebuild in "
          f"{time.perf_counter() - began:.0f} s, {built.events:,} events, one partition per "
          f"process, {workers} at a time (database {name}; not timed)", flush=True)  # fmt: skip
    return dsn


async def live_original(
    dsn: str, topic: str, since: datetime, until: datetime
) -> tuple[Any, dict[int, int]]:
    """The original side and positions from the read models (``whistle.whatif.live``)."""
    from projections.migrate import LIVE_SCHEMA
    from projections.projector import connect
    from whistle.whatif.live import read_live

    conn = await connect(dsn, LIVE_SCHEMA)
    try:
        return await read_live(conn, topic, since, until)
    finally:
        await conn.close()


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

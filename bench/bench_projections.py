"""Benchmark the projections: live projection rate vs a plain COPY loop, rebuild, metrics p95.

Usage: .venv/bin/python bench/bench_projections.py [--events 200000] [--runs 3]
       [--rebuild-events 1000000] [--cases 1000000] [--skip-metrics] [--skip-rebuild]
Needs Kafka and PostgreSQL (``whistle dev up``, or WHISTLE_KAFKA_BOOTSTRAP / WHISTLE_DATABASE_URL).
Every figure is the median of ``--runs`` runs (p95 for the metrics queries).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import projections.projector as projector_module
from projections.apply import ApplyStats, apply_event, decode
from projections.migrate import migrate
from projections.model import Model
from projections.projector import Projector, ProjectorConfig, connect
from projections.rebuild import build, end_offsets, swap
from projections.rollups import refresh_all
from projections.tables import CASE_EVENTS, CASES, CHILD_TABLES, COHORT_COLUMNS
from tests.stories import random_stories
from whistle.read.resolution_metrics import metrics, rankings
from whistle.read.scope import Scope
from whistle.settings import get_settings

PLACEHOLDER = "case-PLACEHOLD"
BATCH = 20_000
"""The projector's default batch; the COPY baseline writes the same rows per batch of it."""


def make_events(n: int, templates: int = 2000, seed: int = 1) -> list[tuple[bytes, bytes]]:
    """About ``n`` encoded events (key, value): random stories cloned under fresh case ids."""
    rng = random.Random(seed)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    played = random_stories(rng, templates, t0, case_id=lambda _: PLACEHOLDER)
    stories = [story.encoded() for story in played]
    out: list[tuple[bytes, bytes]] = []
    case = 0
    marker = PLACEHOLDER.encode()
    while len(out) < n:
        case_id = f"case-{case:09d}".encode()
        for value in stories[case % templates]:
            out.append((case_id, value.replace(marker, case_id)))
        case += 1
    return out  # whole cases: a little over n


def with_database(dsn: str, database: str) -> str:
    """``dsn`` pointing at another database of the same server."""
    p = urlsplit(dsn)
    return urlunsplit((p.scheme, p.netloc, f"/{database}", p.query, p.fragment))


async def fresh_database(dsn: str) -> str:
    """Create an empty database; return its DSN."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(dsn, name)


async def drop_database(dsn: str, target: str) -> None:
    """Drop the database of ``target``."""
    name = urlsplit(target).path.lstrip("/")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def produce_all(bootstrap: str, topic: str, events: list[tuple[bytes, bytes]]) -> float:
    """Create ``topic`` (12 partitions) and produce ``events``; return seconds."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, get_settings().partitions, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1024 * 1024, acks=1
    )
    await producer.start()
    started = time.perf_counter()
    try:
        pending = []
        for key, value in events:
            pending.append(await producer.send(topic, value=value, key=key))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - started


Commits = list[tuple[float, int]]
"""(perf_counter at a batch's commit, events the batch covered), in commit order."""


async def project_sharded(
    dsn: str, bootstrap: str, topic: str, total: int, shards: int
) -> tuple[float, Commits]:
    """Run ``shards`` ``whistle projector --partitions`` processes until ``total`` is projected;
    return seconds from their start (imports included) to the poll that saw every record, and
    the polls that saw the checkpoints move, as commits (at most 50 ms late each)."""
    conn = await asyncpg.connect(dsn)
    await migrate(conn)
    parts = get_settings().partitions
    groups = [",".join(str(p) for p in range(i, parts, shards)) for i in range(shards)]
    started = time.perf_counter()
    commits: Commits = []
    seen = 0
    ready: float | None = None
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "whistle.cli",
                "projector",
                "--dsn",
                dsn,
                "--bootstrap",
                bootstrap,
                "--topic",
                topic,
                "--batch-size",
                str(BATCH),
                "--partitions",
                group,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for group in groups
    ]
    try:
        while True:
            rows, done = await conn.fetchrow(
                "SELECT count(*), coalesce(sum(next_offset), 0)::bigint FROM projection.checkpoints"
            )
            if rows == parts and ready is None:  # every shard has started and checkpointed
                ready = time.perf_counter() - started
                print(f"  shards ready after {ready:.2f} s (spawn, imports, connections)")
            if done > seen:
                commits.append((time.perf_counter(), done - seen))
                seen = done
            if done >= total:
                return time.perf_counter() - started, commits
            if any(c.poll() is not None for c in children):
                raise RuntimeError("a projector shard exited")
            await asyncio.sleep(0.05)
    finally:
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            child.wait(30)
        await conn.close()


def steady_rate(commits: Commits) -> float:
    """Events per second from the first commit to the last (the first batch not counted).

    The sustained rate without start-up (consumer start, connections, the first fetch and
    batch), measured the same way for the projector and the COPY loop. It flatters the
    projector in short runs: at its first commit its second batch is already mostly prepared
    (that work overlapped the first write), so the window holds one preparation less than it
    holds writes (docs/benchmarks-history.md, Projections, fourth pass)."""
    if len(commits) < 2:
        return float("nan")
    events = sum(n for _, n in commits[1:])
    return events / (commits[-1][0] - commits[0][0])


async def project_live(dsn: str, bootstrap: str, topic: str, total: int) -> tuple[float, Commits]:
    """Run the live projector from offset 0 until it has checkpointed ``total`` records;
    return seconds from its start to the poll that saw them all, and its commits."""
    projector = Projector(
        ProjectorConfig(dsn=dsn, bootstrap=bootstrap, topic=topic, batch_size=BATCH)
    )
    commits: Commits = []
    write_batch = projector_module.write_batch

    async def timed_write(conn: Any, batch: Any, config: Any) -> None:
        await write_batch(conn, batch, config)
        covered = sum(batch.positions[p].next_offset - batch.expected[p] for p in batch.expected)
        commits.append((time.perf_counter(), covered))

    conn = await asyncpg.connect(dsn)
    await migrate(conn)
    projector_module.write_batch = timed_write  # type: ignore[assignment]
    started = time.perf_counter()
    task = asyncio.create_task(projector.run())
    try:
        while True:
            done = await conn.fetchval(
                "SELECT coalesce(sum(next_offset), 0)::bigint FROM projection.checkpoints"
            )
            if done >= total:
                break
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        return time.perf_counter() - started, commits
    finally:
        projector.stop()
        await task
        projector_module.write_batch = write_batch  # type: ignore[assignment]
        await conn.close()


def equivalent_batches(events: list[tuple[bytes, bytes]]) -> list[dict[str, list[tuple[Any, ...]]]]:
    """The rows the projector writes per batch of ``BATCH`` events (timeline rows, and every
    row of each case the batch touched), keyed so batches never collide: a case touched by
    several batches gets one row per batch — same widths, same indexes, plain COPY."""
    batches = []
    model, stats = Model(), ApplyStats()
    for b, start in enumerate(range(0, len(events), BATCH)):
        for offset, (_, value) in enumerate(events[start : start + BATCH], start=start):
            event = decode(value)
            assert event is not None
            apply_event(model, event, value.decode(), 0, offset, stats)
        suffix = f"#{b}"
        touched = [model.cases[c] for c in model.dirty]
        rows: dict[str, list[tuple[Any, ...]]] = {
            "cases": [
                CASES.record({**r.case, "case_id": r.case["case_id"] + suffix}) for r in touched
            ]
        }
        for name, spec in CHILD_TABLES.items():
            rows[name] = [
                spec.record({**row, "case_id": row["case_id"] + suffix})
                for r in touched
                for row in r.children.get(name, {}).values()
            ]
        rows["case_events"] = [(t[0] + suffix, *t[1:]) for t in model.timeline]
        model.timeline, model.dirty = [], set()
        batches.append(rows)
    return batches


async def copy_baseline(
    dsn: str, batches: list[dict[str, list[tuple[Any, ...]]]]
) -> tuple[float, Commits]:
    """A plain copy_records_to_table loop: one transaction per batch, same tables; return
    seconds from its first COPY to its last commit, and its commits."""
    conn = await connect(dsn, "projection")
    await migrate(conn)
    columns = {"cases": CASES.column_names, "case_events": CASE_EVENTS.column_names}
    columns.update({n: s.column_names for n, s in CHILD_TABLES.items()})
    commits: Commits = []
    started = time.perf_counter()
    try:
        for rows in batches:
            async with conn.transaction():
                for name, records in rows.items():
                    if records:
                        await conn.copy_records_to_table(
                            name, records=records, columns=columns[name]
                        )
            commits.append((time.perf_counter(), len(rows["case_events"])))
        return time.perf_counter() - started, commits
    finally:
        await conn.close()


async def measure_projection(args: argparse.Namespace, dsn: str, bootstrap: str) -> None:
    """Live projector rate vs the COPY baseline, median of ``runs``."""
    t = time.perf_counter()
    events = make_events(args.events)
    n = len(events)
    print(f"generated {n:,} events in {time.perf_counter() - t:.1f} s")
    topic = f"bench.case-events-{uuid.uuid4().hex[:8]}"
    seconds = await produce_all(bootstrap, topic, events)
    print(f"produced to {topic} at {n / seconds:,.0f} ev/s")
    batches = equivalent_batches(events)
    live, base, live_steady, base_steady = [], [], [], []
    for run in range(args.runs):
        db = await fresh_database(dsn)
        try:
            if args.shards > 1:
                seconds, commits = await project_sharded(db, bootstrap, topic, n, args.shards)
                live.append(n / seconds)
                live_steady.append(steady_rate(commits))  # commits as seen by 50 ms polls
            else:
                seconds, commits = await project_live(db, bootstrap, topic, n)
                live.append(n / seconds)
                live_steady.append(steady_rate(commits))
        finally:
            await drop_database(dsn, db)
        db = await fresh_database(dsn)
        try:
            seconds, commits = await copy_baseline(db, batches)
            base.append(n / seconds)
            base_steady.append(steady_rate(commits))
        finally:
            await drop_database(dsn, db)
        print(
            f"run {run + 1}: projector {live[-1]:,.0f} ev/s, COPY baseline {base[-1]:,.0f} ev/s;"
            f" first to last commit: projector {live_steady[-1]:,.0f} ev/s, COPY baseline"
            f" {base_steady[-1]:,.0f} ev/s"
        )
    lm, bm = statistics.median(live), statistics.median(base)
    print(
        f"PROJECTION {n:,} events: projector median {lm:,.0f} ev/s; baseline median "
        f"{bm:,.0f} ev/s; ratio {lm / bm:.2f}"
    )
    lm, bm = statistics.median(live_steady), statistics.median(base_steady)
    print(
        f"PROJECTION {n:,} events, first to last commit: projector median {lm:,.0f} ev/s;"
        f" baseline median {bm:,.0f} ev/s; ratio {lm / bm:.2f}"
    )


async def measure_rebuild(args: argparse.Namespace, dsn: str, bootstrap: str) -> None:
    """Rebuild (replay into fresh tables + swap) of ``rebuild_events`` events."""
    if args.rebuild_topic:  # reuse a topic an earlier run produced
        topic = args.rebuild_topic
        n = sum((await end_offsets(bootstrap, topic)).values())
    else:
        t = time.perf_counter()
        events = make_events(args.rebuild_events, seed=2)
        n = len(events)
        print(f"generated {n:,} events in {time.perf_counter() - t:.1f} s")
        topic = f"bench.case-events-{uuid.uuid4().hex[:8]}"
        seconds = await produce_all(bootstrap, topic, events)
        print(f"produced to {topic} at {n / seconds:,.0f} ev/s")
        del events
    times = []
    for run in range(args.rebuild_runs):
        db = await fresh_database(dsn)
        try:
            started = time.perf_counter()
            result = await build(
                db, bootstrap, topic, "projection_rebuild", workers=args.rebuild_workers
            )
            await swap(db, "projection_rebuild")
            times.append(time.perf_counter() - started)
            print(
                f"rebuild run {run + 1}: {result.events:,} events, {result.cases:,} cases in "
                f"{times[-1]:.1f} s ({result.events / times[-1]:,.0f} ev/s)"
            )
        finally:
            await drop_database(dsn, db)
    print(
        f"REBUILD {n:,} events, {args.rebuild_workers} worker(s):"
        f" median {statistics.median(times):.1f} s"
    )


FILL_SQL = """
INSERT INTO projection.cases (case_id, applied_seq, status, category, area, district, street,
    community, raised_at, lead_department, departments, routed_at, resolved_at, reopen_count,
    callback_count, breach_count, updated_at)
SELECT 'c' || i, 8, CASE WHEN i % 10 = 0 THEN 'in_progress' ELSE 'closed' END,
       (ARRAY['parking','noise','vendors','sanitation','greening','property','water',
              'other'])[1 + i % 8],
       s.community, split_part(s.community, '.', 1),
       split_part(s.community, '.', 1) || '.' || split_part(s.community, '.', 2), s.community,
       r.raised, (ARRAY['um','tr','ps','ho','ca','ju','mr','env','gr','wa','fi'])[1 + (i / 7) % 11],
       ARRAY[(ARRAY['um','tr','ps','ho','ca','ju','mr','env','gr','wa','fi'])[1 + (i / 7) % 11]],
       r.raised, CASE WHEN i % 10 = 0 THEN NULL ELSE r.raised + (i % 200) * interval '1 hour' END,
       (i % 23 = 0)::int, 1, (i % 17 = 0)::int, r.raised
  FROM generate_series(1, $1) i
  CROSS JOIN LATERAL (SELECT timestamptz '2025-12-01 00:00+08'
        + (i::float8 / $1) * interval '365 days' AS raised) r
  CROSS JOIN LATERAL (SELECT 'd' || (i % 3) || '.s' || (i % 9) || '.c' || (i % 33)
        AS community) s;
INSERT INTO projection.assignments (case_id, department, role, dispatched_at, ack_due_at,
    acknowledged_at, acknowledged_in_time, dispute_count, {COHORT})
SELECT c.case_id, d.dept, d.role, c.raised_at, c.raised_at + interval '30 minutes',
       c.raised_at + (h.x % 50) * interval '1 minute', h.x % 50 <= 30, (h.x % 31 = 0)::int,
       {C_COHORT}
  FROM projection.cases c
  CROSS JOIN LATERAL (SELECT hashtext(c.case_id) & 1023 AS x) h
  CROSS JOIN LATERAL (VALUES (c.lead_department, 'lead'),
        (CASE WHEN h.x % 2 = 0 THEN 'sup' || (h.x % 5) END, 'supporting')) d(dept, role)
 WHERE d.dept IS NOT NULL;
INSERT INTO projection.callbacks (case_id, seq, department, solved, satisfied, called_at,
    {COHORT})
SELECT c.case_id, 7, c.lead_department, h.x % 10 <> 0, h.x % 7 <> 0,
       c.resolved_at + interval '1 hour', {C_COHORT}
  FROM projection.cases c CROSS JOIN LATERAL (SELECT hashtext(c.case_id) & 1023 AS x) h
 WHERE c.resolved_at IS NOT NULL;
INSERT INTO projection.clocks (case_id, clock, department, started_at, due_at, breaches, status,
    {COHORT})
SELECT c.case_id, 'resolve', c.lead_department, c.raised_at, c.raised_at + interval '7 days',
       c.breach_count, 'met', {C_COHORT}
  FROM projection.cases c;
ANALYZE;
""".replace("{COHORT}", ", ".join(COHORT_COLUMNS)).replace(
    "{C_COHORT}", ", ".join(f"c.{c}" for c in COHORT_COLUMNS)
)


async def timed(fn: Callable[[], Awaitable[Any]]) -> float:
    """Milliseconds one call takes."""
    started = time.perf_counter()
    await fn()
    return (time.perf_counter() - started) * 1000


async def measure_metrics(args: argparse.Namespace, dsn: str) -> None:
    """p95 of typical dashboard queries over ``cases`` synthetic cases."""
    db = await fresh_database(dsn)
    try:
        conn = await asyncpg.connect(db)
        await migrate(conn)
        started = time.perf_counter()
        await conn.execute("SET max_parallel_workers_per_gather = 2")
        for statement in FILL_SQL.split(";\n"):
            if statement.strip():
                if "$1" in statement:
                    await conn.execute(statement.replace("$1", str(args.cases)))
                else:
                    await conn.execute(statement)
        await conn.execute("SET search_path TO projection, public")
        await refresh_all(conn)  # the daily roll-ups the projector would have maintained
        await conn.execute("ANALYZE projection.metric_days")
        counts = {
            t: await conn.fetchval(f"SELECT count(*) FROM projection.{t}")
            for t in ("cases", "assignments", "callbacks", "clocks", "metric_days")
        }
        print(f"filled {counts} in {time.perf_counter() - started:.1f} s")
        cst = datetime(2026, 6, 1, tzinfo=UTC) - timedelta(hours=8)
        month = (cst, cst + timedelta(days=30))
        week = (cst, cst + timedelta(days=7))
        queries: dict[str, Callable[[], Awaitable[Any]]] = {
            "department×month, 1 month, all areas": lambda: metrics(
                conn, "department", "month", *month
            ),
            "department ranking, 1 month": lambda: rankings(conn, "department", *month),
            "community×week, 1 month, one district": lambda: metrics(
                conn, "community", "week", *month, Scope(area="d1")
            ),
            "category×day, 1 week, one street": lambda: metrics(
                conn, "category", "day", *week, Scope(area="d1.s4")
            ),
            "community ranking, 1 month, one street": lambda: rankings(
                conn, "community", *month, Scope(area="d2.s5")
            ),
            "one department×week, 1 month": lambda: metrics(
                conn, "department", "week", *month, Scope(department="um")
            ),
        }
        all_ms: list[float] = []
        for name, fn in queries.items():
            await fn()  # warm
            ms = sorted([await timed(fn) for _ in range(args.query_runs)])
            all_ms += ms
            p95 = ms[int(0.95 * (len(ms) - 1))]
            print(f"  {name:45s} median {statistics.median(ms):7.1f} ms  p95 {p95:7.1f} ms")
        all_ms.sort()
        print(
            f"METRICS over {counts['cases']:,} cases: p95 of all queries "
            f"{all_ms[int(0.95 * (len(all_ms) - 1))]:.1f} ms"
        )
        await conn.close()
    finally:
        await drop_database(dsn, db)


async def main() -> None:
    """Run the selected measurements."""
    global BATCH  # one setting for the whole run
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--shards", type=int, default=1, help="projector processes")
    parser.add_argument("--batch", type=int, default=BATCH, help="projector and baseline batch")
    parser.add_argument("--rebuild-events", type=int, default=1_000_000)
    parser.add_argument("--rebuild-runs", type=int, default=1)
    parser.add_argument("--rebuild-topic", default=None, help="replay this existing topic")
    parser.add_argument("--rebuild-workers", type=int, default=1, help="replay processes")
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--query-runs", type=int, default=30)
    parser.add_argument("--skip-projection", action="store_true")
    parser.add_argument("--skip-rebuild", action="store_true")
    parser.add_argument("--skip-metrics", action="store_true")
    parser.add_argument("--dsn", default=None)
    parser.add_argument("--bootstrap", default=None)
    args = parser.parse_args()
    BATCH = args.batch
    settings = get_settings()
    dsn, bootstrap = args.dsn or settings.dsn, args.bootstrap or settings.bootstrap
    if not args.skip_projection:
        await measure_projection(args, dsn, bootstrap)
    if not args.skip_rebuild:
        await measure_rebuild(args, dsn, bootstrap)
    if not args.skip_metrics:
        await measure_metrics(args, dsn)


if __name__ == "__main__":
    asyncio.run(main())

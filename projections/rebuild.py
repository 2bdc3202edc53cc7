"""Replay the whole log into fresh tables, then swap them in atomically; and compare with live."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from projections.apply import ApplyStats, apply_event, decode, gc_paused
from projections.migrate import LIVE_SCHEMA, migrate, quote_ident
from projections.model import Model
from projections.projector import connect, topic_partitions
from projections.readmodel_store import (
    DEFAULT_PROJECTOR,
    Position,
    copy_rows,
    read_checkpoints,
    write_cases,
    write_checkpoints,
    write_timeline,
)
from projections.rollups import refresh_all
from projections.tables import TABLES
from whistle.logs import configure_logging, get_logger

log = get_logger()

Progress = Callable[[int, int, float], None]
TIMELINE_CHUNK = 50_000
JSON_COLUMNS = frozenset({"body"})
"""Columns of type json (no equality operator): compared as text."""
CASE_CHUNK = 50_000


def print_progress(done: int, total: int, elapsed: float) -> None:
    """A one-line progress bar on stderr: events, events/s, ETA."""
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = (total - done) / rate if rate > 0 else float("inf")
    width = 30
    filled = int(width * done / total) if total else width
    bar = "#" * filled + "-" * (width - filled)
    sys.stderr.write(f"\r[{bar}] {done:,}/{total:,} events  {rate:,.0f} ev/s  ETA {eta:,.0f} s   ")
    sys.stderr.flush()


@dataclass
class RebuildResult:
    """What a rebuild did."""

    schema: str
    events: int
    cases: int
    seconds: float
    positions: dict[int, int]
    stats: ApplyStats = field(default_factory=ApplyStats)

    @property
    def rate(self) -> float:
        """Records per second."""
        return self.events / self.seconds if self.seconds else 0.0


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """The current end offset of every partition of ``topic``."""
    parts = await topic_partitions(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in parts]
        ends = await consumer.end_offsets(tps)
        return {tp.partition: int(off) for tp, off in ends.items()}
    finally:
        await consumer.stop()


def _apply_fetched(
    fetched: dict[TopicPartition, list[Any]],
    until: dict[int, int],
    model: Model,
    stats: ApplyStats,
    positions: dict[int, Position],
) -> int:
    """Apply fetched records below ``until`` and move ``positions``; the records applied."""
    done = 0
    for tp, records in fetched.items():
        end = until[tp.partition]
        last_at = positions[tp.partition].last_event_at
        for rec in records:
            if rec.offset >= end:
                break
            event = decode(rec.value)
            if event is None:
                stats.invalid += 1
                log.error("event_undecodable", partition=tp.partition, offset=rec.offset)
            else:
                apply_event(model, event, rec.value.decode(), tp.partition, rec.offset, stats)
                last_at = datetime.fromisoformat(event["occurred_at"])
            done += 1
            positions[tp.partition] = Position(rec.offset + 1, end, last_at)
    return done


async def replay(
    conn: asyncpg.Connection,
    bootstrap: str,
    topic: str,
    until: dict[int, int],
    progress: Progress | None = None,
) -> tuple[Model, ApplyStats, dict[int, Position], int]:
    """Apply the log from its beginning up to ``until`` offsets; timeline rows are written
    as they come, case rows are left in the returned model."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    model, stats = Model(), ApplyStats()
    positions = {p: Position(0, end) for p, end in until.items()}
    writing: asyncio.Task[None] | None = None
    try:
        tps = [TopicPartition(topic, p) for p, end in until.items() if end > 0]
        consumer.assign(tps)
        starts = await consumer.beginning_offsets(tps) if tps else {}
        for tp in tps:
            consumer.seek(tp, starts[tp])
        total = sum(until[tp.partition] - starts[tp] for tp in tps)
        pending = {tp for tp in tps if starts[tp] < until[tp.partition]}
        done, started, shown = 0, time.monotonic(), 0.0
        while pending:
            fetched = await consumer.getmany(*pending, timeout_ms=500, max_records=20_000)
            with gc_paused():
                done += _apply_fetched(fetched, until, model, stats, positions)
            for tp in fetched:
                end = until[tp.partition]
                last_at = positions[tp.partition].last_event_at
                if positions[tp.partition].next_offset < end and await consumer.position(tp) >= end:
                    positions[tp.partition] = Position(end, end, last_at)  # markers, gaps
                if positions[tp.partition].next_offset >= end:
                    pending.discard(tp)
                    consumer.pause(tp)
            if len(model.timeline) >= TIMELINE_CHUNK:  # COPY it while replay goes on
                if writing is not None:
                    await writing
                chunk, model.timeline = model.timeline, []
                writing = asyncio.create_task(copy_rows(conn, {"case_events": chunk}))
            now = time.monotonic()
            if progress and now - shown >= 1.0:
                progress(done, total, now - started)
                shown = now
        if writing is not None:
            await writing
            writing = None
        await write_timeline(conn, model)
        if progress:
            progress(done, total, time.monotonic() - started)
        stats.older.clear()
        return model, stats, positions, done
    finally:
        if writing is not None and not writing.done():
            writing.cancel()
            with contextlib.suppress(BaseException):
                await writing
        await consumer.stop()


async def replay_into(
    dsn: str,
    bootstrap: str,
    topic: str,
    schema: str,
    until: dict[int, int],
    progress: Progress | None = None,
) -> tuple[int, int, ApplyStats, dict[int, Position]]:
    """Replay ``until``'s partitions into an existing schema: events, cases, stats, positions."""
    conn = await connect(dsn, schema)
    try:
        model, stats, positions, events = await replay(conn, bootstrap, topic, until, progress)
        ids = list(model.cases)
        with gc_paused():
            for i in range(0, len(ids), CASE_CHUNK):
                await write_cases(conn, model, ids[i : i + CASE_CHUNK], replace=False)
        return events, len(ids), stats, positions
    finally:
        await conn.close()


async def _replay_in_workers(
    dsn: str, bootstrap: str, topic: str, schema: str, until: dict[int, int], workers: int
) -> tuple[int, int, ApplyStats, dict[int, Position]]:
    """Replay each partition in a process of its own (cases never span partitions), at most
    ``workers`` at a time. A replaying process holds every case of its partition until it
    writes them (~13 KiB a case), so one partition each bounds its memory: at 1,000,000 cases
    over 4 partitions, ~3 GiB a process instead of twice that with two partitions each."""
    slots = asyncio.Semaphore(workers)

    async def one(partition: int) -> bytes:
        async with slots:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "projections.rebuild",
                dsn,
                bootstrap,
                topic,
                schema,
                f"{partition}:{until[partition]}",
                stdout=asyncio.subprocess.PIPE,
            )
            out, _ = await proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(f"rebuild worker failed with exit code {proc.returncode}")
            return out

    outputs = await asyncio.gather(*(one(p) for p in sorted(until)))
    events = cases = 0
    stats = ApplyStats()
    positions: dict[int, Position] = {}
    for out in outputs:
        result = json.loads(out.decode().strip().splitlines()[-1])
        events += result["events"]
        cases += result["cases"]
        for name in ("applied", "duplicates", "conflicts", "invalid", "gaps", "unknown_types"):
            setattr(stats, name, getattr(stats, name) + result["stats"][name])
        for p, (next_offset, hw, last_at) in result["positions"].items():
            at = datetime.fromisoformat(last_at) if last_at else None
            positions[int(p)] = Position(next_offset, hw, at)
    return events, cases, stats, positions


async def build(
    dsn: str,
    bootstrap: str,
    topic: str,
    schema: str,
    until: dict[int, int] | None = None,
    projector: str = DEFAULT_PROJECTOR,
    progress: Progress | None = None,
    workers: int = 1,
) -> RebuildResult:
    """Build the read models of ``topic`` (up to ``until``, default its end) into a new schema;
    with ``workers`` > 1, partitions are replayed by that many processes."""
    started = time.monotonic()
    until = until if until is not None else await end_offsets(bootstrap, topic)
    conn = await connect(dsn, schema)
    try:
        await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
        await migrate(conn, schema)
        if workers > 1:
            events, cases, stats, positions = await _replay_in_workers(
                dsn, bootstrap, topic, schema, until, workers
            )
        else:
            events, cases, stats, positions = await replay_into(
                dsn, bootstrap, topic, schema, until, progress
            )
        await refresh_all(conn)
        await write_checkpoints(conn, projector, topic, positions)
        await conn.execute(f"ANALYZE {quote_ident(schema)}.cases")
    finally:
        await conn.close()
    return RebuildResult(
        schema,
        events,
        cases,
        time.monotonic() - started,
        {p: pos.next_offset for p, pos in positions.items()},
        stats,
    )


async def swap(dsn: str, built: str, live: str = LIVE_SCHEMA) -> None:
    """Replace schema ``live`` by ``built`` in one transaction (readers see old or new, whole)."""
    conn = await asyncpg.connect(dsn)
    try:
        old = f"{live}_old"
        async with conn.transaction():
            await conn.execute("SET LOCAL lock_timeout = '30s'")
            await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(old)} CASCADE")
            exists = await conn.fetchval("SELECT true FROM pg_namespace WHERE nspname = $1", live)
            if exists:
                await conn.execute(f"ALTER SCHEMA {quote_ident(live)} RENAME TO {quote_ident(old)}")
            await conn.execute(f"ALTER SCHEMA {quote_ident(built)} RENAME TO {quote_ident(live)}")
            if exists:
                await conn.execute(f"DROP SCHEMA {quote_ident(old)} CASCADE")
    finally:
        await conn.close()


async def rebuild(
    dsn: str,
    bootstrap: str,
    topic: str,
    live: str = LIVE_SCHEMA,
    projector: str = DEFAULT_PROJECTOR,
    progress: Progress | None = None,
    workers: int = 1,
) -> RebuildResult:
    """Rebuild every read model from the log into fresh tables and swap them in."""
    result = await build(
        dsn, bootstrap, topic, f"{live}_rebuild", None, projector, progress, workers
    )
    await swap(dsn, result.schema, live)
    result.schema = live
    return result


@dataclass
class TableDiff:
    """Rows only in the live table and only in the rebuilt one (counts and sample keys)."""

    table: str
    only_live: int
    only_rebuilt: int
    samples: list[dict[str, Any]]


async def snapshot_live(
    conn: asyncpg.Connection, live: str, copy: str, projector: str, topic: str
) -> dict[int, int]:
    """Copy the live tables and read their checkpoint in one consistent snapshot."""
    qc, ql = quote_ident(copy), quote_ident(live)
    await conn.execute(f"DROP SCHEMA IF EXISTS {qc} CASCADE")
    await conn.execute(f"CREATE SCHEMA {qc}")
    async with conn.transaction(isolation="repeatable_read", readonly=False):
        await conn.execute(f"SET LOCAL search_path TO {ql}")
        positions = await read_checkpoints(conn, projector, topic)
        for name in TABLES:
            await conn.execute(f"CREATE TABLE {qc}.{name} AS SELECT * FROM {ql}.{name}")
    return {p: pos.next_offset for p, pos in positions.items()}


async def compare(conn: asyncpg.Connection, live: str, rebuilt: str) -> list[TableDiff]:
    """Differences between two copies of the read models, table by table."""
    diffs: list[TableDiff] = []
    for name, spec in TABLES.items():
        cols = ", ".join(f"{c}::text" if c in JSON_COLUMNS else c for c in spec.column_names)
        key = ", ".join(spec.key)
        a, b = f"{quote_ident(live)}.{name}", f"{quote_ident(rebuilt)}.{name}"
        only_a = f"SELECT {cols} FROM {a} EXCEPT ALL SELECT {cols} FROM {b}"
        only_b = f"SELECT {cols} FROM {b} EXCEPT ALL SELECT {cols} FROM {a}"
        n_a = await conn.fetchval(f"SELECT count(*) FROM ({only_a}) d")
        n_b = await conn.fetchval(f"SELECT count(*) FROM ({only_b}) d")
        if n_a or n_b:
            samples = [
                {"side": "live", **dict(r)}
                for r in await conn.fetch(f"SELECT {key} FROM ({only_a}) d ORDER BY 1 LIMIT 5")
            ] + [
                {"side": "rebuilt", **dict(r)}
                for r in await conn.fetch(f"SELECT {key} FROM ({only_b}) d ORDER BY 1 LIMIT 5")
            ]
            diffs.append(TableDiff(name, int(n_a), int(n_b), samples))
    return diffs


async def check(
    dsn: str,
    bootstrap: str,
    topic: str,
    live: str = LIVE_SCHEMA,
    projector: str = DEFAULT_PROJECTOR,
    progress: Progress | None = None,
) -> tuple[list[TableDiff], RebuildResult]:
    """Rebuild into a scratch schema up to the live checkpoint and compare with live."""
    copy, scratch = f"{live}_check_live", f"{live}_check"
    conn = await asyncpg.connect(dsn)
    try:
        until = await snapshot_live(conn, live, copy, projector, topic)
        result = await build(dsn, bootstrap, topic, scratch, until, projector, progress)
        diffs = await compare(conn, copy, scratch)
        for schema in (copy, scratch):
            await conn.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
        return diffs, result
    finally:
        await conn.close()


async def _worker(argv: list[str]) -> None:
    """``python -m projections.rebuild DSN BOOTSTRAP TOPIC SCHEMA P:END,...``: one worker."""
    dsn, bootstrap, topic, schema, spec = argv
    configure_logging("json")  # on stderr: stdout carries the result
    until = {int(p): int(end) for p, end in (item.split(":") for item in spec.split(","))}
    events, cases, stats, positions = await replay_into(dsn, bootstrap, topic, schema, until)
    print(
        json.dumps(
            {
                "events": events,
                "cases": cases,
                "stats": {k: v for k, v in vars(stats).items() if k != "older"},
                "positions": {
                    p: [
                        pos.next_offset,
                        pos.high_watermark,
                        pos.last_event_at.isoformat() if pos.last_event_at else None,
                    ]
                    for p, pos in positions.items()
                },
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(_worker(sys.argv[1:]))

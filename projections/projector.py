"""The live projector: Kafka case events → PostgreSQL read models, checkpointed per batch."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from projections.apply import ApplyStats, apply_event, decode, gc_paused
from projections.dead_letters import DeadLetters, dead_letter_topic
from projections.migrate import LIVE_SCHEMA, migrate, quote_ident
from projections.model import Model
from projections.readmodel_store import (
    DEFAULT_PROJECTOR,
    CheckpointMoved,
    Position,
    advance_checkpoints,
    applied_event_ids,
    case_records,
    copy_rows,
    delete_cases,
    init_checkpoints,
    load_cases,
    read_checkpoints,
)
from projections.rollups import apply_facts, capture_facts
from whistle.logs import get_logger
from whistle.settings import get_settings

log = get_logger()

YIELD_EVERY = 100
"""Records decoded or applied between two yields to the event loop (see ``prepare_batch``).

Each yield lets the in-flight write go on: asyncpg's COPY hands PostgreSQL 512 KiB, then waits
for the socket to drain, which happens only while the loop runs. At 500 records (~15 ms of
decoding and applying) a batch's ~15 MB of COPY data waited for ~30 such slices, and the
previous batch's write, not the Python work, set the pace; at 100 it keeps up."""
CASES_PER_SLICE = 1_000
"""Cases snapshotted as COPY records between two yields (see ``_apply_batch``)."""

DB_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.InternalClientError,
    asyncpg.InvalidCachedStatementError,
    asyncpg.UndefinedTableError,
    CheckpointMoved,
    TimeoutError,
)
"""Failures after which the projector reconnects, re-reads its checkpoint and carries on."""


@dataclass
class ProjectorConfig:
    """Where to read, where to write, and how much at a time."""

    dsn: str = field(default_factory=lambda: get_settings().dsn)
    bootstrap: str = field(default_factory=lambda: get_settings().bootstrap)
    topic: str = field(default_factory=lambda: get_settings().topic("case-events"))
    schema: str = LIVE_SCHEMA
    projector: str = DEFAULT_PROJECTOR
    batch_size: int = 20_000
    poll_ms: int = 200
    heartbeat_s: float = 5.0
    max_backoff_s: float = 10.0
    cache_cases: int = 200_000
    partitions: tuple[int, ...] | None = None
    """Project only these partitions (shards: one projector process per subset); None: all."""


async def connect(dsn: str, schema: str) -> asyncpg.Connection:
    """A connection whose search_path is the read-model ``schema``."""
    return await asyncpg.connect(
        dsn, server_settings={"search_path": f"{quote_ident(schema)}, public"}, timeout=10
    )


@dataclass
class PreparedBatch:
    """A batch applied in memory and snapshotted as COPY records, ready to be written."""

    stats: ApplyStats
    dirty: list[str]
    replace: list[str]
    rows: dict[str, list[tuple[Any, ...]]]
    expected: dict[int, int]
    positions: dict[int, Position]
    invalid: list[Any] = field(default_factory=list)
    """Records that are not readable case events (dead-lettered by the live projector)."""


async def prepare_batch(
    read_conn: asyncpg.Connection,
    records: Mapping[int, list[Any]],
    positions: Mapping[int, Position],
    high_watermarks: Mapping[int, int],
    model: Model,
) -> PreparedBatch:
    """Decode and apply a batch to the cached rows (loading the missing cases first).

    Runs while the previous batch is being written on another connection: it yields every
    ``YIELD_EVERY`` records so that the event loop keeps feeding that batch's COPY to
    PostgreSQL, and the cyclic garbage collector waits until the batch is prepared.
    """
    with gc_paused():
        decoded: list[tuple[int, Any, dict[str, Any] | None]] = []
        wanted: set[str] = set()
        for partition, recs in records.items():
            for start in range(0, len(recs), YIELD_EVERY):
                for rec in recs[start : start + YIELD_EVERY]:
                    event = decode(rec.value)
                    decoded.append((partition, rec, event))
                    if event is not None:
                        wanted.add(event["case_id"])
                await asyncio.sleep(0)  # let the previous batch's COPY go on meanwhile
        model.dirty, model.timeline = set(), []
        await load_cases(read_conn, model, wanted)
        return await _apply_batch(decoded, positions, high_watermarks, model)


async def _apply_batch(
    decoded: list[tuple[int, Any, dict[str, Any] | None]],
    positions: Mapping[int, Position],
    high_watermarks: Mapping[int, int],
    model: Model,
) -> PreparedBatch:
    """Apply decoded records to the cached rows and snapshot the touched cases' records."""
    stats = ApplyStats()
    last_offset: dict[int, int] = {}
    last_event: dict[int, dict[str, Any]] = {}
    invalid: list[Any] = []
    for start in range(0, len(decoded), YIELD_EVERY):
        for partition, rec, event in decoded[start : start + YIELD_EVERY]:
            offset = rec.offset
            if event is None:
                stats.invalid += 1
                invalid.append(rec)
                log.error("event_undecodable", partition=partition, offset=offset)
            else:
                apply_event(model, event, rec.value.decode(), partition, offset, stats)
                last_event[partition] = event
            last_offset[partition] = offset
        await asyncio.sleep(0)
    new_positions = {
        p: Position(
            offset + 1,
            high_watermarks.get(p, offset + 1),
            datetime.fromisoformat(last_event[p]["occurred_at"])
            if p in last_event
            else positions[p].last_event_at,
        )
        for p, offset in last_offset.items()
    }
    dirty = list(model.dirty)
    replace = [c for c in dirty if c in model.stored]
    model.stored.update(dirty)  # stored once this batch commits; else the cache is dropped
    rows: dict[str, list[tuple[Any, ...]]] = {}
    for start in range(0, len(dirty), CASES_PER_SLICE):
        for name, records in case_records(model, dirty[start : start + CASES_PER_SLICE]).items():
            rows.setdefault(name, []).extend(records)
        await asyncio.sleep(0)
    rows["case_events"] = model.timeline
    model.timeline, model.dirty = [], set()
    return PreparedBatch(
        stats,
        dirty,
        replace,
        rows,
        {p: positions[p].next_offset for p in last_offset},
        new_positions,
        invalid=invalid,
    )


async def write_batch(
    conn: asyncpg.Connection, batch: PreparedBatch, config: ProjectorConfig
) -> None:
    """Write a prepared batch and advance the checkpoints (fenced), in one transaction."""
    async with conn.transaction():
        await _check_older(conn, batch.stats)
        await capture_facts(conn, batch.replace)
        await delete_cases(conn, batch.replace)
        await copy_rows(conn, batch.rows)
        await apply_facts(conn, batch.dirty)
        await advance_checkpoints(
            conn, config.projector, config.topic, batch.expected, batch.positions
        )


async def _check_older(conn: asyncpg.Connection, stats: ApplyStats) -> None:
    """Log as errors the re-delivered old seqs whose event id differs from the applied one."""
    if not stats.older:
        return
    known = await applied_event_ids(conn, stats.older)
    for case_id, seq, event_id in stats.older:
        if known.get((case_id, seq), event_id) != event_id:
            stats.conflicts += 1
            log.error("event_seq_conflict", case_id=case_id, seq=seq, event_id=event_id)
    stats.older.clear()


WATCH_S = 1.0
"""How often a batch being written looks whether its connection is still there."""


async def written(task: asyncio.Task[None], conn: asyncpg.Connection) -> None:
    """Wait for the write ``task`` on ``conn``; if the connection is lost meanwhile, cancel it
    and raise ``ConnectionDoesNotExistError`` (the projector then reconnects).

    asyncpg 0.32's COPY waits for the transport to allow writing again with no bound, and a
    connection lost while the transport is paused (a large COPY under load when the server
    stops) never allows it: without this watch the projector hung until killed."""
    while True:
        done, _ = await asyncio.wait({task}, timeout=WATCH_S)
        if done:
            return task.result()
        if conn.is_closed():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            raise asyncpg.ConnectionDoesNotExistError("connection lost while writing a batch")


class Projector:
    """Runs until stopped; the database, not Kafka, holds its position."""

    def __init__(self, config: ProjectorConfig | None = None) -> None:
        self.config = config or ProjectorConfig()
        self.totals = ApplyStats()
        self.retries = 0
        self._stop = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._cache = Model()
        dead = dead_letter_topic(self.config.topic)
        live = self.config.schema == LIVE_SCHEMA  # a rebuild re-reads what was dead-lettered
        self._dead_letters = DeadLetters(self.config.bootstrap, dead) if dead and live else None

    def stop(self) -> None:
        """Ask the loop to finish its current batch and return."""
        self._stop.set()

    async def run(self) -> None:
        """Consume, project and checkpoint until ``stop()``; reconnect on database failures."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.config.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_max_bytes=32 * 1024 * 1024,
        )
        await consumer.start()
        self._consumer = consumer
        try:
            tps = await self._assign(consumer)
            backoff = 0.2
            while not self._stop.is_set():
                conn: asyncpg.Connection | None = None
                read_conn: asyncpg.Connection | None = None
                try:
                    conn = await connect(self.config.dsn, self.config.schema)
                    read_conn = await connect(self.config.dsn, self.config.schema)
                    self._cache = Model()  # the database may have changed while away
                    if self.config.schema == LIVE_SCHEMA:
                        await migrate(conn, self.config.schema)
                    await init_checkpoints(
                        conn, self.config.projector, self.config.topic, [tp.partition for tp in tps]
                    )
                    stored = await read_checkpoints(conn, self.config.projector, self.config.topic)
                    positions = {tp.partition: stored[tp.partition] for tp in tps}
                    for tp in tps:
                        consumer.seek(tp, positions[tp.partition].next_offset)
                    log.info(
                        "projector_started", topic=self.config.topic, schema=self.config.schema
                    )
                    backoff = 0.2
                    await self._loop(conn, read_conn, consumer, positions)
                except DB_ERRORS as exc:
                    self.retries += 1
                    log.warning("projector_retry", error=repr(exc), backoff_s=backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self.config.max_backoff_s)
                finally:
                    for c in (conn, read_conn):
                        if c is not None:
                            c.terminate()
        finally:
            await consumer.stop()
            if self._dead_letters is not None:
                await self._dead_letters.stop()

    async def _assign(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        """Assign every partition of the topic, waiting for the topic to exist."""
        parts = await topic_partitions(self.config.bootstrap, self.config.topic)
        if self.config.partitions is not None:
            parts = [p for p in parts if p in self.config.partitions]
        tps = [TopicPartition(self.config.topic, p) for p in parts]
        consumer.assign(tps)
        return tps

    async def _loop(
        self,
        conn: asyncpg.Connection,
        read_conn: asyncpg.Connection,
        consumer: AIOKafkaConsumer,
        positions: dict[int, Position],
    ) -> None:
        """Fetch, apply and write batches; batch N+1 is applied while batch N is written."""
        last_beat = time.monotonic()
        planned = dict(positions)
        inflight: tuple[asyncio.Task[None], PreparedBatch] | None = None
        try:
            while not self._stop.is_set():
                fetched = await consumer.getmany(
                    timeout_ms=self.config.poll_ms, max_records=self.config.batch_size
                )
                records = {tp.partition: recs for tp, recs in fetched.items() if recs}
                hws = {tp.partition: consumer.highwater(tp) or 0 for tp in consumer.assignment()}
                if records:
                    batch = await prepare_batch(read_conn, records, planned, hws, self._cache)
                    if batch.invalid and self._dead_letters is not None:
                        await self._dead_letters.send(batch.invalid, self.config.topic)
                    planned.update(batch.positions)
                    if inflight is not None:
                        await self._finish(conn, inflight, positions, protect=set(batch.dirty))
                    task = asyncio.create_task(write_batch(conn, batch, self.config))
                    inflight = (task, batch)
                    last_beat = time.monotonic()
                    continue
                if inflight is not None:
                    await self._finish(conn, inflight, positions)
                    inflight = None
                if time.monotonic() - last_beat >= self.config.heartbeat_s:
                    await self._heartbeat(conn, positions, hws)
                    planned = dict(positions)
                    last_beat = time.monotonic()
            if inflight is not None:
                await self._finish(conn, inflight, positions)
                inflight = None
        except BaseException:
            self._cache = Model()  # rows of an unwritten batch must not survive
            if inflight is not None and not inflight[0].done():
                inflight[0].cancel()
                with contextlib.suppress(BaseException):
                    await inflight[0]
            raise

    async def _finish(
        self,
        conn: asyncpg.Connection,
        inflight: tuple[asyncio.Task[None], PreparedBatch],
        positions: dict[int, Position],
        protect: set[str] | None = None,
    ) -> None:
        """Wait for a written batch (raising its failure), then account for it."""
        task, batch = inflight
        await written(task, conn)
        positions.update(batch.positions)
        self.totals.add(batch.stats)
        self._cache.evict(self.config.cache_cases, protect or set())

    async def _heartbeat(
        self, conn: asyncpg.Connection, positions: dict[int, Position], hws: Mapping[int, int]
    ) -> None:
        """Record the partitions' high watermarks while idle (for the lag metric)."""
        moved = {
            p: Position(pos.next_offset, max(hws.get(p, 0), pos.next_offset), pos.last_event_at)
            for p, pos in positions.items()
        }
        async with conn.transaction():
            await advance_checkpoints(
                conn,
                self.config.projector,
                self.config.topic,
                {p: pos.next_offset for p, pos in positions.items()},
                moved,
            )
        positions.update(moved)


async def topic_partitions(bootstrap: str, topic: str, wait_s: float = 1.0) -> list[int]:
    """The partition numbers of ``topic``, waiting until the topic exists."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        while True:
            described = await admin.describe_topics([topic])
            parts = sorted(p["partition"] for d in described for p in d["partitions"])
            if parts:
                return parts
            log.info("projector_waiting_for_topic", topic=topic)
            await asyncio.sleep(wait_s)
    finally:
        await admin.close()


async def run_projector(config: ProjectorConfig | None = None) -> Projector:
    """Run a projector until SIGTERM/SIGINT; return it (with its totals)."""
    import signal

    projector = Projector(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, projector.stop)
    await projector.run()
    return projector

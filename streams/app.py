"""The Faust application: topics, tables and thin agents around the pure core."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import TP
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams import metrics
from streams.batching import take_ready
from streams.deadlines import DeadlineHeap, DueDeadline, Pending
from streams.decider import (
    FIRED_HEADER,
    BatchResult,
    CommandRecord,
    by_urgency,
    decide_batch,
    decode_state,
    pending_in,
)
from streams.producer import Keyed, LazyProducer, partition_of
from streams.transport import use_short_fetch_wait
from whistle.config.follower import ConfigFollower
from whistle.config.seed import configured_seed
from whistle.domain import (
    breach_command,
    deadline_command,
    pending_deadlines,
    route,
)
from whistle.domain import encode as encode_message
from whistle.domain.areas import use_areas
from whistle.domain.calendar import use_calendar
from whistle.domain.commands import RouteCase
from whistle.domain.events import WhistleRaised
from whistle.logs import get_logger
from whistle.settings import Settings
from whistle.topics import CASE_COMMANDS, CASE_EVENTS, CASE_REPLIES, DEAD_LETTERS, TopicSpec

log = get_logger()

TICK_S = 0.1
BATCH_QUIET_S = 0.005
BATCH_EAGER_BELOW = 200
"""A batch of fewer commands than this, or any batch while deadline firings are in flight, is
decided once no new command has arrived for ``BATCH_QUIET_S``; a larger one gathers for the
batch window (``streams.batching``)."""
DEADLINE_COMMANDS_IN_FLIGHT = (20, 2000)
"""Bounds of the fired deadline commands not yet taken by the decider. Within them the number
is kept to ``WHISTLE_DEADLINE_QUEUE_S`` of the decider's time (its measured cost per command)
and topped up as soon as the decider takes a batch: a mass expiry is fed to the decider at its
own pace, the next round waiting while the current one is decided, so a whistle raised
meanwhile waits behind one round of breaches, not behind a hundred thousand of them."""
STALLED_S = 10.0
INDEX_SLICE = 2000
"""Cases indexed between yields to the event loop while the deadline index is rebuilt."""
REREADS_PER_GAP = 3
"""Seeks back to one skipped offset before the worker accepts the jump (records deleted by
retention while the group was behind leave a gap no re-read can fill)."""
ROCKSDB_OPTIONS = {
    "block_cache_size": 64 * 1024**2,  # default is 2 GiB per DB; 12 partitions × 2 tables
    "write_buffer_size": 8 * 1024**2,
    "max_write_buffer_number": 2,
    "max_open_files": 256,
}


class Streams:
    """Wires topics, tables, the decider, the router and the deadline scanner on one app."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        datadir = settings.state_dir / "workers" / settings.worker_id
        datadir.mkdir(parents=True, exist_ok=True)
        self.app = faust.App(
            f"{settings.topic_prefix}-streams",
            broker=[f"kafka://{host}" for host in settings.bootstrap.split(",")],
            store="rocksdb://",
            datadir=str(datadir),
            topic_partitions=settings.partitions,
            topic_replication_factor=settings.replication_factor,
            consumer_auto_offset_reset="earliest",
            producer_acks=-1,
            producer_linger_ms=5,
            web_host="127.0.0.1",
            web_port=settings.worker_web_port,
            web_in_thread=False,
            table_cleanup_interval=3600.0,
            # Static membership: a restarted worker takes its partitions back at once.
            consumer_group_instance_id=f"{settings.topic_prefix}-{settings.worker_id}",
            broker_session_timeout=settings.session_timeout_s,
            broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 4),
            broker_rebalance_timeout=2 * settings.session_timeout_s,
        )
        use_short_fetch_wait(self.app)
        self.commands = self._raw_topic(CASE_COMMANDS.name)
        # Raw byte keys; each write is made in the context of the command record it comes
        # from, so the state lands in the partition of the case's commands (co-partitioned).
        # A value holds the case's pending deadlines, then its state (streams.decider).
        self.cases = self._raw_table("cases")
        self._batch_max = settings.batch_max
        self._batch_window = settings.batch_window_ms / 1000
        self._queue_s = settings.deadline_queue_s
        self.heap = DeadlineHeap()
        self.producer = LazyProducer(settings.bootstrap)
        # The configuration versions: every whistle is routed with the version in force at
        # its own instant (its command record's time), never with one not yet read.
        self.config = ConfigFollower(settings, seed=configured_seed(settings))
        self._owned: frozenset[int] | None = None
        self._indexing: asyncio.Task[None] | None = None  # the index being rebuilt, if any
        self._indexing_for: frozenset[int] | None = None
        self._touched: list[tuple[str, Pending]] | None = None  # re-added after a rebuild
        self._in_flight = 0  # deadline commands fired and not yet taken by the decider
        self._cost = 0.001  # the decider's seconds per command (moving average)
        self._taken_at = time.monotonic()
        self._last_offsets: dict[TP, int] = {}
        self._expected: dict[TP, int] = {}  # next offset the decider should be handed
        self._rereading: dict[TP, int] = {}  # tp → offset sought back to, until it is handed
        self._rereads: dict[tuple[TP, int], int] = {}  # (tp, offset) → seeks back to it so far
        self._register()

    def _raw_topic(self, name: str) -> Any:
        """A topic of raw bytes keys and values (the domain does its own decoding)."""
        return self.app.topic(
            self.settings.topic(name),
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
        )

    def _raw_table(self, name: str) -> Any:
        """A RocksDB table of raw bytes, partitioned like the commands."""
        return self.app.Table(
            name,
            partitions=self.settings.partitions,
            key_type=bytes,
            value_type=bytes,
            options=ROCKSDB_OPTIONS,
        )

    def _register(self) -> None:
        self.app.agent(self.commands, name="decider", concurrency=1)(self._decider)
        self.app.timer(TICK_S, name="deadline-scanner")(self._scan_deadlines)
        self.app.timer(5.0, name="lag-gauge")(self._measure_lag)
        self.app.page("/metrics")(_metrics_page)
        self.app.on_before_shutdown.connect(self._close_producer)
        self.app.on_partitions_revoked.connect(self._forget_offsets)

    async def _close_producer(self, *_: Any, **__: Any) -> None:
        """Flush and close our producer once the agents have stopped (Faust closes its own)."""
        await self.producer.stop()
        await self.config.stop()

    # ---- the decider -------------------------------------------------------------------
    async def _decider(self, stream: Any) -> None:
        await self._follow_configuration()  # every version read before the first decision
        batches = take_ready(
            stream, self._batch_max, self._batch_window, BATCH_QUIET_S, self._eager
        )
        async for batch in batches:
            records = [
                CommandRecord(
                    e.message.key,
                    e.message.value,
                    round(e.message.timestamp * 1000),  # Faust gives seconds
                    e.message.partition,
                    e.message.offset,
                    _fired(e.message.headers),
                )
                for e in batch
            ]
            taken = sum(r.fired for r in records)
            if taken:  # the next round is fired, and on its way, before this one is decided
                self._in_flight = max(0, self._in_flight - taken)
                self._taken_at = time.monotonic()
                await self._scan_deadlines()
            skipped = self._skipped(batch)
            if records:  # each command is decided at its record's time: know its version
                await self.config.ensure(max(r.timestamp_ms for r in records) / 1000)
            for part in by_urgency(records):  # whistles first, then the tracker's firings
                started = time.perf_counter()
                result = decide_batch(part, self._load_value, self._route, self._in_force)
                await self._publish(result)
                if result.deadline_commands >= 20:  # a small batch's cost is its round trip
                    cost = (time.perf_counter() - started) / len(part)
                    self._cost += 0.2 * (cost - self._cost)
            for tp, offset in skipped.items():  # before the batch is acknowledged
                await self.app.consumer.seek(tp, offset)
            for e in batch:
                self._last_offsets[e.message.tp] = e.message.offset
            metrics.AGENT_MESSAGES.labels("decider").inc(len(batch))

    async def _follow_configuration(self) -> None:
        """Start following the configuration topic, retrying while the broker is away."""
        backoff = 1.0
        while True:
            try:
                await self.config.start()
                return
            except Exception as exc:
                log.warning("configuration_unavailable", error=str(exc)[:200], retry_s=backoff)
                await asyncio.sleep(backoff)
                backoff = min(30.0, backoff * 2)

    def _eager(self, gathered: int) -> bool:
        """Whether a batch ends once commands stop arriving for ``BATCH_QUIET_S``."""
        return gathered < BATCH_EAGER_BELOW or self._in_flight > 0

    def _skipped(self, batch: Sequence[Any]) -> dict[TP, int]:
        """Partitions whose records were not all handed to the decider: tp → first one missed.

        faust-streaming (0.15) can drop a record it fetched without handing it to the agent (its
        fetch loop marks a record read when flow control is suspended while it is being
        delivered, as in a rebalance during start-up), and with one record missing it even
        commits past it. Seen in the kill test: six raises never decided. Offsets on the
        commands topic are contiguous (no compaction, no transactions), so a jump means a
        record was lost on the way: the decider seeks back to it after this batch, the records
        from there are handed over again, those already decided are duplicates (no events),
        the missed one is decided then.
        """
        committed = self.app.consumer._committed_offset  # type: ignore[attr-defined]
        seeks: dict[TP, int] = {}
        for event in batch:
            tp, offset = event.message.tp, event.message.offset
            if tp in self._rereading:
                sought = self._rereading[tp]
                if offset != sought:
                    continue  # fetched before the seek; the re-read starts at `sought`
                del self._rereading[tp]
                self._expected[tp] = sought
            expected = self._expected.get(tp, committed.get(tp))
            if expected is not None and offset > expected and tp not in seeks:
                times = self._rereads.get((tp, expected), 0) + 1
                if times <= REREADS_PER_GAP:
                    self._rereads[(tp, expected)] = times
                    log.warning(
                        "records_skipped_rereading",
                        partition=tp.partition,
                        missed_from=expected,
                        next_handed=offset,
                    )
                    metrics.REREADS.inc()
                    seeks[tp] = expected
                    self._rereading[tp] = expected
                    continue
                log.error("records_skipped_for_good", partition=tp.partition, missed_from=expected)
            if tp not in seeks:
                self._expected[tp] = max(offset + 1, self._expected.get(tp, 0))
        return seeks

    async def _forget_offsets(self, *args: Any, **__: Any) -> None:
        """A revoked partition's next offset is its committed one when it comes back."""
        revoked = set(args[1] if len(args) > 1 else ())  # (sender, revoked)
        for tp in revoked:
            self._expected.pop(tp, None)
            self._rereading.pop(tp, None)
        self._rereads = {key: n for key, n in self._rereads.items() if key[0] not in revoked}

    def _in_force(self, now: datetime) -> None:
        """The version in force at ``now`` is what the domain checks areas, departments and
        working time against while it decides a command of that instant."""
        version = self.config.at(now)
        config = version.document
        use_areas(config.areas, config.departments)
        use_calendar(version.calendar)

    def _route(self, event: WhistleRaised) -> RouteCase:
        """The router: the version in force at the whistle's instant routes it."""
        metrics.ROUTED.inc()
        version = self.config.at(event.occurred_at)
        config = version.document
        return route(
            config.routing,
            event,
            event.occurred_at,
            policies=config.policies,
            calendar=version.calendar,
            policy_version=version.policy_version,
        )

    def _load_value(self, case_id: str, partition: int | None = None) -> bytes | None:
        """A case's table value, read straight from its partition's RocksDB.

        Faust's mapping interface costs two lookups and several wrappers per read (~7 % of
        the worker's CPU); the partition is the command record's, or the key's by Kafka's
        default partitioner (the API keys commands by case id).
        """
        key = case_id.encode()
        if partition is None:
            partition = partition_of(key, self.settings.partitions)
        value: bytes | None = self._db(partition).get(key)
        return value

    def _db(self, partition: int) -> Any:
        """The RocksDB database (rocksdict) of one partition of the ``cases`` table."""
        return self.cases.data._db_for_partition(partition)

    async def _publish(self, result: BatchResult) -> None:
        """Append events, then write the new states to the table's changelog, then locally.

        Each step waits until the broker has the previous one's records, so a crash repeats a
        decision (identically) but never loses one, and the local store is never ahead of the
        changelog another worker would recover from. The changelog records are produced by our
        own producer (Faust's per-record path cost ~0.2 ms each) and the persisted changelog
        offset is stored once per partition and batch, as Faust's recovery expects.
        """
        events = [(case_id.encode(), body) for case_id, body in result.events]
        sent = [self._dead_letter(k, v, why, CASE_COMMANDS) for k, v, why in result.dead_letters]
        # A case's events go to its commands' partition (co-partitioned topics, the same
        # partition the key would choose) without hashing the key again.
        partitions = [result.partitions[case_id] for case_id, _ in result.events]
        batches = await self._send_batched(CASE_EVENTS, events, partitions)
        await self._delivered(sent)
        for future, _ in batches:
            await future
        if result.states:
            await self._store(result)
        # Best effort, queued without waiting: the API falls back to 202 without a reply.
        replies = [(command_id.encode(), body) for command_id, body in result.replies]
        await self._send_batched(CASE_REPLIES, replies)
        metrics.EVENTS_APPENDED.inc(len(result.events))
        for outcome, n in result.outcomes.items():
            metrics.COMMANDS.labels(outcome).inc(n)

    async def _store(self, result: BatchResult) -> None:
        """Changelog first, then the local RocksDB store, then the persisted offsets."""
        changelog = self.cases.changelog_topic.get_topic_name()
        records = [(case_id.encode(), value) for case_id, value in result.states.items()]
        partitions = [result.partitions[case_id] for case_id in result.states]
        persisted: dict[int, int] = {}
        for future, count in await self.producer.send_batched(changelog, records, partitions):
            meta = await future  # the batch's first record; its others follow it
            last = meta.offset + count - 1
            persisted[meta.partition] = max(last, persisted.get(meta.partition, -1))
        for case_id, value in result.states.items():
            self._db(result.partitions[case_id]).put(case_id.encode(), value)
            self.heap.add(case_id, result.deadlines[case_id])
            if self._touched is not None:
                self._touched.append((case_id, result.deadlines[case_id]))
        self.heap.deadlines += result.deadline_delta
        for partition, offset in persisted.items():
            self.cases.data.set_persisted_offset(TP(changelog, partition), offset)

    def _send(
        self, spec: TopicSpec, key: bytes | None, value: bytes | None, headers: Any = None
    ) -> Awaitable[Any]:
        """Queue one record on our producer; await the result to know the broker has it."""
        return self.producer.send(self.settings.topic(spec.name), value, key, headers=headers)

    async def _send_batched(
        self,
        spec: TopicSpec,
        records: Sequence[Keyed],
        partitions: Sequence[int] | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> list[Any]:
        """Queue keyed records, one batch per partition; await each future for delivery.

        Without ``partitions``, each record goes to its key's default partition over the
        configured count (every topic has it: ``whistle.topics``), as ``send`` would choose.
        """
        if not records:
            return []
        if partitions is None:
            n = self.settings.partitions
            partitions = [partition_of(key, n) for key, _ in records]
        topic = self.settings.topic(spec.name)
        return await self.producer.send_batched(topic, records, partitions, headers)

    async def _delivered(self, sends: list[Awaitable[Any]]) -> None:
        """Wait until the broker acknowledged every queued record."""
        await self.producer.start_once()
        futures = [await s for s in sends]  # all queued before the first wait
        for future in futures:
            await future

    def _dead_letter(
        self, key: bytes | None, value: bytes | None, reason: str, source: TopicSpec
    ) -> Awaitable[Any]:
        log.warning("dead_letter", source=source.name, reason=reason[:200])
        headers = [("reason", reason.encode()[:1000]), ("source-topic", source.name.encode())]
        return self._send(DEAD_LETTERS, key, value, headers)

    # ---- deadlines ---------------------------------------------------------------------
    def _owned_partitions(self) -> frozenset[int]:
        topic = self.commands.get_topic_name()
        return frozenset(tp.partition for tp in self.app.consumer.assignment() if tp.topic == topic)

    def _ready(self) -> bool:
        app = self.app
        recovered = app.tables.recovery.completed.is_set()  # type: ignore[attr-defined]
        return not (app.rebalancing or app.in_recovery) and recovered

    async def _scan_deadlines(self) -> None:
        if not self._ready():
            return
        owned = self._owned_partitions()
        if owned != self._owned:
            running = self._indexing is not None and not self._indexing.done()
            if not running or self._indexing_for != owned:
                self._indexing_for = owned
                self._indexing = asyncio.ensure_future(self._rebuild_index(owned))
            return  # nothing fires until the owned partitions are indexed
        metrics.DEADLINES_PENDING.set(self.heap.deadlines)
        if self._in_flight and time.monotonic() - self._taken_at > STALLED_S:
            self._in_flight = 0  # some were lost (a rebalance): their re-arming fires them
        low, high = DEADLINE_COMMANDS_IN_FLIGHT
        budget = min(high, max(low, round(self._queue_s / self._cost))) - self._in_flight
        if budget <= 0:
            return
        now = time.time()
        by_case: dict[str, list[DueDeadline]] = {}
        for due in self.heap.pop_due(now, self._pending, limit=budget):
            by_case.setdefault(due.case_id, []).append(due)
        records = [r for r in (self._fire(d, now) for d in by_case.values()) if r is not None]
        if records and not self._in_flight:
            self._taken_at = time.monotonic()
        self._in_flight += len(records)
        stamp = [(FIRED_HEADER, b"1")]
        for future, _ in await self._send_batched(CASE_COMMANDS, records, headers=stamp):
            await future

    async def _rebuild_index(self, owned: frozenset[int]) -> None:
        """Index the pending deadlines of the ``owned`` partitions, yielding to the loop.

        A million cases take ~15 s to read; done in one go, that held the event loop, and a
        worker that had just come back routed nothing meanwhile. The new index is built in
        slices of ``INDEX_SLICE`` cases beside the old one and swapped in at the end; the
        cases the decider changes meanwhile are added again after the swap (a case read
        before its change would otherwise keep its old next time). Abandoned when the
        assignment changes again; the next scan starts over.
        """
        heap, touched = DeadlineHeap(), list[tuple[str, Pending]]()
        self._touched = touched
        try:
            for i, (case_id, pending) in enumerate(self._owned_rows(owned), 1):
                heap.add(case_id, pending, len(pending))
                if i % INDEX_SLICE == 0:
                    await asyncio.sleep(0)
                    if self._indexing_for != owned:
                        return
            for case_id, pending in touched:
                heap.add(case_id, pending)
        except Exception as exc:  # the next scan starts over
            log.error("deadline_index_failed", error=repr(exc))
            return
        finally:
            if self._touched is touched:
                self._touched = None
        self.heap, self._owned = heap, owned
        metrics.DEADLINES_PENDING.set(heap.deadlines)
        log.info(
            "deadlines_rebuilt", partitions=sorted(owned), pending=len(heap), touched=len(touched)
        )

    def _owned_rows(self, owned: frozenset[int]) -> Iterable[tuple[str, Pending]]:
        """(case id, pending deadlines) of every case of the owned partitions.

        Read straight from each partition's RocksDB: the table's mapping view hashed every key
        to find its partition and wrapped every item (~2/3 of a million-case rebuild).
        """
        store = self.cases.data
        for partition in sorted(owned):
            for key, raw in store._visible_items(self._db(partition)):
                pending = pending_in(raw)
                if pending:
                    yield key.decode(), pending

    def _pending(self, case_id: str) -> Pending:
        return pending_in(self._load_value(case_id))

    def _fire(self, due: list[DueDeadline], now: float) -> Keyed | None:
        """One command for a case's due deadlines (None if none of them exists any more).

        The command is the earliest one's; the decider decides the case's other deadlines
        due by then in the same step (the domain's ``fire_due``), so a case costs one
        command however many of its clocks expire together. A breach needs only what the
        index holds; a ladder rung's command is built from the decoded state.
        """
        first, case_id = due[0], due[0].case_id
        when = datetime.fromtimestamp(now, tz=UTC)
        command = next(
            (c for d in due if (c := breach_command(case_id, d.key, d.due_at, when))), None
        )
        if command is None:
            state = decode_state(self._load_value(case_id))
            deadline = None
            if state is not None:
                deadline = next((d for d in pending_deadlines(state) if d.key == first.key), None)
            if state is None or deadline is None:
                return None
            command = deadline_command(state, deadline, when)
        for d in due:
            late = now - d.due_at
            metrics.DEADLINES_FIRED.inc()
            metrics.DEADLINE_LATENESS.observe(max(0.0, late))
            log.debug("deadline_fired", case_id=case_id, key=d.key, late_s=round(late, 3))
        return case_id.encode(), encode_message(command)

    # ---- lag ---------------------------------------------------------------------------
    async def _measure_lag(self) -> None:
        by_topic: dict[str, int] = {}
        for tp in self.app.consumer.assignment():
            if tp.topic != self.commands.get_topic_name():
                continue
            try:
                high = self.app.consumer.highwater(tp)
            except Exception:
                continue
            done = self._last_offsets.get(tp, -1) + 1
            by_topic[tp.topic] = by_topic.get(tp.topic, 0) + max(0, (high or 0) - done)
        for topic, lag in by_topic.items():
            metrics.CONSUMER_LAG.labels(topic).set(lag)


def _fired(headers: Any) -> bool:
    """Whether a command record carries the deadline tracker's header."""
    if not headers:
        return False
    items = headers.items() if isinstance(headers, Mapping) else headers
    return any(key == FIRED_HEADER for key, _ in items)


async def _metrics_page(web: Any, request: Any) -> Any:
    """Prometheus exposition of this worker's metrics."""
    # aiohttp refuses a charset inside content_type; the exposition format is UTF-8 anyway.
    content_type = CONTENT_TYPE_LATEST.split("; charset")[0]
    return web.bytes(generate_latest(metrics.REGISTRY), content_type=content_type)

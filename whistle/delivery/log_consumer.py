"""The consumer both deliverers (webhooks, notifications) are built on: it reads the case
events from its own checkpoints, turns them into queued deliveries, sends what is due with
bounded concurrency, and records the attempts in batches.

A worker brings what differs, as a :class:`Deliverer`: what a batch of records becomes
(``intake``, which writes the deliveries and the checkpoint in one transaction), what is due
(``due``, leased to this worker), how one delivery is sent (``send``, which queues its attempt
with :meth:`LogConsumer.record`) and what follows recorded attempts (``recorded``). The rest is
here: the rebalance listener that seeks to the checkpoints, the restart loop after PostgreSQL
or Kafka is lost, and the consume, send and record loops.

At least once: what was leased and not recorded is sent again once its lease expires, and the
log is read again from the checkpoint committed with the deliveries. Never twice: a delivery
stays leased until its attempt is recorded; on stop, sends in flight finish and are recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import aiohttp
import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from whistle.delivery.outbox import Attempt, Outbox
from whistle.logs import get_logger
from whistle.settings import Settings
from whistle.topics import CASE_EVENTS

log = get_logger()

RECOVERABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    KafkaError,
)
"""Failures of PostgreSQL or Kafka after which the consumer starts its loops again."""

D = TypeVar("D")


@dataclass(frozen=True)
class LogRecord:
    """One record read from the events topic."""

    topic: str
    partition: int
    offset: int
    value: bytes | None


class Deliverer(Protocol[D]):
    """What a worker adds to the log consumer: its intake, its due deliveries and its sending."""

    def session(self) -> aiohttp.ClientSession:
        """A new HTTP session for one run of the loops (a run starts afresh after a failure)."""

    async def intake(self, conn: asyncpg.Connection, records: Sequence[LogRecord]) -> bool:
        """Queue the deliveries of ``records`` and move the checkpoint in one transaction;
        True when some of them are due now."""

    async def due(self, free: int, notified: bool) -> list[D]:
        """Up to ``free`` deliveries to send now, leased to this worker; ``notified``: the
        outbox's channel was notified (e.g. a redelivery) since the last call."""

    async def send(self, due: D) -> object:
        """Attempt one delivery and queue its attempt with :meth:`LogConsumer.record`."""

    async def recorded(self, batch: Sequence[tuple[Attempt, D]]) -> None:
        """What follows attempts once they are written (e.g. a fallback to another channel)."""


class SeekToCheckpoint(ConsumerRebalanceListener):  # type: ignore[misc]
    """On assignment, resume each partition from the offset committed with the deliveries."""

    def __init__(self, consumer: AIOKafkaConsumer, outbox: Outbox, name: str, topic: str) -> None:
        self.consumer = consumer
        self.outbox = outbox
        self.name = name
        self.topic = topic

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        """Nothing to flush: every batch commits its checkpoint with its deliveries."""

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        """Seek to the stored checkpoints; partitions never seen start at the beginning."""
        stored = await self.outbox.checkpoints(self.name, self.topic)
        fresh = [tp for tp in assigned if tp.partition not in stored]
        for tp in assigned:
            if tp.partition in stored:
                self.consumer.seek(tp, stored[tp.partition])
        if fresh:
            await self.consumer.seek_to_beginning(*fresh)


class LogConsumer(Generic[D]):
    """Runs a :class:`Deliverer` over the case events: consume → intake → due → send → record.

    ``name``: the consumer group's suffix and the checkpoints' consumer; ``log_as``: the prefix
    of its log events (``<log_as>_worker_restarting``, …); ``consume=False`` only sends.
    """

    def __init__(
        self,
        settings: Settings,
        outbox: Outbox,
        deliverer: Deliverer[D],
        name: str,
        concurrency: int,
        log_as: str,
        consume: bool = True,
    ) -> None:
        self.settings = settings
        self.outbox = outbox
        self.deliverer = deliverer
        self.name = name
        self.topic = settings.topic(CASE_EVENTS.name)
        self.concurrency = concurrency
        self.log_as = log_as
        self.consume = consume
        self.consumer: AIOKafkaConsumer | None = None
        self._wake = asyncio.Event()
        self._notified = False
        self._inflight = 0
        self._tasks: set[asyncio.Task[object]] = set()
        self._results: list[tuple[Attempt, D]] = []
        self._results_ready = asyncio.Event()

    def wake(self) -> None:
        """Look for due deliveries now (e.g. one was just queued)."""
        self._wake.set()

    def record(self, attempt: Attempt, due: D) -> None:
        """Queue a finished attempt for the next batch write; ``due`` stays leased until then."""
        self._results.append((attempt, due))
        self._results_ready.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; after losing PostgreSQL or Kafka, start again by itself.

        What was leased to this worker and not sent is sent again once its lease expires
        (at-least-once; receivers deduplicate).
        """
        backoff = 0.5
        while not stop.is_set():
            try:
                await self._run_once(stop)
                return
            except RECOVERABLE as exc:
                log.warning(f"{self.log_as}_worker_restarting", error=repr(exc), backoff_s=backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, 10.0)

    async def _run_once(self, stop: asyncio.Event) -> None:
        """Run the loops until ``stop`` is set or one of them fails (then raise its error)."""
        listener = await self.outbox.pool.acquire()

        def on_notify(*_: object) -> None:
            self._notified = True
            self._wake.set()

        await listener.add_listener(self.outbox.notify_channel, on_notify)
        try:
            async with self.deliverer.session():
                recorder = asyncio.create_task(self._record_loop())
                loops = [asyncio.create_task(self._send_loop(stop))]
                if self.consume:
                    loops.append(asyncio.create_task(self._consume_loop(stop)))
                stopping = asyncio.create_task(stop.wait())
                await asyncio.wait([stopping, *loops], return_when=asyncio.FIRST_COMPLETED)
                stopping.cancel()
                failed = [t for t in loops if t.done() and not t.cancelled() and t.exception()]
                for task in loops:
                    task.cancel()
                for task in loops:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
                if self._tasks:  # sends in flight finish and are recorded: never sent twice
                    await asyncio.gather(*self._tasks, return_exceptions=True)
                recorder.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await recorder
                await self._flush()
                if failed:  # start again (run): at-least-once makes it safe
                    log.error(f"{self.log_as}_worker_failed", error=repr(failed[0].exception()))
                    raise failed[0].exception()  # type: ignore[misc]
        finally:
            with contextlib.suppress(*RECOVERABLE):  # the connection may be gone with the server
                await listener.remove_listener(self.outbox.notify_channel, on_notify)
            with contextlib.suppress(*RECOVERABLE):
                await self.outbox.pool.release(listener)

    async def _consume_loop(self, stop: asyncio.Event) -> None:
        consumer = self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap,
            group_id=f"{self.settings.topic_prefix}.{self.name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=5000,
        )
        await consumer.start()
        conn = await self.outbox.pool.acquire()  # its own connection: never queues behind sends
        try:
            seek = SeekToCheckpoint(consumer, self.outbox, self.name, self.topic)
            consumer.subscribe([self.topic], listener=seek)
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=200, max_records=500)
                records = [
                    LogRecord(r.topic, r.partition, r.offset, r.value)
                    for recs in batches.values()
                    for r in recs
                ]
                if records and await self.deliverer.intake(conn, records):
                    self._wake.set()
        finally:
            await self.outbox.pool.release(conn)
            await consumer.stop()

    async def _send_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            free = self.concurrency - self._inflight
            notified, self._notified = self._notified, False
            due = await self.deliverer.due(free, notified)
            for item in due:
                self._inflight += 1
                task = asyncio.create_task(self.deliverer.send(item))
                self._tasks.add(task)
                task.add_done_callback(self._done)
            if len(due) < free or free <= 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=1.0)

    def _done(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        self._inflight -= 1
        self._wake.set()
        if not task.cancelled() and task.exception():
            log.error(f"{self.log_as}_deliver_crashed", error=str(task.exception()))

    async def _record_loop(self) -> None:
        """Write finished attempts in batches: one statement for all that finished meanwhile."""
        while True:
            await self._results_ready.wait()
            self._results_ready.clear()
            try:
                await self._flush()
            except (OSError, asyncpg.PostgresError) as exc:  # keep them; try again shortly
                log.error(f"{self.log_as}_record_failed", error=str(exc))
                await asyncio.sleep(1.0)
                self._results_ready.set()

    async def _flush(self) -> None:
        batch, self._results = self._results, []
        try:
            await self.outbox.record_attempts([attempt for attempt, _ in batch])
        except BaseException:
            self._results = batch + self._results
            raise
        if batch:
            await self.deliverer.recorded(batch)

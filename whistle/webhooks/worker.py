"""The delivery worker: its own consumer of case events, and the sender of due deliveries."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from datetime import UTC, datetime

import aiohttp
import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from whistle.delivery.schedule import RETRY_DELAYS_S
from whistle.logs import get_logger
from whistle.settings import Settings
from whistle.topics import CASE_EVENTS
from whistle.webhooks import delivery_metrics
from whistle.webhooks.delivery_store import NOTIFY_CHANNEL, Attempt, Due, WebhookStore
from whistle.webhooks.intake import EndpointCache, LogRecord, enqueue
from whistle.webhooks.sender import judge, post

log = get_logger()

RECOVERABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    KafkaError,
)
"""Failures of PostgreSQL or Kafka after which the worker starts its loops again."""


class _SeekToCheckpoint(ConsumerRebalanceListener):  # type: ignore[misc]
    """On assignment, resume each partition from the offset committed with the deliveries."""

    def __init__(self, worker: DeliveryWorker) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        """Nothing to flush: every batch commits its checkpoint with its deliveries."""

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        """Seek to the stored checkpoints; partitions never seen start at the beginning."""
        consumer = self.worker.consumer
        if consumer is None:
            return
        stored = await self.worker.store.checkpoints(self.worker.name, self.worker.topic)
        fresh = [tp for tp in assigned if tp.partition not in stored]
        for tp in assigned:
            if tp.partition in stored:
                consumer.seek(tp, stored[tp.partition])
        if fresh:
            await consumer.seek_to_beginning(*fresh)


class DeliveryWorker:
    """Consumes case events into queued deliveries and sends them, apart from routing."""

    def __init__(
        self,
        settings: Settings,
        store: WebhookStore,
        name: str = "webhooks",
        concurrency: int = 64,
        delays: tuple[int, ...] = RETRY_DELAYS_S,
        timeout_s: float = 10.0,
        consume: bool = True,
    ) -> None:
        self.settings = settings
        self.store = store
        self.name = name
        self.topic = settings.topic(CASE_EVENTS.name)
        self.concurrency = concurrency
        self.delays = delays
        self.timeout_s = timeout_s
        self.consume = consume
        self.consumer: AIOKafkaConsumer | None = None
        self._wake = asyncio.Event()
        self._inflight = 0
        self._direct: deque[Due] = deque()  # enqueued by this worker, already leased to it
        self._tasks: set[asyncio.Task[str]] = set()
        self._poll_db = True  # look for due retries and redeliveries (NOTIFY, or each second)
        self._results: list[Attempt] = []
        self._results_ready = asyncio.Event()
        self._endpoints = EndpointCache(ttl_s=1.0)

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; after losing PostgreSQL or Kafka, start again by itself.

        What was leased to this worker and not sent is sent again once its lease expires
        (at-least-once; receivers deduplicate by event id).
        """
        backoff = 0.5
        while not stop.is_set():
            try:
                await self._run_once(stop)
                return
            except RECOVERABLE as exc:
                log.warning("webhook_worker_restarting", error=repr(exc), backoff_s=backoff)
                self._direct.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, 10.0)

    async def _run_once(self, stop: asyncio.Event) -> None:
        """Run the loops until ``stop`` is set or one of them fails (then raise its error)."""
        listener = await self.store.pool.acquire()

        def on_notify(*_: object) -> None:
            self._poll_db = True
            self._wake.set()

        await listener.add_listener(NOTIFY_CHANNEL, on_notify)
        connector = aiohttp.TCPConnector(
            limit=self.concurrency * 2, limit_per_host=self.concurrency
        )
        try:
            async with aiohttp.ClientSession(connector=connector) as client:
                recorder = asyncio.create_task(self._record_loop())
                loops = [asyncio.create_task(self._send_loop(client, stop))]
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
                if self._tasks:
                    await asyncio.gather(*self._tasks, return_exceptions=True)
                recorder.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await recorder
                await self._flush()
                if failed:  # start again (run): at-least-once makes it safe
                    log.error("webhook_worker_failed", error=repr(failed[0].exception()))
                    raise failed[0].exception()  # type: ignore[misc]
        finally:
            with contextlib.suppress(*RECOVERABLE):  # the connection may be gone with the server
                await listener.remove_listener(NOTIFY_CHANNEL, on_notify)
            with contextlib.suppress(*RECOVERABLE):
                await self.store.pool.release(listener)

    async def _consume_loop(self, stop: asyncio.Event) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap,
            group_id=f"{self.settings.topic_prefix}.{self.name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=5000,
        )
        await self.consumer.start()
        conn = await self.store.pool.acquire()  # its own connection: never queues behind sends
        try:
            self.consumer.subscribe([self.topic], listener=_SeekToCheckpoint(self))
            while not stop.is_set():
                batches = await self.consumer.getmany(timeout_ms=200, max_records=500)
                records = [
                    LogRecord(r.topic, r.partition, r.offset, r.value)
                    for recs in batches.values()
                    for r in recs
                ]
                if not records:
                    continue
                fresh = await enqueue(conn, self.name, records, self.store.box, self._endpoints)
                delivery_metrics.EVENTS.inc(len(records))
                delivery_metrics.QUEUED.inc(len(fresh))
                if fresh:
                    self._direct.extend(fresh)
                    self._wake.set()
        finally:
            await self.store.pool.release(conn)
            await self.consumer.stop()

    async def _send_loop(self, client: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        polled = 0.0
        while not stop.is_set():
            self._wake.clear()
            free = self.concurrency - self._inflight
            due = [self._direct.popleft() for _ in range(min(free, len(self._direct)))]
            due = [d for d in due if not self._endpoints.is_gone(d.endpoint_id)]
            if time.monotonic() - polled >= 1.0:
                self._poll_db = True
            if free > len(due) and self._poll_db:
                self._poll_db, polled = False, time.monotonic()
                claimed = await self.store.claim_due(free - len(due))
                due += claimed
                self._poll_db = len(claimed) == free  # more may be due: look again at once
            for item in due:
                self._inflight += 1
                task = asyncio.create_task(self.deliver(client, item))
                self._tasks.add(task)
                task.add_done_callback(self._done)
            if len(due) < free or free <= 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=1.0)

    def _done(self, task: asyncio.Task[str]) -> None:
        self._tasks.discard(task)
        self._inflight -= 1
        self._wake.set()
        if not task.cancelled() and task.exception():
            log.error("webhook_deliver_crashed", error=str(task.exception()))

    async def _record_loop(self) -> None:
        """Write finished attempts in batches: one statement for all that finished meanwhile."""
        while True:
            await self._results_ready.wait()
            self._results_ready.clear()
            try:
                await self._flush()
            except (OSError, asyncpg.PostgresError) as exc:  # keep them; try again shortly
                log.error("webhook_record_failed", error=str(exc))
                await asyncio.sleep(1.0)
                self._results_ready.set()

    async def _flush(self) -> None:
        batch, self._results = self._results, []
        try:
            await self.store.record_attempts(batch)
        except BaseException:
            self._results = batch + self._results
            raise

    async def deliver(self, client: aiohttp.ClientSession, due: Due, manual: bool = False) -> str:
        """Attempt one delivery and queue its log entry and new state; return the outcome.

        The delivery stays leased until its entry is written, so nobody else sends it meanwhile.
        """
        with delivery_metrics.IN_FLIGHT.track_inprogress():
            result = await post(client, due, self.timeout_s)
        verdict = judge(result, due.attempts, self.delays)
        delivery_metrics.ATTEMPTS.labels(verdict.outcome).inc()
        delivery_metrics.POST_SECONDS.observe(result.duration_ms / 1000)
        self._results.append(
            Attempt(
                due.delivery_id, due.attempts, result.started_at, result.duration_ms,
                result.status_code, result.error, verdict.outcome, verdict.retry_in, manual,
            )
        )  # fmt: skip
        self._results_ready.set()
        if verdict.outcome == "gone":
            self._endpoints.gone(due.endpoint_id)
        log.info(
            "webhook_attempt",
            delivery_id=due.delivery_id,
            endpoint_id=due.endpoint_id,
            event_id=due.event_id,
            attempt=due.attempts + 1,
            status_code=result.status_code,
            error=result.error,
            outcome=verdict.outcome,
            retry_in=verdict.retry_in,
            duration_ms=round(result.duration_ms, 1),
            at=datetime.now(UTC).isoformat(),
        )
        return verdict.outcome


async def open_store(settings: Settings, min_size: int = 2, max_size: int = 10) -> WebhookStore:
    """A store over a fresh pool, with the secret key from the settings or the state directory."""
    from whistle.webhooks.secretbox import secret_box

    pool = await asyncpg.create_pool(settings.dsn, min_size=min_size, max_size=max_size)
    return WebhookStore(pool, secret_box(settings))

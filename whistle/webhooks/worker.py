"""The delivery worker: its own consumer of case events, and the sender of due deliveries."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime

import aiohttp
import asyncpg

from whistle.delivery.log_consumer import LogConsumer, LogRecord
from whistle.delivery.schedule import RETRY_DELAYS_S
from whistle.logs import get_logger
from whistle.settings import Settings
from whistle.webhooks import delivery_metrics
from whistle.webhooks.delivery_store import Attempt, Due, WebhookStore
from whistle.webhooks.intake import EndpointCache, enqueue
from whistle.webhooks.sender import judge, post

log = get_logger()


class DeliveryWorker:
    """Consumes case events into queued deliveries and sends them, apart from routing.

    The shared :class:`~whistle.delivery.log_consumer.LogConsumer` runs the loops; this worker
    adds what is the webhooks' own: deliveries it just queued are sent at once (already leased
    to it) unless their endpoint is gone, the outbox is polled on NOTIFY or each second, and
    each attempt is a signed POST.
    """

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
        self.concurrency = concurrency
        self.delays = delays
        self.timeout_s = timeout_s
        self.log_consumer = LogConsumer(
            settings, store.outbox, self, name, concurrency, "webhook", consume
        )
        self._client: aiohttp.ClientSession | None = None
        self._direct: deque[Due] = deque()  # enqueued by this worker, already leased to it
        self._poll_db = True  # look for due retries and redeliveries (NOTIFY, or each second)
        self._polled = 0.0
        self._endpoints = EndpointCache(ttl_s=1.0)

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; after losing PostgreSQL or Kafka, start again by itself.

        What was leased to this worker and not sent is sent again once its lease expires
        (at-least-once; receivers deduplicate by event id).
        """
        await self.log_consumer.run(stop)

    def session(self) -> aiohttp.ClientSession:
        """A fresh run: a session sized to the concurrency, and nothing left queued directly
        (what was leased is claimed again once its lease expires)."""
        self._direct.clear()
        self._polled = 0.0
        connector = aiohttp.TCPConnector(
            limit=self.concurrency * 2, limit_per_host=self.concurrency
        )
        self._client = aiohttp.ClientSession(connector=connector)
        return self._client

    async def intake(self, conn: asyncpg.Connection, records: Sequence[LogRecord]) -> bool:
        """Queue the records' deliveries (leased to this worker, to send at once)."""
        fresh = await enqueue(conn, self.name, records, self.store.box, self._endpoints)
        delivery_metrics.EVENTS.inc(len(records))
        delivery_metrics.QUEUED.inc(len(fresh))
        self._direct.extend(fresh)
        return bool(fresh)

    async def due(self, free: int, notified: bool) -> list[Due]:
        """Those queued directly first, then the outbox's due rows when it was notified, a
        second has passed, or the last claim was full."""
        due = [self._direct.popleft() for _ in range(min(free, len(self._direct)))]
        due = [d for d in due if not self._endpoints.is_gone(d.endpoint_id)]
        if notified or time.monotonic() - self._polled >= 1.0:
            self._poll_db = True
        if free > len(due) and self._poll_db:
            self._poll_db, self._polled = False, time.monotonic()
            claimed = await self.store.claim_due(free - len(due))
            due += claimed
            self._poll_db = len(claimed) == free  # more may be due: look again at once
        return due

    async def send(self, due: Due) -> str:
        """Attempt one delivery with this run's session."""
        if self._client is None:
            raise RuntimeError("send runs inside a session")
        return await self.deliver(self._client, due)

    async def recorded(self, batch: Sequence[tuple[Attempt, Due]]) -> None:
        """Nothing more: the record itself disables endpoints that answered 410."""

    async def deliver(self, client: aiohttp.ClientSession, due: Due, manual: bool = False) -> str:
        """Attempt one delivery and queue its log entry and new state; return the outcome.

        The delivery stays leased until its entry is written, so nobody else sends it meanwhile.
        """
        with delivery_metrics.IN_FLIGHT.track_inprogress():
            result = await post(client, due, self.timeout_s)
        verdict = judge(result, due.attempts, self.delays)
        delivery_metrics.ATTEMPTS.labels(verdict.outcome).inc()
        delivery_metrics.POST_SECONDS.observe(result.duration_ms / 1000)
        attempt = Attempt.judged(due.delivery_id, due.attempts, result, verdict, manual)
        self.log_consumer.record(attempt, due)
        if verdict.outcome == "gone":
            self._endpoints.gone(due.endpoint_id)
        log.info(
            "webhook_attempt",
            delivery_id=due.delivery_id,
            endpoint_id=due.endpoint_id,
            event_id=due.event_id,
            **attempt.log_fields(),
            duration_ms=round(result.duration_ms, 1),
            at=datetime.now(UTC).isoformat(),
        )
        return verdict.outcome


async def open_store(settings: Settings, min_size: int = 2, max_size: int = 10) -> WebhookStore:
    """A store over a fresh pool, with the secret key from the settings or the state directory."""
    from whistle.webhooks.secretbox import secret_box

    pool = await asyncpg.create_pool(settings.dsn, min_size=min_size, max_size=max_size)
    return WebhookStore(pool, secret_box(settings))

"""The notifier: its own consumer of case events (from its checkpoint, at least once), and the
sender of due deliveries through the channels, with the shared judge, schedule and outbox.

Built as the webhook deliverer is (``whistle/webhooks/worker.py``): the consumer writes the
deliveries and its position in one transaction (:mod:`whistle.notify.intake`), the sender
leases due rows (``FOR UPDATE SKIP LOCKED``), sends, and records the attempts in batches.
A delivery whose channel goes dead (retries exhausted, a permanent refusal, a robot gone) is
followed by one on the user's next channel (fallback). A digest delivery takes every other
delivery of the user's digest on that channel with it, as one message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from whistle.delivery.attempt import AttemptResult, judge
from whistle.delivery.outbox import Attempt
from whistle.delivery.schedule import RETRY_DELAYS_S
from whistle.logs import get_logger
from whistle.notify.channels import (
    Channel,
    DingTalkRobot,
    EmailChannel,
    FeishuBot,
    SmtpConfig,
    WeComRobot,
    sms_gateway,
)
from whistle.notify.channels.base import Destination
from whistle.notify.digest import digest_message
from whistle.notify.inbox import InAppChannel, Inbox, ensure_schema
from whistle.notify.intake import Context, LogRecord, enqueue, route_key
from whistle.notify.message import Message
from whistle.notify.notifier_store import (
    NOTIFY_CHANNEL,
    Due,
    NotifierStore,
    message_json,
    message_of,
)
from whistle.notify.preferences import groups_of
from whistle.notify.recipients import Notice
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


class _SeekToCheckpoint(ConsumerRebalanceListener):  # type: ignore[misc]
    """On assignment, resume each partition from the offset committed with the deliveries."""

    def __init__(self, worker: Notifier) -> None:
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


def build_channels(
    settings: Settings, session: aiohttp.ClientSession, inbox: Inbox
) -> dict[str, Channel]:
    """The channels this installation can send on: in-app and the robots always, e-mail when
    an SMTP host is set, SMS when a provider is."""
    channels: dict[str, Channel] = {
        "inapp": InAppChannel(inbox),
        "wecom": WeComRobot(session),
        "dingtalk": DingTalkRobot(session),
        "feishu": FeishuBot(session),
    }
    if settings.smtp_host:
        channels["email"] = EmailChannel(SmtpConfig.from_settings(settings))
    sms = sms_gateway(settings, session)
    if sms is not None:
        channels["sms"] = sms
    return channels


class Notifier:
    """Consumes case events into queued notifications and sends them."""

    def __init__(
        self,
        settings: Settings,
        store: NotifierStore,
        name: str = "notifier",
        concurrency: int = 32,
        delays: tuple[int, ...] = RETRY_DELAYS_S,
        consume: bool = True,
        channels: Mapping[str, Channel] | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.name = name
        self.topic = settings.topic(CASE_EVENTS.name)
        self.concurrency = concurrency
        self.delays = delays
        self.consume = consume
        self.consumer: AIOKafkaConsumer | None = None
        self.channels: dict[str, Channel] = dict(channels or {})
        self.ctx = Context(
            box=store.box,
            case_url=settings.notify_case_url,
            percents=tuple(settings.notify_reminder_percents),
            digest_hour=settings.notify_digest_hour,
            max_event_age=timedelta(seconds=settings.notify_max_event_age_s),
        )
        self._wake = asyncio.Event()
        self._inflight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._results: list[tuple[Attempt, Due]] = []
        self._results_ready = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; after losing PostgreSQL or Kafka, start again."""
        backoff = 0.5
        while not stop.is_set():
            try:
                await self._run_once(stop)
                return
            except RECOVERABLE as exc:
                log.warning("notifier_restarting", error=repr(exc), backoff_s=backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, 10.0)

    async def _run_once(self, stop: asyncio.Event) -> None:
        listener = await self.store.pool.acquire()

        def on_notify(*_: object) -> None:
            self._wake.set()

        await listener.add_listener(NOTIFY_CHANNEL, on_notify)
        try:
            async with aiohttp.ClientSession() as session:
                if not self.channels:
                    self.channels = build_channels(self.settings, session, Inbox(self.store.pool))
                self.ctx.channels = tuple(c for c in self.channels if c != "inapp")
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
                if self._tasks:
                    await asyncio.gather(*self._tasks, return_exceptions=True)
                recorder.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await recorder
                await self._flush()
                if failed:
                    log.error("notifier_failed", error=repr(failed[0].exception()))
                    raise failed[0].exception()  # type: ignore[misc]
        finally:
            with contextlib.suppress(*RECOVERABLE):
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
        conn = await self.store.pool.acquire()
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
                _, due = await enqueue(conn, self.name, records, self.ctx, self.store.preferences)
                if due:
                    self._wake.set()
        finally:
            await self.store.pool.release(conn)
            await self.consumer.stop()

    async def _send_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            free = self.concurrency - self._inflight
            claimed = await self.store.claim_due(free) if free > 0 else []
            for due in claimed:
                self._inflight += 1
                task = asyncio.create_task(self.deliver(due))
                self._tasks.add(task)
                task.add_done_callback(self._done)
            if len(claimed) < free or free <= 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=1.0)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._inflight -= 1
        self._wake.set()
        if not task.cancelled() and task.exception():
            log.error("notify_deliver_crashed", error=str(task.exception()))

    async def _record_loop(self) -> None:
        while True:
            await self._results_ready.wait()
            self._results_ready.clear()
            try:
                await self._flush()
            except (OSError, asyncpg.PostgresError) as exc:
                log.error("notify_record_failed", error=str(exc))
                await asyncio.sleep(1.0)
                self._results_ready.set()

    async def _flush(self) -> None:
        batch, self._results = self._results, []
        try:
            await self.store.record_attempts([a for a, _ in batch])
        except BaseException:
            self._results = batch + self._results
            raise
        for attempt, due in batch:
            if attempt.outcome in ("dead", "gone") and due.channel != "inapp":
                await self.fall_back(due)

    async def deliver(self, due: Due, manual: bool = False) -> None:
        """Attempt one delivery and queue its log entry and new state."""
        message = due.message
        bundled: list[int] = []
        if due.digest:
            items = await self.store.digest_items(due.user_id, due.channel)
            if items and items[0]["delivery_id"] < due.delivery_id:
                return  # the digest's first delivery sends this one with it
            others = [(r["delivery_id"], message_of(json.loads(r["message"]))) for r in items]
            bundled = [i for i, _ in others if i != due.delivery_id]
            if bundled:
                message = digest_message([m for _, m in others], due.dedup_key)
        channel = self.channels.get(due.channel)
        if channel is None:
            now = datetime.now(UTC)
            result = AttemptResult(now, 0.0, error=f"channel {due.channel} not configured",
                                   refused="dead")  # fmt: skip
        else:
            to = Destination(due.target or due.recipient, due.secret)
            result = await channel.send(message, to)
        verdict = judge(result, due.attempts, self.delays)
        self._results.append(
            (
                Attempt(
                    due.delivery_id, due.attempts, result.started_at, result.duration_ms,
                    result.status_code, result.error, verdict.outcome, verdict.retry_in, manual,
                ),
                due,
            )
        )  # fmt: skip
        if verdict.outcome == "delivered" and bundled:
            await self.store.mark_digested(bundled, due.delivery_id)
        self._results_ready.set()
        log.info(
            "notify_attempt",
            delivery_id=due.delivery_id,
            channel=due.channel,
            kind=message.kind,
            case_id=message.case_id,
            attempt=due.attempts + 1,
            status_code=result.status_code,
            error=result.error,
            outcome=verdict.outcome,
            retry_in=verdict.retry_in,
        )

    async def fall_back(self, due: Due) -> None:
        """Queue the notice on the user's next channel after ``due.channel`` (if any)."""
        person = self.ctx.directory.people.get(due.user_id)
        if person is None:
            return
        prefs = self.ctx.reach.of(due.user_id)
        groups = self.ctx.reach.groups(groups_of(person.role, person.department, person.area))
        routes = prefs.routes(groups, self.ctx.channels)
        names = [r.channel for r in routes]
        if due.channel not in names or names.index(due.channel) + 1 >= len(names):
            return
        route = routes[names.index(due.channel) + 1]
        notice = Notice(due.message.kind, due.user_id, due.notice_key)
        key = route_key(notice, route)
        message = replace(due.message, key=key)
        box = self.store.box
        inserted = await self.store.pool.fetchval(
            "INSERT INTO notify.deliveries (dedup_key, notice_key, event_id, case_id, kind,"
            " recipient, user_id, channel, target_sealed, secret_sealed, message, urgency,"
            " clock_key, digest, fallback_from, event_at)"
            " SELECT $1, notice_key, event_id, case_id, kind, $2, user_id, $3, $4, $5, $6::jsonb,"
            " urgency, clock_key, false, delivery_id, event_at FROM notify.deliveries"
            " WHERE delivery_id = $7 ON CONFLICT (dedup_key) DO NOTHING RETURNING delivery_id",
            key, route.recipient, route.channel, box.seal(route.target),
            box.seal(route.secret) if route.secret else None, message_json(message),
            due.delivery_id,
        )  # fmt: skip
        if inserted is not None:
            log.info("notify_fallback", delivery_id=due.delivery_id, to_channel=route.channel)
            self._wake.set()


async def open_store(settings: Settings, min_size: int = 2, max_size: int = 10) -> NotifierStore:
    """A store over a fresh pool (schema migrated), with the settings' secret box."""
    from whistle.api.account_store import migrate_api
    from whistle.webhooks.secretbox import secret_box

    pool = await asyncpg.create_pool(settings.dsn, min_size=min_size, max_size=max_size)
    async with pool.acquire() as conn:
        await migrate_api(conn)  # the notifier reads the users directory (api.users)
        await ensure_schema(conn)
    lease = timedelta(seconds=settings.notify_lease_s)
    return NotifierStore(pool, secret_box(settings), lease)


__all__ = ["Message", "Notifier", "build_channels", "open_store"]

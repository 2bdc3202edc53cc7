"""The notifier: its own consumer of case events (from its checkpoint, at least once), and the
sender of due deliveries through the channels, with the shared judge, schedule and outbox.

Built, as the webhook deliverer is, on the shared :mod:`whistle.delivery.log_consumer`: the
consumer writes the deliveries and its position in one transaction (:mod:`whistle.notify.intake`),
the sender leases due rows (``FOR UPDATE SKIP LOCKED``), sends, and records the attempts in
batches.
A delivery whose channel goes dead (retries exhausted, a permanent refusal, a robot gone) is
followed by one on the user's next channel (fallback). A digest delivery takes every other
delivery of the user's digest on that channel with it, as one message.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg

from whistle.delivery.attempt import AttemptResult, judge
from whistle.delivery.log_consumer import LogConsumer, LogRecord
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
from whistle.notify.intake import Context, enqueue, route_key
from whistle.notify.message import Message
from whistle.notify.notifier_store import (
    Due,
    NotifierStore,
    message_json,
    message_of,
)
from whistle.notify.preferences import groups_of
from whistle.notify.recipients import Notice
from whistle.settings import Settings

log = get_logger()


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
        self.concurrency = concurrency
        self.delays = delays
        self._given_channels: dict[str, Channel] = dict(channels or {})
        self.channels: dict[str, Channel] = dict(self._given_channels)
        self.ctx = Context(
            box=store.box,
            case_url=settings.notify_case_url,
            percents=tuple(settings.notify_reminder_percents),
            digest_hour=settings.notify_digest_hour,
            max_event_age=timedelta(seconds=settings.notify_max_event_age_s),
        )
        self.log_consumer = LogConsumer(
            settings, store.outbox, self, name, concurrency, "notify", consume
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; after losing PostgreSQL or Kafka, start again."""
        await self.log_consumer.run(stop)

    def session(self) -> aiohttp.ClientSession:
        """A run's HTTP session, and the channels on it unless given (the robots and SMS of a
        run that failed hold its closed session)."""
        session = aiohttp.ClientSession()
        self.channels = self._given_channels or build_channels(
            self.settings, session, Inbox(self.store.pool)
        )
        self.ctx.channels = tuple(c for c in self.channels if c != "inapp")
        return session

    async def intake(self, conn: asyncpg.Connection, records: Sequence[LogRecord]) -> bool:
        """Queue the records' notifications; True when some are due now."""
        _, due = await enqueue(conn, self.name, records, self.ctx, self.store.preferences)
        return due > 0

    async def due(self, free: int, notified: bool) -> list[Due]:
        """Lease up to ``free`` due deliveries (looked for at every wake-up)."""
        return await self.store.claim_due(free) if free > 0 else []

    async def send(self, due: Due) -> None:
        """Attempt one delivery (:meth:`deliver`)."""
        await self.deliver(due)

    async def recorded(self, batch: Sequence[tuple[Attempt, Due]]) -> None:
        """A delivery whose channel went dead is followed by one on the next channel."""
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
        if verdict.outcome == "delivered" and bundled:  # before the digest is recorded
            await self.store.mark_digested(bundled, due.delivery_id)
        attempt = Attempt.judged(due.delivery_id, due.attempts, result, verdict, manual)
        self.log_consumer.record(attempt, due)
        log.info(
            "notify_attempt",
            delivery_id=due.delivery_id,
            channel=due.channel,
            kind=message.kind,
            case_id=message.case_id,
            **attempt.log_fields(),
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
            self.log_consumer.wake()


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

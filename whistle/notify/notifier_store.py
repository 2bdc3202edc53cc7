"""The notifier's delivery log in ``notify``: claiming due deliveries, recording attempts
(the shared :class:`~whistle.delivery.outbox.Outbox`), cancelling reminders, digests, the
admin's reading of the log and redelivery."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from whistle.delivery.outbox import Attempt, Outbox
from whistle.notify.message import Message
from whistle.notify.preferences import PreferenceStore
from whistle.notify.subscription_store import SubscriptionStore
from whistle.webhooks.secretbox import SecretBox

NOTIFY_CHANNEL = "whistle_notifier"
LEASE = timedelta(seconds=60)
LOG_COLUMNS = (
    "delivery_id, dedup_key, event_id, case_id, kind, recipient, user_id, channel, urgency,"
    " clock_key, digest, fallback_from, status, attempts, next_attempt_at, last_status_code,"
    " last_error, dead_reason, created_at, delivered_at"
)


def message_json(message: Message) -> str:
    """A message as stored with its delivery."""
    return json.dumps(
        {
            "kind": message.kind,
            "case_id": message.case_id,
            "title": message.title,
            "ask": message.ask,
            "headline": message.headline,
            "deadline": message.deadline.isoformat() if message.deadline else None,
            "link": message.link,
            "language": message.language,
            "facts": dict(message.facts),
            "key": message.key,
        },
        ensure_ascii=False,
    )


def message_of(data: str | dict[str, Any]) -> Message:
    """The message stored with a delivery."""
    raw = json.loads(data) if isinstance(data, str) else data
    deadline = raw.get("deadline")
    return Message(
        kind=raw["kind"],
        case_id=raw["case_id"],
        title=raw["title"],
        ask=raw["ask"],
        headline=raw["headline"],
        deadline=datetime.fromisoformat(deadline) if deadline else None,
        link=raw["link"],
        language=raw["language"],
        facts=raw.get("facts", {}),
        key=raw.get("key"),
    )


@dataclass(frozen=True)
class Due:
    """A delivery claimed for one attempt."""

    delivery_id: int
    dedup_key: str
    notice_key: str
    event_id: str
    user_id: str
    recipient: str
    channel: str
    target: str | None
    secret: str | None
    message: Message
    attempts: int
    digest: bool


@dataclass(frozen=True)
class LogFilter:
    """Filters of the delivery log (all optional)."""

    status: str | None = None
    channel: str | None = None
    user_id: str | None = None
    case_id: str | None = None
    kind: str | None = None
    before: int | None = None
    limit: int = 50


class NotifierStore:
    """Every query of the notifier's deliveries, over one pool."""

    def __init__(self, pool: asyncpg.Pool, box: SecretBox, lease: timedelta = LEASE) -> None:
        self.pool = pool
        self.box = box
        self.lease = lease
        self.preferences = PreferenceStore(pool, box)
        self.subscriptions = SubscriptionStore(pool)
        self.outbox = Outbox(pool, "notify", NOTIFY_CHANNEL)

    def _open(self, sealed: str | None) -> str | None:
        return self.box.open(sealed) if sealed else None

    async def user_exists(self, user_id: str) -> bool:
        """Whether ``user_id`` is a user (``api.users``)."""
        return bool(await self.pool.fetchval("SELECT 1 FROM api.users WHERE user_id = $1", user_id))

    async def checkpoints(self, consumer: str, topic: str) -> dict[int, int]:
        """Next offset to read, per partition."""
        rows = await self.pool.fetch(
            "SELECT partition, next_offset FROM notify.checkpoints"
            " WHERE consumer = $1 AND topic = $2",
            consumer,
            topic,
        )
        return {r["partition"]: r["next_offset"] for r in rows}

    async def claim_due(self, limit: int) -> list[Due]:
        """Lease up to ``limit`` due deliveries for one attempt each."""
        rows = await self.pool.fetch(
            """
            WITH due AS (
                SELECT delivery_id FROM notify.deliveries
                 WHERE status = 'pending' AND next_attempt_at <= now()
                 ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
            UPDATE notify.deliveries d SET next_attempt_at = now() + $2::interval
              FROM due WHERE d.delivery_id = due.delivery_id
            RETURNING d.delivery_id, d.dedup_key, d.notice_key, d.event_id, d.user_id,
                      d.recipient, d.channel, d.target_sealed, d.secret_sealed, d.message,
                      d.attempts, d.digest
            """,
            limit,
            self.lease,
        )
        return [self.due(r) for r in rows]

    def due(self, r: asyncpg.Record) -> Due:
        """A claimed row as a :class:`Due`."""
        return Due(
            r["delivery_id"], r["dedup_key"], r["notice_key"], r["event_id"], r["user_id"],
            r["recipient"], r["channel"], self._open(r["target_sealed"]),
            self._open(r["secret_sealed"]), message_of(r["message"]), r["attempts"], r["digest"],
        )  # fmt: skip

    async def record_attempts(self, attempts: Sequence[Attempt]) -> None:
        """Log attempts and move their deliveries (the shared outbox's one statement)."""
        await self.outbox.record_attempts(attempts)

    async def redeliver(self, delivery_id: int) -> bool:
        """Queue a delivery again now, keeping its attempt log."""
        return await self.outbox.redeliver(delivery_id)

    async def attempts(self, delivery_id: int) -> list[dict[str, Any]]:
        """Every attempt of one delivery."""
        return await self.outbox.attempts(delivery_id)

    async def delivery(self, delivery_id: int) -> dict[str, Any] | None:
        """One delivery of the log."""
        row = await self.pool.fetchrow(
            f"SELECT {LOG_COLUMNS} FROM notify.deliveries WHERE delivery_id = $1", delivery_id
        )
        return dict(row) if row else None

    async def deliveries(self, f: LogFilter) -> list[dict[str, Any]]:
        """The delivery log, newest first, filtered."""
        rows = await self.pool.fetch(
            f"SELECT {LOG_COLUMNS} FROM notify.deliveries"
            " WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR channel = $2)"
            " AND ($3::text IS NULL OR user_id = $3) AND ($4::text IS NULL OR case_id = $4)"
            " AND ($5::text IS NULL OR kind = $5)"
            " AND ($6::bigint IS NULL OR delivery_id < $6)"
            " ORDER BY delivery_id DESC LIMIT $7",
            f.status, f.channel, f.user_id, f.case_id, f.kind, f.before, f.limit,
        )  # fmt: skip
        return [dict(r) for r in rows]

    async def digest_items(self, user_id: str, channel: str) -> list[asyncpg.Record]:
        """The deliveries held for the user's digest on ``channel`` (waiting, due by now)."""
        return list(
            await self.pool.fetch(
                "SELECT delivery_id, message FROM notify.deliveries WHERE user_id = $1"
                " AND channel = $2 AND digest AND status = 'pending'"
                " AND next_attempt_at <= now() + $3::interval ORDER BY delivery_id",
                user_id,
                channel,
                self.lease,
            )
        )

    async def mark_digested(self, delivery_ids: Sequence[int], into: int) -> None:
        """The deliveries sent inside the digest ``into``: done, not sent on their own."""
        await self.pool.execute(
            "UPDATE notify.deliveries SET status = 'digested', delivered_at = now(),"
            " dead_reason = 'in digest ' || $2::text"
            " WHERE delivery_id = ANY($1::bigint[]) AND delivery_id <> $2",
            list(delivery_ids),
            into,
        )

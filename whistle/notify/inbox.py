"""In-app notifications: each user's inbox in the ``notify`` schema, and the channel that fills it.

Not a read model: whether a user has read a notification is the user's own state, which no
replay of the event log gives back, so like the webhooks' tables the inbox lives in its own
schema with its own migrations (``projections.migrate``) and survives a projection rebuild.

The workspace API (``whistle/api/notification_routes.py``) lists a user's notifications,
counts the unread ones, marks them read, and streams new ones over server-sent events; a
``NOTIFY whistle_inbox, '<user id>'`` after each insert wakes the streams of that user.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import asyncpg

from projections.migrate import Migration, migrate
from whistle.delivery.attempt import AttemptResult
from whistle.notify.channels.base import Destination
from whistle.notify.message import Message
from whistle.notify.tables import NOTIFIER_MIGRATIONS

SCHEMA = "notify"
INBOX_CHANNEL = "whistle_inbox"

MIGRATIONS = [
    Migration(
        1,
        "inbox",
        """
-- One row per notification shown in a user's workspace. dedup_key is the notification's
-- (event, recipient, channel) key: delivering the same notification again adds nothing.
CREATE TABLE notify.inbox (
    notification_id bigserial PRIMARY KEY,
    user_id         text NOT NULL,
    dedup_key       text NOT NULL,
    case_id         text NOT NULL,
    kind            text NOT NULL,
    language        text NOT NULL,
    subject         text NOT NULL,
    headline        text NOT NULL,
    ask             text NOT NULL,
    title           text NOT NULL,
    deadline        timestamptz,
    deadline_text   text NOT NULL,
    link            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    read_at         timestamptz,
    UNIQUE (user_id, dedup_key)
);
CREATE INDEX inbox_user ON notify.inbox (user_id, notification_id DESC);
CREATE INDEX inbox_unread ON notify.inbox (user_id) WHERE read_at IS NULL;
""",
    ),
    *NOTIFIER_MIGRATIONS,
]

COLUMNS = (
    "notification_id, case_id, kind, language, subject, headline, ask, title, deadline,"
    " deadline_text, link, created_at, read_at"
)


async def ensure_schema(conn: asyncpg.Connection) -> list[int]:
    """Apply the ``notify`` schema's pending migrations (inbox, preferences, deliveries);
    return the versions applied now."""
    return await migrate(conn, SCHEMA, MIGRATIONS)


@dataclass(frozen=True)
class Added:
    """The result of adding a notification: its id, and whether it is new."""

    notification_id: int
    new: bool


class InboxWatch:
    """Wakes the streams of a user when the user's inbox changes (``NOTIFY``).

    One pooled connection listens while at least one stream is open, and is given back when
    the last one closes. Should it be lost, streams still look every few seconds by themselves.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._conn: asyncpg.Connection | None = None
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._lock = asyncio.Lock()

    @property
    def listening(self) -> bool:
        """True while a connection listens (some stream is open)."""
        return self._conn is not None

    def _heard(self, _conn: object, _pid: int, _channel: str, user_id: str) -> None:
        for event in self._waiters.get(user_id, ()):
            event.set()

    async def subscribe(self, user_id: str) -> asyncio.Event:
        """An event set whenever ``user_id``'s inbox changes."""
        event = asyncio.Event()
        async with self._lock:
            if self._conn is None:
                conn = await self.pool.acquire()
                try:
                    await conn.add_listener(INBOX_CHANNEL, self._heard)
                except BaseException:
                    await self.pool.release(conn)
                    raise
                self._conn = conn
            self._waiters.setdefault(user_id, set()).add(event)
        return event

    async def unsubscribe(self, user_id: str, event: asyncio.Event) -> None:
        """Forget ``event``; the last one out gives the connection back."""
        async with self._lock:
            waiting = self._waiters.get(user_id, set())
            waiting.discard(event)
            if not waiting:
                self._waiters.pop(user_id, None)
            if not self._waiters and self._conn is not None:
                conn, self._conn = self._conn, None
                with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                    await conn.remove_listener(INBOX_CHANNEL, self._heard)
                with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                    await self.pool.release(conn)


class Inbox:
    """Every query of the users' inboxes, over one asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.watch = InboxWatch(pool)

    async def add(self, user_id: str, message: Message) -> Added:
        """Put ``message`` in the user's inbox once (by its key) and wake the user's streams."""
        key = message.key or f"unkeyed:{uuid.uuid4()}"
        async with self.pool.acquire() as conn, conn.transaction():
            notification_id = await conn.fetchval(
                "INSERT INTO notify.inbox (user_id, dedup_key, case_id, kind, language, subject,"
                " headline, ask, title, deadline, deadline_text, link)"
                " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)"
                " ON CONFLICT (user_id, dedup_key) DO NOTHING RETURNING notification_id",
                user_id, key, message.case_id, message.kind, message.language, message.subject,
                message.headline, message.ask, message.title, message.deadline,
                message.deadline_text, message.link,
            )  # fmt: skip
            if notification_id is None:
                existing = await conn.fetchval(
                    "SELECT notification_id FROM notify.inbox"
                    " WHERE user_id = $1 AND dedup_key = $2",
                    user_id,
                    key,
                )
                return Added(int(existing), False)
            await conn.execute("SELECT pg_notify($1, $2)", INBOX_CHANNEL, user_id)
        return Added(int(notification_id), True)

    async def items(
        self, user_id: str, unread_only: bool = False, limit: int = 50, before: int | None = None
    ) -> list[dict[str, Any]]:
        """The user's notifications, newest first (``before``: older than that id)."""
        rows = await self.pool.fetch(
            f"SELECT {COLUMNS} FROM notify.inbox WHERE user_id = $1"
            " AND (NOT $2 OR read_at IS NULL) AND ($3::bigint IS NULL OR notification_id < $3)"
            " ORDER BY notification_id DESC LIMIT $4",
            user_id,
            unread_only,
            before,
            limit,
        )
        return [dict(r) for r in rows]

    async def since(self, user_id: str, after: int, limit: int = 100) -> list[dict[str, Any]]:
        """The user's notifications newer than ``after``, oldest first (for the stream)."""
        rows = await self.pool.fetch(
            f"SELECT {COLUMNS} FROM notify.inbox WHERE user_id = $1 AND notification_id > $2"
            " ORDER BY notification_id LIMIT $3",
            user_id,
            after,
            limit,
        )
        return [dict(r) for r in rows]

    async def unread(self, user_id: str) -> int:
        """How many of the user's notifications are unread."""
        return int(
            await self.pool.fetchval(
                "SELECT count(*) FROM notify.inbox WHERE user_id = $1 AND read_at IS NULL",
                user_id,
            )
        )

    async def newest_id(self, user_id: str) -> int:
        """The id of the user's newest notification (0: none)."""
        return int(
            await self.pool.fetchval(
                "SELECT coalesce(max(notification_id), 0) FROM notify.inbox WHERE user_id = $1",
                user_id,
            )
        )

    async def mark_read(self, user_id: str, notification_id: int) -> dict[str, Any] | None:
        """Mark one of the user's notifications read (again: no change); the notification as
        marked, None if it is not theirs."""
        async with self.pool.acquire() as conn, conn.transaction():
            found = await conn.fetchrow(
                "UPDATE notify.inbox SET read_at = coalesce(read_at, now())"
                f" WHERE user_id = $1 AND notification_id = $2 RETURNING {COLUMNS}",
                user_id,
                notification_id,
            )
            if found is not None:  # the user's other screens show the new unread count
                await conn.execute("SELECT pg_notify($1, $2)", INBOX_CHANNEL, user_id)
        return dict(found) if found is not None else None

    async def mark_all_read(self, user_id: str) -> int:
        """Mark every unread notification of the user read; return how many."""
        async with self.pool.acquire() as conn, conn.transaction():
            status = await conn.execute(
                "UPDATE notify.inbox SET read_at = now() WHERE user_id = $1 AND read_at IS NULL",
                user_id,
            )
            marked = int(status.rsplit(" ", 1)[1])
            if marked:
                await conn.execute("SELECT pg_notify($1, $2)", INBOX_CHANNEL, user_id)
        return marked


class InAppChannel:
    """The in-app channel: ``to.target`` is the recipient's user id."""

    name = "inapp"

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def send(self, message: Message, to: Destination) -> AttemptResult:
        """Add the message to the user's inbox; a duplicate (same key) is delivered already."""
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        try:
            added = await self.inbox.add(to.target, message)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            elapsed = (time.perf_counter() - t0) * 1000
            return AttemptResult(started, elapsed, error=f"{type(exc).__name__}: {exc}"[:500])
        elapsed = (time.perf_counter() - t0) * 1000
        return AttemptResult(started, elapsed, 201 if added.new else 200)


if TYPE_CHECKING:  # every channel is a Channel (checked by mypy, no cost at run time)
    from whistle.notify.channels import (
        AliyunSms,
        Channel,
        DingTalkRobot,
        EmailChannel,
        FeishuBot,
        SmsGateway,
        WeComRobot,
    )

    def _channels(
        a: InAppChannel, e: EmailChannel, w: WeComRobot, d: DingTalkRobot, f: FeishuBot,
        s: AliyunSms,
    ) -> tuple[list[Channel], SmsGateway]:  # fmt: skip
        return [a, e, w, d, f, s], s

"""Turn a batch of case events into queued notification deliveries, with the checkpoint,
atomically (one transaction).

Per batch: one read of the cases' memos, then one transaction that cancels the reminders of
clocks met, inserts the deliveries (unique per (notification, recipient, channel): a replay
inserts nothing), stores the memos and the notifier's position. Who is told comes from
:func:`whistle.notify.recipients.react`; where, from the users' preferences
(:class:`~whistle.notify.preferences.Reach`): in-app always, plus the first channel of the
user's order that has an address. A notice of a kind its recipient turned off (or their
department did) is dropped first (:func:`whistle.notify.subscriptions.wanted`). Quiet hours
hold a delivery until their end unless the case's urgency is ``emergency``; a digest user's
non-emergency deliveries wait for the next digest hour and go out together.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from whistle.domain.base import Event
from whistle.domain.codec import DecodeError, parse_event
from whistle.logs import get_logger
from whistle.notify.message import Message, case_link
from whistle.notify.notifier_store import message_json
from whistle.notify.preferences import (
    CHANNELS,
    Preferences,
    PreferenceStore,
    Reach,
    Route,
    groups_of,
    next_digest_at,
)
from whistle.notify.recipients import CaseMemo, Directory, Notice, Person, react
from whistle.notify.subscription_store import load_subscriptions
from whistle.notify.subscriptions import Subscriptions, wanted
from whistle.webhooks.intake import LogRecord
from whistle.webhooks.secretbox import SecretBox

log = get_logger()

__all__ = ["Context", "LogRecord", "Row", "enqueue", "rows_for"]


@dataclass
class Context:
    """What the intake needs besides the batch: users, their reach, and the settings."""

    box: SecretBox
    case_url: str
    percents: tuple[int, ...] = (50, 80)
    channels: tuple[str, ...] = CHANNELS
    digest_hour: int = 8
    max_event_age: timedelta = timedelta(days=1)
    ttl_s: float = 1.0
    directory: Directory = field(default_factory=lambda: Directory([]))
    reach: Reach = field(default_factory=Reach)
    subscriptions: Subscriptions = field(default_factory=Subscriptions)
    _at: float = float("-inf")

    async def refresh(self, conn: asyncpg.Connection, store: PreferenceStore) -> None:
        """Read the users, their preferences and subscriptions again when older than
        ``ttl_s``."""
        if time.monotonic() - self._at < self.ttl_s:
            return
        rows = await conn.fetch(
            "SELECT user_id, role, area, department FROM api.users WHERE revoked_at IS NULL"
        )
        self.directory = Directory(Person(r[0], r[1], r[2], r[3]) for r in rows)
        self.reach = Reach(await store.all(), await store.group_robots())
        self.subscriptions = await load_subscriptions(conn)
        self._at = time.monotonic()


@dataclass(frozen=True)
class Row:
    """One delivery to insert."""

    dedup_key: str
    notice_key: str
    event_id: str
    case_id: str
    kind: str
    recipient: str
    user_id: str
    channel: str
    target: str | None
    secret: str | None
    message: Message
    urgency: str
    clock_key: str | None
    digest: bool
    next_attempt_at: datetime
    event_at: datetime


def _held(
    prefs: Preferences, at: datetime, urgency: str, digest_hour: int
) -> tuple[datetime, bool]:
    """When an external delivery may go, and whether it waits for the digest."""
    if urgency == "emergency":
        return at, False
    if prefs.digest:
        return next_digest_at(at, digest_hour), True
    return prefs.quiet_until(at) or at, False


def route_key(notice: Notice, route: Route) -> str:
    """The dedup key of ``notice`` on ``route``: per user, or per group for a group robot
    (the group hears once however many of its members are told)."""
    base = notice.key[: -len(notice.recipient) - 1]
    return f"{base}:{route.recipient}:{route.channel}"


def rows_for(
    notice: Notice, memo: CaseMemo, event: Event, ctx: Context, now: datetime
) -> list[Row]:
    """The deliveries of one notice: in-app, and the first reachable external channel."""
    person = ctx.directory.people.get(notice.recipient)
    if person is None:
        return []
    prefs = ctx.reach.of(notice.recipient)
    at = max(notice.not_before or now, now)
    groups = ctx.reach.groups(groups_of(person.role, person.department, person.area))
    routes = prefs.routes(groups, ctx.channels)
    link = case_link(ctx.case_url, memo.case_id)
    facts: dict[str, Any] = dict(notice.facts)
    found: list[Row] = []
    for route in [Route("inapp", notice.recipient, None, notice.recipient), *routes[:1]]:
        key = f"{notice.key}:inapp" if route.channel == "inapp" else route_key(notice, route)
        when, digest = (at, False)
        if route.channel != "inapp":
            when, digest = _held(prefs, at, memo.urgency, ctx.digest_hour)
        message = Message.create(
            notice.kind, memo.facts, link, notice.deadline,
            prefs.language,  # type: ignore[arg-type]
            key=key, **facts,
        )  # fmt: skip
        found.append(
            Row(
                key, notice.key, event.event_id, memo.case_id, notice.kind, route.recipient,
                notice.recipient, route.channel, route.target if route.channel != "inapp"
                else None, route.secret, message, memo.urgency, notice.clock_key, digest, when,
                event.occurred_at,
            )
        )  # fmt: skip
    return found


def _decode(records: Sequence[LogRecord]) -> list[Event]:
    events = []
    for rec in records:
        try:
            events.append(parse_event(rec.value or b""))
        except (DecodeError, ValueError) as exc:
            log.warning("notify_skip_record", partition=rec.partition, offset=rec.offset,
                        error=str(exc)[:200])  # fmt: skip
    return events


@dataclass
class Batch:
    """A batch folded: the rows to insert, the reminders to cancel, the memos changed."""

    rows: list[Row] = field(default_factory=list)
    cancel: list[tuple[str, str]] = field(default_factory=list)  # (case id, clock key)
    memos: dict[str, tuple[CaseMemo, int]] = field(default_factory=dict)


def fold(
    events: Iterable[Event], memos: dict[str, tuple[CaseMemo, int]], ctx: Context, now: datetime
) -> Batch:
    """Fold ``events`` into the memos; the deliveries they ask for. Applied events (replays)
    are skipped; a reminder whose deadline has passed is not queued, nor any other notice of
    an event older than ``ctx.max_event_age`` (a first start on a long log)."""
    batch = Batch()
    for event in events:
        memo, applied = memos.get(event.case_id, (None, 0))
        if event.seq <= applied:
            continue
        reaction = react(memo, event, ctx.directory, ctx.percents, ctx.case_url)
        memos[event.case_id] = (reaction.memo, event.seq)
        batch.memos[event.case_id] = (reaction.memo, event.seq)
        if reaction.dropped_clocks:
            dropped = set(reaction.dropped_clocks)
            batch.rows = [
                r for r in batch.rows
                if not (r.case_id == event.case_id and r.clock_key in dropped
                        and r.kind == "deadline_approaching")
            ]  # fmt: skip
            batch.cancel += [(event.case_id, k) for k in dropped]
        stale = now - event.occurred_at > ctx.max_event_age
        told = wanted(reaction.notices, ctx.directory, ctx.subscriptions, reaction.memo.urgency)
        for notice in told:
            if notice.kind == "deadline_approaching":
                if notice.deadline and notice.deadline <= now:
                    continue
            elif stale:
                continue
            try:
                batch.rows += rows_for(notice, reaction.memo, event, ctx, now)
            except ValueError as exc:  # a message that cannot be written: log, go on
                log.warning("notify_bad_notice", case_id=event.case_id, error=str(exc))
    return batch


INSERT = """
INSERT INTO notify.deliveries (dedup_key, notice_key, event_id, case_id, kind, recipient,
    user_id, channel, target_sealed, secret_sealed, message, urgency, clock_key, digest,
    next_attempt_at, event_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
    $7::text[], $8::text[], $9::text[], $10::text[], $11::jsonb[], $12::text[], $13::text[],
    $14::bool[], $15::timestamptz[], $16::timestamptz[])
ON CONFLICT (dedup_key) DO NOTHING
RETURNING delivery_id, next_attempt_at <= now() AS due
"""

CANCEL = """
UPDATE notify.deliveries d SET status = 'cancelled', dead_reason = 'clock met or stopped'
  FROM unnest($1::text[], $2::text[]) AS c(case_id, clock_key)
 WHERE d.case_id = c.case_id AND d.clock_key = c.clock_key AND d.status = 'pending'
   AND d.kind = 'deadline_approaching'
"""

MEMOS = """
INSERT INTO notify.cases (case_id, memo, applied_seq)
SELECT * FROM unnest($1::text[], $2::jsonb[], $3::int[])
ON CONFLICT (case_id) DO UPDATE SET memo = EXCLUDED.memo, applied_seq = EXCLUDED.applied_seq
 WHERE notify.cases.applied_seq < EXCLUDED.applied_seq
"""

CHECKPOINT = """
INSERT INTO notify.checkpoints (consumer, topic, partition, next_offset)
SELECT $1, t, p, o FROM unnest($2::text[], $3::int[], $4::bigint[]) AS x(t, p, o)
ON CONFLICT (consumer, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset
"""


def _columns(rows: list[Row], box: SecretBox) -> list[list[Any]]:
    return [
        [r.dedup_key for r in rows],
        [r.notice_key for r in rows],
        [r.event_id for r in rows],
        [r.case_id for r in rows],
        [r.kind for r in rows],
        [r.recipient for r in rows],
        [r.user_id for r in rows],
        [r.channel for r in rows],
        [box.seal(r.target) if r.target else None for r in rows],
        [box.seal(r.secret) if r.secret else None for r in rows],
        [message_json(r.message) for r in rows],
        [r.urgency for r in rows],
        [r.clock_key for r in rows],
        [r.digest for r in rows],
        [r.next_attempt_at for r in rows],
        [r.event_at for r in rows],
    ]


async def enqueue(
    conn: asyncpg.Connection,
    consumer: str,
    records: Sequence[LogRecord],
    ctx: Context,
    store: PreferenceStore,
) -> tuple[int, int]:
    """Apply ``records``: queue their deliveries; return (deliveries inserted, due now)."""
    import json

    events = _decode(records)
    await ctx.refresh(conn, store)
    rows = await conn.fetch(
        "SELECT case_id, memo, applied_seq FROM notify.cases WHERE case_id = ANY($1::text[])",
        sorted({e.case_id for e in events}),
    )
    memos = {r[0]: (CaseMemo.from_json(json.loads(r[1])), r[2]) for r in rows}
    batch = fold(events, memos, ctx, datetime.now(UTC))
    positions: dict[tuple[str, int], int] = {}
    for rec in records:
        positions[(rec.topic, rec.partition)] = rec.offset + 1
    changed = list(batch.memos.items())
    async with conn.transaction():
        if batch.cancel:
            await conn.execute(CANCEL, [c for c, _ in batch.cancel], [k for _, k in batch.cancel])
        inserted = await conn.fetch(INSERT, *_columns(batch.rows, ctx.box)) if batch.rows else []
        if changed:
            await conn.execute(
                MEMOS,
                [k for k, _ in changed],
                [json.dumps(m.to_json(), ensure_ascii=False) for _, (m, _) in changed],
                [s for _, (_, s) in changed],
            )
        await conn.execute(
            CHECKPOINT, consumer, [t for t, _ in positions], [p for _, p in positions],
            list(positions.values()),
        )  # fmt: skip
    return len(inserted), sum(1 for r in inserted if r["due"])

"""The stored subscriptions (``notify.subscriptions``): a user's or a department's on/off per
notification kind, replaced whole, each change in the audit log. A change also cancels the
deliveries already queued (reminders of running clocks, held ones) that the people concerned
no longer receive, by the same rules as the intake (:meth:`Subscriptions.mutes`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import asyncpg

from whistle.audit.entries import record
from whistle.notify.recipients import Person
from whistle.notify.subscriptions import Subscriptions

OwnerKind = Literal["user", "department"]

PENDING_OF = """
SELECT d.delivery_id, d.kind, d.urgency, u.user_id, u.role, u.area, u.department
  FROM notify.deliveries d JOIN api.users u ON u.user_id = d.user_id
 WHERE d.status = 'pending' AND d.recipient = d.user_id
   AND (($1 = 'user' AND u.user_id = $2) OR ($1 = 'department' AND u.department = $2))
"""
"""The pending deliveries to the owner's people on their own channels (a group robot's
delivery is the group's: another member may still be told)."""


async def load_subscriptions(conn: asyncpg.Connection | asyncpg.Pool) -> Subscriptions:
    """Everyone's settings (the notifier's snapshot)."""
    rows = await conn.fetch("SELECT owner_kind, owner, kind, enabled FROM notify.subscriptions")
    found: dict[str, dict[str, dict[str, bool]]] = {"user": {}, "department": {}}
    for r in rows:
        found[r["owner_kind"]].setdefault(r["owner"], {})[r["kind"]] = r["enabled"]
    return Subscriptions(users=found["user"], departments=found["department"])


class SubscriptionStore:
    """Reads and replaces one owner's settings, over one pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def of(self, owner_kind: OwnerKind, owner: str) -> dict[str, bool]:
        """The owner's stored settings, kind → on/off (empty: all defaults)."""
        rows = await self.pool.fetch(
            "SELECT kind, enabled FROM notify.subscriptions WHERE owner_kind = $1"
            " AND owner = $2 ORDER BY kind",
            owner_kind,
            owner,
        )
        return {r["kind"]: r["enabled"] for r in rows}

    async def all(self) -> Subscriptions:
        """Everyone's settings."""
        return await load_subscriptions(self.pool)

    async def put(
        self, owner_kind: OwnerKind, owner: str, settings: Mapping[str, bool], actor: str
    ) -> None:
        """Replace the owner's settings with ``settings`` (a kind left out: the default)."""
        async with self.pool.acquire() as conn, conn.transaction():
            before = await conn.fetch(
                "DELETE FROM notify.subscriptions WHERE owner_kind = $1 AND owner = $2"
                " RETURNING kind, enabled",
                owner_kind,
                owner,
            )
            if settings:
                await conn.execute(
                    "INSERT INTO notify.subscriptions (owner_kind, owner, kind, enabled,"
                    " updated_by) SELECT $1, $2, k, e, $5"
                    " FROM unnest($3::text[], $4::bool[]) AS x(k, e)",
                    owner_kind, owner, list(settings), list(settings.values()), actor,
                )  # fmt: skip
            cancelled = await _cancel_muted(conn, owner_kind, owner)
            await record(
                conn,
                actor=actor,
                kind="notify.subscriptions_set",
                subject=f"{owner_kind} {owner}",
                before={r["kind"]: r["enabled"] for r in before},
                after=dict(settings),
                note=f"{cancelled} queued deliveries cancelled" if cancelled else "",
            )


async def _cancel_muted(conn: asyncpg.Connection, owner_kind: OwnerKind, owner: str) -> int:
    """Cancel the owner's people's queued deliveries of kinds they no longer receive."""
    rows = await conn.fetch(PENDING_OF, owner_kind, owner)
    if not rows:
        return 0
    subs = await load_subscriptions(conn)
    muted = [
        r["delivery_id"]
        for r in rows
        if subs.mutes(Person(r["user_id"], r["role"], r["area"], r["department"]), r["kind"],
                      r["urgency"])
    ]  # fmt: skip
    if not muted:
        return 0
    status = await conn.execute(
        "UPDATE notify.deliveries SET status = 'cancelled', dead_reason = 'kind turned off'"
        " WHERE delivery_id = ANY($1::bigint[]) AND status = 'pending'",
        muted,
    )
    return int(status.split()[-1])

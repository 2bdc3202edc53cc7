"""The stored subscriptions (``notify.subscriptions``): a user's or a department's on/off per
notification kind, replaced whole, each change in the audit log."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import asyncpg

from whistle.audit.entries import record
from whistle.notify.subscriptions import Subscriptions

OwnerKind = Literal["user", "department"]


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
            await record(
                conn,
                actor=actor,
                kind="notify.subscriptions_set",
                subject=f"{owner_kind} {owner}",
                before={r["kind"]: r["enabled"] for r in before},
                after=dict(settings),
            )

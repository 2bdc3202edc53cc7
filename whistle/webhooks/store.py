"""Postgres storage of endpoints, case departments, deliveries, attempts and checkpoints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

import asyncpg

from whistle.delivery.outbox import Attempt, Outbox
from whistle.webhooks.secretbox import SecretBox

__all__ = ["LEASE", "NOTIFY_CHANNEL", "Attempt", "Due", "Endpoint", "WebhookStore"]

NOTIFY_CHANNEL = "whistle_webhooks"
LEASE = timedelta(seconds=60)
DISABLE_GONE = """
UPDATE webhooks.endpoints SET enabled = false, updated_at = now(),
       disabled_reason = '410 Gone from the receiver'
 WHERE endpoint_id IN (SELECT endpoint_id FROM moved WHERE gone)
"""


@dataclass(frozen=True)
class Endpoint:
    """A department's receiver with its currently valid secrets (decrypted)."""

    endpoint_id: int
    department: str
    url: str
    enabled: bool
    secrets: tuple[str, ...]
    event_types: tuple[str, ...] | None = None
    description: str = ""
    disabled_reason: str | None = None

    def wants(self, event_type: str) -> bool:
        """True when the endpoint subscribed to this event type (None: every type)."""
        return self.event_types is None or event_type in self.event_types


@dataclass(frozen=True)
class Due:
    """A delivery claimed for an attempt."""

    delivery_id: int
    endpoint_id: int
    event_id: str
    body: str
    attempts: int
    url: str
    secrets: tuple[str, ...]


@lru_cache(maxsize=4096)
def _opened(box: SecretBox, sealed: str) -> str:
    return box.open(sealed)


def valid_secrets(row: Mapping[str, Any], box: SecretBox) -> tuple[str, ...]:
    """The secrets of an endpoint row that sign now: the current one, and the previous one
    while the rotation overlap lasts (the row carries the database's ``now``)."""
    secrets = [_opened(box, row["secret_sealed"])]
    expires = row["previous_expires_at"]
    if row["previous_sealed"] and expires is not None and expires > row["now"]:
        secrets.append(_opened(box, row["previous_sealed"]))
    return tuple(secrets)


def _endpoint(row: asyncpg.Record, box: SecretBox) -> Endpoint:
    secrets = valid_secrets(row, box)
    types = tuple(row["event_types"]) if row["event_types"] is not None else None
    return Endpoint(
        endpoint_id=row["endpoint_id"],
        department=row["department"],
        url=row["url"],
        enabled=row["enabled"],
        secrets=secrets,
        event_types=types,
        description=row["description"],
        disabled_reason=row["disabled_reason"],
    )


class WebhookStore:
    """Every query of the webhooks schema, over one asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool, box: SecretBox) -> None:
        self.pool = pool
        self.box = box
        self.outbox = Outbox(pool, "webhooks", NOTIFY_CHANNEL, DISABLE_GONE, "d.endpoint_id")

    async def add_endpoint(
        self,
        department: str,
        url: str,
        secret: str,
        description: str = "",
        event_types: list[str] | None = None,
    ) -> int:
        """Register an endpoint; return its id."""
        return int(
            await self.pool.fetchval(
                "INSERT INTO webhooks.endpoints (department, url, description, event_types,"
                " secret_sealed) VALUES ($1,$2,$3,$4,$5) RETURNING endpoint_id",
                department,
                url,
                description,
                event_types,
                self.box.seal(secret),
            )
        )

    async def endpoints(self, department: str | None = None) -> list[Endpoint]:
        """Every endpoint, or one department's."""
        rows = await self.pool.fetch(
            "SELECT *, now() AS now FROM webhooks.endpoints"
            " WHERE $1::text IS NULL OR department = $1 ORDER BY endpoint_id",
            department,
        )
        return [_endpoint(r, self.box) for r in rows]

    async def endpoint(self, endpoint_id: int) -> Endpoint | None:
        """One endpoint by id."""
        row = await self.pool.fetchrow(
            "SELECT *, now() AS now FROM webhooks.endpoints WHERE endpoint_id = $1", endpoint_id
        )
        return _endpoint(row, self.box) if row else None

    async def rotate(self, endpoint_id: int, new_secret: str, overlap: timedelta) -> bool:
        """Make ``new_secret`` current; the old one stays valid for ``overlap``."""
        status = await self.pool.execute(
            "UPDATE webhooks.endpoints SET previous_sealed = secret_sealed,"
            " previous_expires_at = now() + $3::interval, secret_sealed = $2, updated_at = now()"
            " WHERE endpoint_id = $1",
            endpoint_id,
            self.box.seal(new_secret),
            overlap,
        )
        return status.endswith(" 1")

    async def set_enabled(self, endpoint_id: int, enabled: bool, reason: str | None = None) -> bool:
        """Enable or disable an endpoint (410 Gone disables it)."""
        status = await self.pool.execute(
            "UPDATE webhooks.endpoints SET enabled = $2, disabled_reason = $3, updated_at = now()"
            " WHERE endpoint_id = $1",
            endpoint_id,
            enabled,
            None if enabled else reason,
        )
        return status.endswith(" 1")

    async def checkpoints(self, consumer: str, topic: str) -> dict[int, int]:
        """Next offset to read, per partition."""
        rows = await self.pool.fetch(
            "SELECT partition, next_offset FROM webhooks.checkpoints"
            " WHERE consumer = $1 AND topic = $2",
            consumer,
            topic,
        )
        return {r["partition"]: r["next_offset"] for r in rows}

    async def claim_due(self, limit: int, only: list[int] | None = None) -> list[Due]:
        """Lease up to ``limit`` due deliveries of enabled endpoints for one attempt."""
        rows = await self.pool.fetch(
            """
            WITH due AS (
                SELECT d.delivery_id FROM webhooks.deliveries d
                  JOIN webhooks.endpoints e USING (endpoint_id)
                 WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND e.enabled
                   AND ($2::bigint[] IS NULL OR d.delivery_id = ANY($2))
                 ORDER BY d.next_attempt_at
                 LIMIT $1 FOR UPDATE OF d SKIP LOCKED)
            UPDATE webhooks.deliveries d SET next_attempt_at = now() + $3::interval
              FROM due, webhooks.endpoints e
             WHERE d.delivery_id = due.delivery_id AND e.endpoint_id = d.endpoint_id
            RETURNING d.delivery_id, d.endpoint_id, d.event_id, d.body, d.attempts, e.url,
                      e.secret_sealed, e.previous_sealed, e.previous_expires_at, now() AS now
            """,
            limit,
            only,
            LEASE,
        )
        return [
            Due(
                r["delivery_id"], r["endpoint_id"], r["event_id"], r["body"], r["attempts"],
                r["url"], valid_secrets(r, self.box),
            )
            for r in rows
        ]  # fmt: skip

    async def record_attempts(self, attempts: Sequence[Attempt]) -> None:
        """Log attempts and move each delivery: delivered, retried later, dead, or gone (410,
        which disables the endpoint), in one statement (the shared outbox's)."""
        await self.outbox.record_attempts(attempts)

    async def redeliver(self, delivery_id: int) -> bool:
        """Queue a delivery again now (dead or delivered), keeping its attempt log."""
        return await self.outbox.redeliver(delivery_id)

    async def deliveries(
        self, status: str | None = None, endpoint_id: int | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """The delivery log, newest first."""
        rows = await self.pool.fetch(
            "SELECT delivery_id, endpoint_id, event_id, case_id, event_type, department, status,"
            " attempts, next_attempt_at, last_status_code, last_error, dead_reason, created_at,"
            " delivered_at FROM webhooks.deliveries"
            " WHERE ($1::text IS NULL OR status = $1) AND ($2::bigint IS NULL OR endpoint_id = $2)"
            " ORDER BY delivery_id DESC LIMIT $3",
            status,
            endpoint_id,
            limit,
        )
        return [dict(r) for r in rows]

    async def attempts(self, delivery_id: int) -> list[dict[str, Any]]:
        """Every attempt of one delivery."""
        return await self.outbox.attempts(delivery_id)

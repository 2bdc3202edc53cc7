"""Postgres storage of endpoints, case departments, deliveries, attempts and checkpoints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

import asyncpg

from whistle.audit.entries import SYSTEM_WEBHOOKS, cli_actor, record
from whistle.delivery.outbox import Attempt, Outbox
from whistle.webhooks.secretbox import SecretBox

__all__ = ["LEASE", "NOTIFY_CHANNEL", "Attempt", "Due", "Endpoint", "WebhookStore"]

NOTIFY_CHANNEL = "whistle_webhooks"
LEASE = timedelta(seconds=60)
GONE_REASON = "410 Gone from the receiver"
DISABLE_GONE = f"""
, was_enabled AS (
    SELECT endpoint_id, department, url FROM webhooks.endpoints
     WHERE enabled AND endpoint_id IN (SELECT endpoint_id FROM moved WHERE gone)
), disabled AS (
    UPDATE webhooks.endpoints SET enabled = false, updated_at = now(),
           disabled_reason = '{GONE_REASON}'
     WHERE endpoint_id IN (SELECT endpoint_id FROM moved WHERE gone)
)
INSERT INTO audit.entries (actor, kind, subject, before, after)
SELECT '{SYSTEM_WEBHOOKS}', 'webhook.disabled', 'webhook ' || endpoint_id,
       jsonb_build_object('department', department, 'url', url,
                          'enabled', true, 'disabled_reason', NULL),
       jsonb_build_object('department', department, 'url', url,
                          'enabled', false, 'disabled_reason', '{GONE_REASON}'::text)
  FROM was_enabled
"""
"""Run by the shared outbox over the deliveries it moved, in the same statement: the endpoints
that answered 410 are disabled, each with its audit entry (``audit.entries``)."""


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
        *,
        actor: str | None = None,
    ) -> int:
        """Register an endpoint; return its id. Recorded in the audit log as ``actor``
        (default: the local login, ``cli:<name>``); the secret never is."""
        async with self.pool.acquire() as conn, conn.transaction():
            endpoint_id = int(
                await conn.fetchval(
                    "INSERT INTO webhooks.endpoints (department, url, description, event_types,"
                    " secret_sealed) VALUES ($1,$2,$3,$4,$5) RETURNING endpoint_id",
                    department,
                    url,
                    description,
                    event_types,
                    self.box.seal(secret),
                )
            )
            await record(
                conn,
                actor=actor or cli_actor(),
                kind="webhook.added",
                subject=f"webhook {endpoint_id}",
                after={
                    "department": department,
                    "url": url,
                    "description": description,
                    "event_types": event_types,
                    "enabled": True,
                },
            )
        return endpoint_id

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

    async def rotate(
        self, endpoint_id: int, new_secret: str, overlap: timedelta, *, actor: str | None = None
    ) -> bool:
        """Make ``new_secret`` current; the old one stays valid for ``overlap``."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "UPDATE webhooks.endpoints SET previous_sealed = secret_sealed,"
                " previous_expires_at = now() + $3::interval, secret_sealed = $2,"
                " updated_at = now() WHERE endpoint_id = $1"
                " RETURNING department, url, previous_expires_at",
                endpoint_id,
                self.box.seal(new_secret),
                overlap,
            )
            if row is not None:
                await record(
                    conn,
                    actor=actor or cli_actor(),
                    kind="webhook.secret_rotated",
                    subject=f"webhook {endpoint_id}",
                    after={
                        "department": row["department"],
                        "url": row["url"],
                        "previous_secret_valid_until": row["previous_expires_at"].isoformat(),
                    },
                )
        return row is not None

    async def set_enabled(
        self,
        endpoint_id: int,
        enabled: bool,
        reason: str | None = None,
        *,
        actor: str | None = None,
    ) -> bool:
        """Enable or disable an endpoint (410 Gone disables it); False when there is none.

        A change of state is recorded in the audit log as ``actor``; setting the state it
        already has changes nothing and records nothing."""
        async with self.pool.acquire() as conn, conn.transaction():
            old = await conn.fetchrow(
                "SELECT department, url, enabled, disabled_reason FROM webhooks.endpoints"
                " WHERE endpoint_id = $1 FOR UPDATE",
                endpoint_id,
            )
            if old is None:
                return False
            if old["enabled"] == enabled:
                return True
            await conn.execute(
                "UPDATE webhooks.endpoints SET enabled = $2, disabled_reason = $3,"
                " updated_at = now() WHERE endpoint_id = $1",
                endpoint_id,
                enabled,
                None if enabled else reason,
            )
            where = {"department": old["department"], "url": old["url"]}
            await record(
                conn,
                actor=actor or cli_actor(),
                kind="webhook.enabled" if enabled else "webhook.disabled",
                subject=f"webhook {endpoint_id}",
                before={**where, "enabled": old["enabled"], "disabled_reason": old[3]},
                after={**where, "enabled": enabled, "disabled_reason": None if enabled else reason},
            )
        return True

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

    async def last_deliveries(self) -> dict[int, dict[str, Any]]:
        """Each endpoint's newest delivery (status, attempts, last status code or error)."""
        rows = await self.pool.fetch(
            "SELECT e.endpoint_id, d.delivery_id, d.status, d.attempts, d.last_status_code,"
            " d.last_error, d.created_at, d.delivered_at FROM webhooks.endpoints e"
            " CROSS JOIN LATERAL (SELECT * FROM webhooks.deliveries x"
            " WHERE x.endpoint_id = e.endpoint_id ORDER BY x.delivery_id DESC LIMIT 1) d"
        )
        return {r["endpoint_id"]: dict(r) for r in rows}

    async def attempts(self, delivery_id: int) -> list[dict[str, Any]]:
        """Every attempt of one delivery."""
        return await self.outbox.attempts(delivery_id)

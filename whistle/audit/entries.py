"""The audit log of administration, append-only, in PostgreSQL schema ``audit``.

Why a table and not an event on the log: the changes it records are themselves rows in
PostgreSQL (``api.users``, ``webhooks.endpoints``), so each entry is written in the same
transaction as its change — there is no change without its entry and no entry for a change
that rolled back — and admins read it with filters and paging, which a table indexes and a
topic does not. Like the API's and the webhooks' tables it lives outside the ``projection``
schema, so a projection rebuild never drops it, and a trigger refuses UPDATE, DELETE and
TRUNCATE: entries are only ever added. Secrets and tokens are never recorded, not even hashed.

Configuration versions live on Kafka (another module publishes them); their publisher calls
:func:`record_config_change` once a version is published.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeAlias, get_args

import asyncpg

from projections.migrate import Migration, migrate

SCHEMA = "audit"

AuditKind = Literal[
    "user.added",
    "user.revoked",
    "user.role_changed",
    "user.password_reset",
    "user.password_changed",
    "webhook.added",
    "webhook.secret_rotated",
    "webhook.enabled",
    "webhook.disabled",
    "config.published",
    "notify.preferences_set",
    "notify.group_robot_set",
    "notify.group_robot_removed",
    "notify.subscriptions_set",
]
AUDIT_KINDS: tuple[AuditKind, ...] = get_args(AuditKind)
AUDIT_FAMILIES = tuple(sorted({k.split(".")[0] for k in AUDIT_KINDS}))
"""``user``, ``webhook``, ``config``, ``notify``: a ``kind`` filter may name a family."""

KIND_NAMES: dict[str, tuple[str, str]] = {
    "user.added": ("新增用户", "user added"),
    "user.revoked": ("吊销令牌", "token revoked"),
    "user.role_changed": ("变更角色", "role changed"),
    "user.password_reset": ("重置密码", "password reset"),
    "user.password_changed": ("修改密码", "password changed"),
    "webhook.added": ("新增回调地址", "webhook endpoint added"),
    "webhook.secret_rotated": ("轮换回调密钥", "webhook secret rotated"),
    "webhook.enabled": ("启用回调地址", "webhook endpoint enabled"),
    "webhook.disabled": ("停用回调地址", "webhook endpoint disabled"),
    "config.published": ("发布配置版本", "configuration version published"),
    "notify.preferences_set": ("设置通知偏好", "notification preferences set"),
    "notify.group_robot_set": ("设置群机器人", "group robot set"),
    "notify.group_robot_removed": ("移除群机器人", "group robot removed"),
    "notify.subscriptions_set": ("设置接收的通知", "notification subscriptions set"),
}
"""Kind → (Chinese, English) name."""

SYSTEM_WEBHOOKS = "system:webhooks"
"""The actor of changes the webhook deliverer makes itself (410 Gone disables an endpoint)."""

# Migration 0010 of the project's numbering; in a schema of its own (as ``api`` and
# ``webhooks``), applied by the same versioned, checksummed runner.
MIGRATIONS = [
    Migration(
        10,
        "audit_log",
        """
CREATE TABLE audit.entries (
    entry_id  bigserial PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor     text NOT NULL,
    kind      text NOT NULL,
    subject   text NOT NULL,
    before    jsonb,
    after     jsonb,
    note      text NOT NULL DEFAULT ''
);
CREATE INDEX entries_kind ON audit.entries (kind, entry_id);
CREATE INDEX entries_actor ON audit.entries (actor, entry_id);
CREATE INDEX entries_at ON audit.entries (at);

CREATE FUNCTION audit.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only (% refused)', TG_OP;
END $$;
CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON audit.entries
    FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON audit.entries
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
""",
    ),
]


async def migrate_audit(conn: asyncpg.Connection) -> list[int]:
    """Create or update the ``audit`` schema."""
    return await migrate(conn, SCHEMA, MIGRATIONS)


def cli_actor() -> str:
    """Who runs an administration command on this machine: ``cli:<login name>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "cli:unknown"


Executor: TypeAlias = asyncpg.Connection | asyncpg.Pool


@dataclass(frozen=True)
class AuditEntry:
    """One recorded change."""

    entry_id: int
    at: datetime
    actor: str
    kind: str
    subject: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    note: str

    def as_json(self) -> dict[str, Any]:
        """The entry as the API returns it."""
        return {
            "entry_id": self.entry_id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "kind": self.kind,
            "subject": self.subject,
            "before": self.before,
            "after": self.after,
            "note": self.note,
        }


def _jsonb(value: Mapping[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(dict(value), ensure_ascii=False, default=str)


def _entry(row: asyncpg.Record) -> AuditEntry:
    return AuditEntry(
        entry_id=row["entry_id"],
        at=row["at"],
        actor=row["actor"],
        kind=row["kind"],
        subject=row["subject"],
        before=json.loads(row["before"]) if row["before"] is not None else None,
        after=json.loads(row["after"]) if row["after"] is not None else None,
        note=row["note"],
    )


async def record(
    executor: Executor,
    *,
    actor: str,
    kind: AuditKind,
    subject: str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    note: str = "",
) -> AuditEntry:
    """Append one entry; pass the connection of the change's transaction so both land or none."""
    if kind not in AUDIT_KINDS:
        raise ValueError(f"unknown audit kind {kind!r}")
    if not actor:
        raise ValueError("an audit entry needs an actor")
    row = await executor.fetchrow(
        "INSERT INTO audit.entries (actor, kind, subject, before, after, note)"
        " VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6) RETURNING *",
        actor,
        kind,
        subject,
        _jsonb(before),
        _jsonb(after),
        note,
    )
    assert row is not None
    return _entry(row)


async def record_config_change(
    executor: Executor,
    *,
    actor: str,
    version: int,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    note: str = "",
) -> AuditEntry:
    """Record that ``actor`` published configuration version ``version``.

    ``before`` and ``after`` are JSON-able summaries of what changed (for example the
    previous and the new version's ``{"version": …, "calendar_years": [...]}``, or a
    ``ConfigDiff``'s ``model_dump(mode="json")`` as ``after`` with ``before`` the version it
    replaced); ``note`` is the publisher's reason. The subject is ``config v<version>``.
    """
    return await record(
        executor,
        actor=actor,
        kind="config.published",
        subject=f"config v{version}",
        before=before,
        after=after,
        note=note,
    )


@dataclass(frozen=True)
class AuditQuery:
    """Filters of a read: ``kind`` a kind or a family (``user``), newest first, keyset paging."""

    kind: str | None = None
    actor: str | None = None
    subject: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None
    limit: int = 50


class AuditLog:
    """Reads of the audit log, over one pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def entries(self, query: AuditQuery) -> list[AuditEntry]:
        """Entries matching ``query``, newest first (``since`` inclusive, ``until`` exclusive)."""
        family = query.kind if query.kind in AUDIT_FAMILIES else None
        kind = None if family else query.kind
        rows = await self.pool.fetch(
            "SELECT * FROM audit.entries"
            " WHERE ($1::text IS NULL OR kind = $1)"
            " AND ($2::text IS NULL OR kind LIKE $2 || '.%')"
            " AND ($3::text IS NULL OR actor = $3)"
            " AND ($4::text IS NULL OR subject = $4)"
            " AND ($5::timestamptz IS NULL OR at >= $5)"
            " AND ($6::timestamptz IS NULL OR at < $6)"
            " AND ($7::bigint IS NULL OR entry_id < $7)"
            " ORDER BY entry_id DESC LIMIT $8",
            kind,
            family,
            query.actor,
            query.subject,
            query.since,
            query.until,
            query.before_id,
            query.limit,
        )
        return [_entry(r) for r in rows]

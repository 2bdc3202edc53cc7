"""The API's own tables (users with hashed tokens, idempotency keys) in schema ``api``.

They are not read models: nothing in the event log can rebuild them, so they live outside the
``projection`` schema that rebuilds drop, and carry their own migrations (same runner).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import asyncpg

from projections.migrate import Migration, migrate
from whistle.api.identity import Principal, UserRole, new_token, token_hash, validate_scope
from whistle.audit.entries import cli_actor, migrate_audit, record

API_SCHEMA = "api"

MIGRATIONS = [
    Migration(
        1,
        "users_and_idempotency",
        """
CREATE TABLE users (
    user_id      text PRIMARY KEY,
    name         text NOT NULL DEFAULT '',
    role         text NOT NULL CHECK (role IN ('secretary', 'liaison', 'supervisor', 'admin')),
    area         text,
    department   text,
    token_sha256 text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE TABLE idempotency_keys (
    user_id        text NOT NULL,
    key            text NOT NULL,
    request_sha256 text NOT NULL,
    case_id        text NOT NULL,
    command_id     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
""",
    ),
    Migration(
        9,  # this schema's own numbering; 9 is the configuration work's number (issue #16)
        "config_admin_role",
        """
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('secretary', 'liaison', 'supervisor', 'admin', 'config_admin'));
""",
    ),
    Migration(
        10,  # people log in (issue #17): passwords, page sessions, login throttling
        "people_sessions",
        """
ALTER TABLE users ALTER COLUMN token_sha256 DROP NOT NULL;
ALTER TABLE users ADD COLUMN username text UNIQUE;
ALTER TABLE users ADD COLUMN password_hash text;
ALTER TABLE users ADD COLUMN password_changed_at timestamptz;
ALTER TABLE users ADD COLUMN must_change_password boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN lang text CHECK (lang IN ('zh', 'en'));
CREATE TABLE sessions (
    session_sha256 text PRIMARY KEY,
    user_id        text NOT NULL REFERENCES users (user_id),
    csrf_token     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz
);
CREATE INDEX sessions_user ON sessions (user_id) WHERE revoked_at IS NULL;
CREATE TABLE login_throttle (
    key          text PRIMARY KEY,
    failures     integer NOT NULL,
    window_start timestamptz NOT NULL,
    locked_until timestamptz
);
""",
    ),
]


async def migrate_api(conn: asyncpg.Connection) -> list[int]:
    """Apply the API's pending migrations (and the audit log's, which records user changes)."""
    applied = await migrate(conn, API_SCHEMA, MIGRATIONS)
    await migrate_audit(conn)
    return applied


@dataclass(frozen=True)
class UserRow:
    """A user as listed by ``whistle users list`` (never the token)."""

    user_id: str
    name: str
    role: str
    area: str | None
    department: str | None
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class IdempotentClaim:
    """The ids bound to an idempotency key; ``replay`` when the key was seen before."""

    case_id: str
    command_id: str
    replay: bool


class IdempotencyMismatch(Exception):
    """The key was used before with a different request body."""


class Identity(Protocol):
    """Resolves bearer tokens to principals."""

    async def principal(self, token: str) -> Principal | None:
        """The active principal holding ``token``, or None."""
        ...


class Idempotency(Protocol):
    """Binds (user, Idempotency-Key) to the ids of the first request."""

    async def claim(
        self,
        user_id: str,
        key: str,
        request_sha256: str,
        case_id: str,
        command_id: str,
        within: timedelta | None = None,
    ) -> IdempotentClaim:
        """Bind the key to these ids, or return the ids bound before (raises on a body change);
        with ``within``, a binding older than that is replaced (the key is free again)."""
        ...


class PgUsers:
    """Users in PostgreSQL, with a short in-process cache of token lookups."""

    def __init__(self, pool: asyncpg.Pool, cache_ttl_s: float = 5.0) -> None:
        self._pool = pool
        self.pool = pool
        """The pool, for the stores that share it (``whistle users reset-password``)."""
        self._ttl = cache_ttl_s
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    async def principal(self, token: str) -> Principal | None:
        """The principal of an active token (a revocation is seen within ``cache_ttl_s``)."""
        digest = token_hash(token)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        row = await self._pool.fetchrow(
            f"SELECT user_id, role, area, department, name FROM {API_SCHEMA}.users"
            " WHERE token_sha256 = $1 AND revoked_at IS NULL",
            digest,
        )
        found = (
            Principal(
                user_id=row["user_id"],
                role=row["role"],
                area=row["area"],
                department=row["department"],
                name=row["name"],
            )
            if row
            else None
        )
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now + self._ttl, found)
        return found

    async def add(
        self,
        user_id: str,
        role: UserRole,
        *,
        area: str | None = None,
        department: str | None = None,
        name: str = "",
        actor: str | None = None,
    ) -> str:
        """Create a user and return its token (shown once; only its hash is stored).

        Recorded in the audit log as ``actor`` (default: the local login, ``cli:<name>``).
        """
        problem = validate_scope(role, area, department)
        if problem:
            raise ValueError(problem)
        token = new_token()
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    f"INSERT INTO {API_SCHEMA}.users"
                    " (user_id, name, role, area, department, token_sha256)"
                    " VALUES ($1, $2, $3, $4, $5, $6)",
                    user_id,
                    name,
                    role,
                    area,
                    department,
                    token_hash(token),
                )
                await record(
                    conn,
                    actor=actor or cli_actor(),
                    kind="user.added",
                    subject=user_id,
                    after=_scope(name, role, area, department),
                )
        except asyncpg.UniqueViolationError as exc:
            raise ValueError(f"user {user_id!r} exists") from exc
        return token

    async def list(self) -> list[UserRow]:
        """Every user, active and revoked."""
        rows = await self._pool.fetch(
            f"SELECT user_id, name, role, area, department, created_at, revoked_at"
            f" FROM {API_SCHEMA}.users ORDER BY user_id"
        )
        return [UserRow(**dict(r)) for r in rows]

    async def revoke(self, user_id: str, *, actor: str | None = None) -> bool:
        """Revoke a user's token; False when there is no such active user (nothing recorded)."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"UPDATE {API_SCHEMA}.users SET revoked_at = now()"
                " WHERE user_id = $1 AND revoked_at IS NULL"
                " RETURNING name, role, area, department, revoked_at",
                user_id,
            )
            if row is not None:
                scope = _scope(row["name"], row["role"], row["area"], row["department"])
                await record(
                    conn,
                    actor=actor or cli_actor(),
                    kind="user.revoked",
                    subject=user_id,
                    before={**scope, "revoked_at": None},
                    after={**scope, "revoked_at": row["revoked_at"].isoformat()},
                )
        self._cache.clear()
        return row is not None

    async def set_role(
        self,
        user_id: str,
        role: UserRole,
        *,
        area: str | None = None,
        department: str | None = None,
        actor: str | None = None,
    ) -> bool:
        """Give an active user another role and scope (the token stays); False when there is
        no such active user. Raises ValueError on an inconsistent scope; a change to the same
        role and scope changes and records nothing."""
        problem = validate_scope(role, area, department)
        if problem:
            raise ValueError(problem)
        async with self._pool.acquire() as conn, conn.transaction():
            old = await conn.fetchrow(
                f"SELECT name, role, area, department FROM {API_SCHEMA}.users"
                " WHERE user_id = $1 AND revoked_at IS NULL FOR UPDATE",
                user_id,
            )
            if old is None:
                return False
            before = _scope(old["name"], old["role"], old["area"], old["department"])
            after = _scope(old["name"], role, area, department)
            if before == after:
                return True
            await conn.execute(
                f"UPDATE {API_SCHEMA}.users SET role = $2, area = $3, department = $4"
                " WHERE user_id = $1",
                user_id,
                role,
                area,
                department,
            )
            await record(
                conn,
                actor=actor or cli_actor(),
                kind="user.role_changed",
                subject=user_id,
                before=before,
                after=after,
            )
        self._cache.clear()
        return True


def _scope(name: str, role: str, area: str | None, department: str | None) -> dict[str, Any]:
    """What the audit log records of a user (never the token or its hash)."""
    return {"name": name, "role": role, "area": area, "department": department}


class PgIdempotency:
    """Idempotency keys in PostgreSQL: first writer wins, retries get the same ids."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def claim(
        self,
        user_id: str,
        key: str,
        request_sha256: str,
        case_id: str,
        command_id: str,
        within: timedelta | None = None,
    ) -> IdempotentClaim:
        """Bind the key to these ids, or return the ids bound before (raises on a body change);
        with ``within``, a binding older than that is replaced (the key is free again)."""
        row = await self._pool.fetchrow(
            f"INSERT INTO {API_SCHEMA}.idempotency_keys AS k"
            " (user_id, key, request_sha256, case_id, command_id) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (user_id, key) DO UPDATE SET request_sha256 = excluded.request_sha256,"
            " case_id = excluded.case_id, command_id = excluded.command_id, created_at = now()"
            " WHERE k.created_at < now() - $6::interval RETURNING case_id",
            user_id,
            key,
            request_sha256,
            case_id,
            command_id,
            within,
        )
        if row is not None:
            return IdempotentClaim(case_id, command_id, replay=False)
        bound = await self._pool.fetchrow(
            f"SELECT request_sha256, case_id, command_id FROM {API_SCHEMA}.idempotency_keys"
            " WHERE user_id = $1 AND key = $2",
            user_id,
            key,
        )
        assert bound is not None
        if bound["request_sha256"] != request_sha256:
            raise IdempotencyMismatch(key)
        return IdempotentClaim(bound["case_id"], bound["command_id"], replay=True)

"""People's accounts in PostgreSQL (schema ``api``, migration 10): passwords, page sessions and
login throttling.

A session is a random cookie value whose SHA-256 is the row's key (as API tokens), with the
CSRF token of its forms; it dies on logout, on a password change or reset (the user's other
sessions), on revocation of the user, or at ``expires_at``. Throttling counts failures per
account and per client address in ``login_throttle`` so every API process shares the count.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

import asyncpg

from whistle.api.account_store import API_SCHEMA
from whistle.api.i18n import Lang
from whistle.api.identity import Principal, UserRole, token_hash, validate_scope
from whistle.audit.entries import record
from whistle.web.passwords import Passwords, generated_password, weakness

S = API_SCHEMA
SESSION_LIFETIME = timedelta(hours=12)
"""How long a page session lives (no sliding: a working day, then log in again)."""


@dataclass(frozen=True)
class Throttle:
    """Login lockout: ``account_limit`` failures of one username (or ``client_limit`` from one
    address) within ``window`` lock it for ``lockout``."""

    account_limit: int = 5
    client_limit: int = 20
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class Session:
    """A live page session: who, the CSRF token of its forms, and what the pages need."""

    session_id: str
    """SHA-256 of the cookie value (the row's key; never the cookie itself)."""
    principal: Principal
    csrf_token: str
    must_change_password: bool
    lang: Lang | None


@dataclass(frozen=True)
class LoginResult:
    """A login's outcome: a new session's cookie value, or why not (and for how long)."""

    cookie: str | None = None
    session: Session | None = None
    refused: Literal["bad_credentials", "locked", None] = None
    wait_s: int = 0


@dataclass(frozen=True)
class PersonRow:
    """A user as the admin's list shows it (never a hash)."""

    user_id: str
    username: str | None
    name: str
    role: str
    area: str | None
    department: str | None
    has_password: bool
    created_at: datetime
    revoked_at: datetime | None


class Accounts(Protocol):
    """What the pages need of people's accounts."""

    async def login(self, username: str, password: str, client: str) -> LoginResult: ...
    async def session(self, cookie: str) -> Session | None: ...
    async def logout(self, cookie: str) -> None: ...
    async def change_password(self, session: Session, old: str, new: str) -> str | None: ...
    async def reset_password(self, user_id: str, actor: str) -> tuple[str, str] | None: ...
    async def create_person(
        self,
        user_id: str,
        username: str,
        role: UserRole,
        *,
        area: str | None = None,
        department: str | None = None,
        name: str = "",
        actor: str,
    ) -> str: ...
    async def people(self) -> list[PersonRow]: ...
    async def revoke(self, user_id: str, actor: str) -> bool: ...
    async def set_lang(self, user_id: str, lang: Lang) -> None: ...


class UsernameTaken(ValueError):
    """The user id or the username exists already."""


class PgAccounts:
    """People's accounts, sessions and login throttling in PostgreSQL."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        throttle: Throttle | None = None,
        session_lifetime: timedelta = SESSION_LIFETIME,
        passwords: Passwords | None = None,
    ) -> None:
        self._pool = pool
        self._passwords = passwords or Passwords()
        self.throttle = throttle or Throttle()
        self._lifetime = session_lifetime

    async def login(self, username: str, password: str, client: str) -> LoginResult:
        """Check the password unless the account or the address is locked; a success opens a
        session and clears the account's failures, a failure counts against both."""
        keys = [f"user:{username.lower()}", f"client:{client}"]
        wait = await self._pool.fetchval(
            f"SELECT ceil(extract(epoch FROM max(locked_until) - now()))::int"
            f" FROM {S}.login_throttle WHERE key = ANY($1) AND locked_until > now()",
            keys,
        )
        if wait:
            return LoginResult(refused="locked", wait_s=int(wait))
        row = await self._pool.fetchrow(
            f"SELECT user_id, password_hash FROM {S}.users"
            " WHERE username = $1 AND revoked_at IS NULL",
            username,
        )
        matches, rehash = await self._passwords.verify(
            row["password_hash"] if row else None, password
        )
        if not matches or row is None:
            wait_s = await self._fail(keys)
            return LoginResult(refused="locked" if wait_s else "bad_credentials", wait_s=wait_s)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(f"DELETE FROM {S}.login_throttle WHERE key = $1", keys[0])
            if rehash:
                await conn.execute(
                    f"UPDATE {S}.users SET password_hash = $2 WHERE user_id = $1",
                    row["user_id"],
                    await self._passwords.hash(password),
                )
            cookie = secrets.token_urlsafe(32)
            await conn.execute(
                f"INSERT INTO {S}.sessions (session_sha256, user_id, csrf_token, expires_at)"
                " VALUES ($1, $2, $3, now() + $4::interval)",
                token_hash(cookie),
                row["user_id"],
                secrets.token_urlsafe(32),
                self._lifetime,
            )
        return LoginResult(cookie=cookie, session=await self.session(cookie))

    async def _fail(self, keys: list[str]) -> int:
        """Count a failure against each key; the seconds of a lockout it started (else 0)."""
        t = self.throttle
        limits = [t.account_limit, t.client_limit]
        locked = 0
        async with self._pool.acquire() as conn, conn.transaction():
            for key, limit in zip(keys, limits, strict=True):
                failures = await conn.fetchval(
                    f"INSERT INTO {S}.login_throttle AS t (key, failures, window_start)"
                    " VALUES ($1, 1, now()) ON CONFLICT (key) DO UPDATE SET"
                    " failures = CASE WHEN t.window_start < now() - $2::interval"
                    "   THEN 1 ELSE t.failures + 1 END,"
                    " window_start = CASE WHEN t.window_start < now() - $2::interval"
                    "   THEN now() ELSE t.window_start END"
                    " RETURNING failures",
                    key,
                    t.window,
                )
                if failures >= limit:
                    await conn.execute(
                        f"UPDATE {S}.login_throttle SET failures = 0, window_start = now(),"
                        " locked_until = now() + $2::interval WHERE key = $1",
                        key,
                        t.lockout,
                    )
                    locked = int(t.lockout.total_seconds())
        return locked

    async def session(self, cookie: str) -> Session | None:
        """The live session of a cookie value (its user active), or None."""
        row = await self._pool.fetchrow(
            f"SELECT s.session_sha256, s.csrf_token, u.user_id, u.role, u.area, u.department,"
            f" u.name, u.must_change_password, u.lang"
            f" FROM {S}.sessions s JOIN {S}.users u USING (user_id)"
            " WHERE s.session_sha256 = $1 AND s.revoked_at IS NULL AND s.expires_at > now()"
            " AND u.revoked_at IS NULL",
            token_hash(cookie),
        )
        if row is None:
            return None
        principal = Principal(
            user_id=row["user_id"],
            role=row["role"],
            area=row["area"],
            department=row["department"],
            name=row["name"],
        )
        return Session(
            session_id=row["session_sha256"],
            principal=principal,
            csrf_token=row["csrf_token"],
            must_change_password=row["must_change_password"],
            lang=row["lang"],
        )

    async def logout(self, cookie: str) -> None:
        """End the session of this cookie value."""
        await self._pool.execute(
            f"UPDATE {S}.sessions SET revoked_at = now()"
            " WHERE session_sha256 = $1 AND revoked_at IS NULL",
            token_hash(cookie),
        )

    async def change_password(self, session: Session, old: str, new: str) -> str | None:
        """Set a new password given the old one; a catalogue key of why not, or None. The
        user's other sessions end (this one stays)."""
        user_id = session.principal.user_id
        row = await self._pool.fetchrow(
            f"SELECT username, password_hash FROM {S}.users WHERE user_id = $1", user_id
        )
        assert row is not None
        matches, _ = await self._passwords.verify(row["password_hash"], old)
        if not matches:
            return "old_password_wrong"
        if new == old:
            return "password_unchanged"
        problem = weakness(new, row["username"] or user_id)
        if problem:
            return problem
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                f"UPDATE {S}.users SET password_hash = $2, password_changed_at = now(),"
                " must_change_password = false WHERE user_id = $1",
                user_id,
                await self._passwords.hash(new),
            )
            await self._end_sessions(conn, user_id, keep=session.session_id)
            await record(conn, actor=user_id, kind="user.password_changed", subject=user_id)
        return None

    async def reset_password(self, user_id: str, actor: str) -> tuple[str, str] | None:
        """Give an active user a fresh password (to be changed at the next login) and end
        their sessions; ``(username, password)`` to show once, or None for no such user. A
        user without a username gets their user id as one."""
        password = generated_password()
        async with self._pool.acquire() as conn, conn.transaction():
            username = await conn.fetchval(
                f"UPDATE {S}.users SET password_hash = $2, password_changed_at = now(),"
                " must_change_password = true, username = coalesce(username, user_id)"
                " WHERE user_id = $1 AND revoked_at IS NULL RETURNING username",
                user_id,
                await self._passwords.hash(password),
            )
            if username is None:
                return None
            await self._end_sessions(conn, user_id)
            await conn.execute(
                f"DELETE FROM {S}.login_throttle WHERE key = $1", f"user:{username.lower()}"
            )
            await record(conn, actor=actor, kind="user.password_reset", subject=user_id)
        return username, password

    async def create_person(
        self,
        user_id: str,
        username: str,
        role: UserRole,
        *,
        area: str | None = None,
        department: str | None = None,
        name: str = "",
        actor: str,
    ) -> str:
        """Create a user who logs in with ``username`` (no API token); return the generated
        password, shown once and changed at the first login."""
        problem = validate_scope(role, area, department)
        if problem:
            raise ValueError(problem)
        password = generated_password()
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    f"INSERT INTO {S}.users (user_id, username, name, role, area, department,"
                    " password_hash, password_changed_at, must_change_password)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, now(), true)",
                    user_id,
                    username,
                    name,
                    role,
                    area,
                    department,
                    await self._passwords.hash(password),
                )
                after = {"name": name, "role": role, "area": area, "department": department}
                await record(
                    conn,
                    actor=actor,
                    kind="user.added",
                    subject=user_id,
                    after=after | {"username": username},
                )
        except asyncpg.UniqueViolationError as exc:
            raise UsernameTaken(user_id) from exc
        return password

    async def set_password(self, user_id: str, password: str) -> None:
        """Set a known password (the demo's printed ones), no change required at login."""
        await self._pool.execute(
            f"UPDATE {S}.users SET password_hash = $2, password_changed_at = now(),"
            " must_change_password = false WHERE user_id = $1",
            user_id,
            await self._passwords.hash(password),
        )

    async def set_username(self, user_id: str, username: str) -> None:
        """Give a user the name they log in with."""
        await self._pool.execute(
            f"UPDATE {S}.users SET username = $2 WHERE user_id = $1", user_id, username
        )

    async def people(self) -> list[PersonRow]:
        """Every user, active and revoked, by user id."""
        rows = await self._pool.fetch(
            f"SELECT user_id, username, name, role, area, department,"
            f" password_hash IS NOT NULL AS has_password, created_at, revoked_at"
            f" FROM {S}.users ORDER BY user_id"
        )
        return [PersonRow(**dict(r)) for r in rows]

    async def revoke(self, user_id: str, actor: str) -> bool:
        """Revoke a user (token, password and sessions); False when there is no such active
        user. Recorded in the audit log."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"UPDATE {S}.users SET revoked_at = now()"
                " WHERE user_id = $1 AND revoked_at IS NULL"
                " RETURNING name, role, area, department, revoked_at",
                user_id,
            )
            if row is None:
                return False
            await self._end_sessions(conn, user_id)
            scope = {k: row[k] for k in ("name", "role", "area", "department")}
            await record(
                conn,
                actor=actor,
                kind="user.revoked",
                subject=user_id,
                before={**scope, "revoked_at": None},
                after={**scope, "revoked_at": row["revoked_at"].isoformat()},
            )
        return True

    async def set_lang(self, user_id: str, lang: Lang) -> None:
        """Keep the user's language for the next login."""
        await self._pool.execute(
            f"UPDATE {S}.users SET lang = $2 WHERE user_id = $1", user_id, lang
        )

    @staticmethod
    async def _end_sessions(
        conn: asyncpg.Connection, user_id: str, keep: str | None = None
    ) -> None:
        await conn.execute(
            f"UPDATE {S}.sessions SET revoked_at = now() WHERE user_id = $1"
            " AND revoked_at IS NULL AND session_sha256 IS DISTINCT FROM $2",
            user_id,
            keep,
        )

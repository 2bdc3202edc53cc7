"""Versioned SQL migrations of the read models, recorded with a checksum and never edited."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from whistle.logs import get_logger

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
LIVE_SCHEMA = "projection"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x5748_4953  # advisory lock: one migrator at a time per database

log = get_logger()


class MigrationError(RuntimeError):
    """A landed migration was edited or removed, or the files are misnumbered."""


@dataclass(frozen=True)
class Migration:
    """One SQL file: its version, name, text and checksum."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the file's text."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Read the migration files in version order, refusing gaps and duplicates."""
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"bad migration file name: {path.name}")
        found.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(f"migration {expected:04d} missing (found {migration.version})")
    return found


def quote_ident(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


async def migrate(
    conn: asyncpg.Connection,
    schema: str = LIVE_SCHEMA,
    migrations: list[Migration] | None = None,
) -> list[int]:
    """Apply pending migrations into ``schema``; return the versions applied now."""
    migrations = load_migrations() if migrations is None else migrations
    applied_now: list[int] = []
    qs = quote_ident(schema)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {qs}")
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {qs}.schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        rows = await conn.fetch(f"SELECT version, name, checksum FROM {qs}.schema_migrations")
        landed = {r["version"]: r for r in rows}
        known = {m.version for m in migrations}
        for version in sorted(set(landed) - known):
            raise MigrationError(f"migration {version:04d} is applied but its file is gone")
        for m in migrations:
            row = landed.get(m.version)
            if row is not None:
                if row["checksum"] != m.checksum:
                    raise MigrationError(
                        f"migration {m.version:04d}_{m.name} was edited after it landed "
                        f"(checksum {m.checksum[:12]} != recorded {row['checksum'][:12]}); "
                        "write a new migration instead"
                    )
                continue
            await conn.execute(f"SET LOCAL search_path TO {qs}, public")
            await conn.execute(m.sql)
            await conn.execute(
                f"INSERT INTO {qs}.schema_migrations (version, name, checksum) VALUES ($1,$2,$3)",
                m.version,
                m.name,
                m.checksum,
            )
            applied_now.append(m.version)
            log.info("migration_applied", schema=schema, version=m.version, name=m.name)
    return applied_now


async def migrate_dsn(dsn: str, schema: str = LIVE_SCHEMA) -> list[int]:
    """Connect to ``dsn`` and apply pending migrations."""
    conn = await asyncpg.connect(dsn)
    try:
        return await migrate(conn, schema)
    finally:
        await conn.close()

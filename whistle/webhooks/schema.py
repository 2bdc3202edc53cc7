"""Create the ``webhooks`` schema from its migration files (idempotent: IF NOT EXISTS)."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from projections.migrate import MIGRATIONS_DIR

MIGRATIONS = MIGRATIONS_DIR


def webhook_migrations() -> list[Path]:
    """The webhooks' migration files (0200–0299), in order."""
    return sorted(p for p in MIGRATIONS.glob("02[0-9][0-9]_*.sql"))


async def ensure_schema(conn: asyncpg.Connection) -> None:
    """Apply the webhooks' migrations; safe to run any number of times."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('whistle.webhooks.schema'))")
        for path in webhook_migrations():
            await conn.execute(path.read_text(encoding="utf-8"))

"""The API's asyncpg pool, and the process tuning applied once the app has started."""

from __future__ import annotations

import gc

import asyncpg


async def keep_session(_conn: asyncpg.Connection) -> None:
    """Release a connection to the pool without asyncpg's default reset query.

    The default (``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``) is a
    second round trip on every pooled query. The API sets no session state: no advisory
    locks, cursors, LISTEN or session ``SET`` (only ``SET LOCAL`` inside transactions), and
    asyncpg still rolls back a transaction left open before calling this.
    """


async def create_pool(dsn: str, min_size: int, max_size: int) -> asyncpg.Pool:
    """A pool whose connections are released without a reset round trip."""
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, reset=keep_session)
    assert pool is not None
    return pool


def freeze_startup_objects() -> None:
    """Move what startup allocated (modules, routes, schemas) out of the collector's sight,
    so full collections under load do not walk them again and again (gc.freeze)."""
    gc.collect()
    gc.freeze()

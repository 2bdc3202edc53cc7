"""Keep the daily metric roll-ups (``metric_days``, migration 0004) in step with the base tables.

A batch's rewritten cases move the roll-ups by the difference between their new and their old
facts (``metric_facts``, migration 0004), in the same transaction as their rows: exact, and
identical to what a rebuild computes from scratch (``projections check`` compares them).
"""

from __future__ import annotations

from datetime import timedelta, timezone

import asyncpg

SHANGHAI = timezone(timedelta(hours=8))
"""Asia/Shanghai has had no daylight saving time since 1991: a fixed +08:00."""


async def capture_facts(conn: asyncpg.Connection, case_ids: list[str]) -> None:
    """Keep aside the metric facts of ``case_ids`` before their rows are rewritten."""
    if case_ids:
        await conn.execute("SELECT capture_metric_facts($1::text[])", case_ids)


async def apply_facts(conn: asyncpg.Connection, case_ids: list[str]) -> None:
    """Add the facts of the rewritten ``case_ids`` to their roll-ups and take the captured old
    facts away (inside the caller's transaction).

    Shard processes may do this concurrently: the function locks the roll-up rows it changes
    in key order (migration 0006), so they wait only on the rows they share, and only until
    the batch commits.
    """
    if case_ids:
        await conn.execute("SELECT apply_metric_delta($1::text[])", case_ids)


async def refresh_all(conn: asyncpg.Connection) -> None:
    """Refill the roll-ups from every case's facts (rebuild, benchmark fills)."""
    await conn.execute("SELECT apply_metric_delta(NULL)")

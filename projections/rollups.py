"""Keep the daily metric roll-ups (``metric_days``, migration 0004) in step with the base tables.

A batch's rewritten cases move the roll-ups by the difference between their new and their old
facts (``metric_facts``, migration 0004), in the same transaction as their rows: exact, and
identical to what a rebuild computes from scratch (``projections check`` compares them).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone

import asyncpg

SHANGHAI = timezone(timedelta(hours=8))
"""Asia/Shanghai has had no daylight saving time since 1991: a fixed +08:00."""
_LOCK_CLASS = 0x5744  # pg_advisory_xact_lock(class, day): one writer of a day's rows at a time
_EPOCH = date(2000, 1, 1)


def local_day(at: datetime) -> date:
    """The Shanghai calendar day of an instant (the metrics' buckets)."""
    return at.astimezone(SHANGHAI).date()


async def capture_facts(conn: asyncpg.Connection, case_ids: list[str]) -> None:
    """Keep aside the metric facts of ``case_ids`` before their rows are rewritten."""
    if case_ids:
        await conn.execute("SELECT capture_metric_facts($1::text[])", case_ids)


async def apply_facts(conn: asyncpg.Connection, case_ids: list[str], days: Iterable[date]) -> None:
    """Add the facts of the rewritten ``case_ids`` to the roll-ups of their cohort ``days``
    and take the captured old facts away (inside the caller's transaction).

    Takes a transaction-scoped advisory lock per day, in day order, so that shard processes
    writing cases of the same day update its rows one after the other, without deadlock.
    """
    ordered = sorted(set(days))
    if not case_ids:
        return
    if ordered:
        await conn.execute(
            "SELECT pg_advisory_xact_lock($1, d) FROM unnest($2::int[]) d",  # in array order
            _LOCK_CLASS,
            [(d - _EPOCH).days for d in ordered],
        )
    await conn.execute("SELECT apply_metric_delta($1::text[])", case_ids)


async def refresh_all(conn: asyncpg.Connection) -> None:
    """Refill the roll-ups from every case's facts (rebuild, benchmark fills)."""
    await conn.execute("SELECT apply_metric_delta(NULL)")

"""The log as it happened, read off the live read models instead of projected again.

A what-if's original side is the read models' figures over the cohort (item 3 of its issue: a
replay with the version in force gives them exactly). Read from PostgreSQL, it costs a few
grouped scans instead of projecting every event of every case again. Then only the cases the
proposal decides differently need replaying in full (``whistle.whatif.replay``, delta mode):
the proposed side is the live side less those cases' original rows plus their replayed rows
(``Tally.with_live``).

``live_side`` counts what ``SideTally.add`` counts, by the same groupings, from the tables the
projector writes (assignments, callbacks, cases, clocks, escalations), each filtered by its
cohort's ``raised_at``. An integration test checks it equals the tally of the log projected
again, group by group. The log is read up to where the read models stand (``positions``), so
both sides see the same events.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from projections.migrate import LIVE_SCHEMA, quote_ident
from projections.readmodel_store import DEFAULT_PROJECTOR, read_checkpoints
from whistle.read.resolution_metrics import GROUPS
from whistle.whatif.tally import INDEX, SideTally

_SETS = ", ".join(f"({{{g}}})" for g in GROUPS) + ", ()"
"""The grouping sets: one per grouping (its column, formatted in per table), and all."""
_BITS = {
    sum(1 << (len(GROUPS) - 1 - j) for j in range(len(GROUPS)) if j != i): g
    for i, g in enumerate(GROUPS)
} | {(1 << len(GROUPS)) - 1: "all"}
"""``GROUPING(...)`` of a row → its grouping (a set's own column is the bit left 0)."""


def _grouped(alias: str, department: str, cohort: str | None = None) -> tuple[str, str]:
    """The select list's group columns and the GROUP BY clause of one table."""
    owner = cohort or alias
    columns = {g: f"{alias}.{department}" if g == "department" else f"{owner}.{g}" for g in GROUPS}
    listed = ", ".join(columns[g] for g in GROUPS)
    return (
        f"GROUPING({listed}) AS g, {listed}",
        "GROUP BY GROUPING SETS (" + _SETS.format(**columns) + ")",
    )


def _queries(schema: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Per table: its query and the tally columns its counts go to (in the select's order)."""
    s = quote_ident(schema)
    in_range = "raised_at >= $1 AND raised_at < $2"
    a_cols, a_group = _grouped("a", "department")
    b_cols, b_group = _grouped("b", "department")
    c_cols, c_group = _grouped("c", "lead_department")
    k_cols, k_group = _grouped("k", "department")
    e_cols, e_group = _grouped("e", "department", cohort="c")
    return {
        "assignments": (
            f"SELECT {a_cols}, count(*), count(*) FILTER (WHERE a.acknowledged_in_time),"
            " count(*) FILTER (WHERE a.acknowledged_at IS NOT NULL),"
            " count(*) FILTER (WHERE a.dispute_count > 0)"
            f" FROM {s}.assignments a WHERE a.{in_range} {a_group}",
            ("dispatched", "acknowledged_in_time", "acknowledged", "disputed"),
        ),
        "callbacks": (
            f"SELECT {b_cols}, count(*), count(*) FILTER (WHERE b.solved),"
            " count(*) FILTER (WHERE b.satisfied), coalesce(sum(b.score), 0), count(b.score)"
            f" FROM {s}.callbacks b WHERE b.{in_range} {b_group}",
            ("callbacks", "solved", "satisfied", "score_sum", "score_count"),
        ),
        "cases": (
            f"SELECT {c_cols}, count(*),"
            " count(*) FILTER (WHERE c.resolved_at IS NOT NULL OR c.reopen_count > 0),"
            " count(*) FILTER (WHERE c.reopen_count > 0)"
            f" FROM {s}.cases c WHERE c.{in_range} {c_group}",
            ("cases", "resolved", "reopened"),
        ),
        "clocks": (
            f"SELECT {k_cols}, coalesce(sum(k.breaches), 0)"
            f" FROM {s}.clocks k WHERE k.breaches > 0 AND k.{in_range} {k_group}",
            ("breaches",),
        ),
        "escalations": (
            f"SELECT {e_cols}, count(*) FROM {s}.escalations e"
            f" JOIN {s}.cases c ON c.case_id = e.case_id WHERE c.{in_range} {e_group}",
            ("escalations",),
        ),
    }


def _weekly_sql(schema: str) -> str:
    """Assignments dispatched by (department, Monday of the week in Shanghai), as
    ``SideTally.add`` counts them (``whistle.whatif.tally._week``)."""
    return (
        "SELECT a.department, to_char(date_trunc('week', a.dispatched_at AT TIME ZONE"
        " 'Asia/Shanghai'), 'YYYY-MM-DD') AS week, count(*)"
        f" FROM {quote_ident(schema)}.assignments a"
        " WHERE a.raised_at >= $1 AND a.raised_at < $2 AND a.dispatched_at IS NOT NULL"
        " GROUP BY 1, 2"
    )


async def read_live(
    conn: asyncpg.Connection, topic: str, since: Any, until: Any, schema: str = LIVE_SCHEMA
) -> tuple[SideTally, dict[int, int]]:
    """The read models' counts of the cases raised in [since, until), as a ``SideTally``, and
    where they stand in ``topic`` (each partition's next offset), in one snapshot."""
    async with conn.transaction(readonly=True, isolation="repeatable_read"):
        await conn.execute("SET LOCAL jit = off")
        stored = await read_checkpoints(conn, DEFAULT_PROJECTOR, topic)
        ends = {p: pos.next_offset for p, pos in stored.items()}
        return await live_side(conn, since, until, schema), ends


async def live_side(
    conn: asyncpg.Connection, since: Any, until: Any, schema: str = LIVE_SCHEMA
) -> SideTally:
    """The read models' counts of the cases raised in [since, until), as a ``SideTally``."""
    side = SideTally()
    for sql, columns in _queries(schema).values():
        for record in await conn.fetch(sql, since, until):
            grouping = _BITS[record["g"]]
            group = "all" if grouping == "all" else record[1 + GROUPS.index(grouping)]
            if group is None:
                continue
            counts = [int(n or 0) for n in record[1 + len(GROUPS) :]]  # () of no rows: NULL
            if not any(counts):
                continue
            row = side.counts(grouping, str(group))
            assert row is not None
            for name, n in zip(columns, counts, strict=True):
                row[INDEX[name]] += n
    for department, week, n in await conn.fetch(_weekly_sql(schema), since, until):
        side.weekly[(department, week)] += n
    return side


async def positions(conn: asyncpg.Connection, topic: str) -> dict[int, int]:
    """Where the read models stand in ``topic``: the next offset of each partition."""
    stored = await read_checkpoints(conn, DEFAULT_PROJECTOR, topic)
    return {p: pos.next_offset for p, pos in stored.items()}

"""Read-side queries for the HTTP API: cases, timeline, boards, and projection lag."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

S = "projection"


@dataclass(frozen=True)
class Scope:
    """What a caller may see: an area (district, street or community code) and/or a department."""

    area: str | None = None
    department: str | None = None


EVERYTHING = Scope()


@dataclass(frozen=True)
class CaseFilters:
    """Filters of ``list_cases``; None means any."""

    status: str | None = None
    category: str | None = None
    department: str | None = None
    area: str | None = None
    open_only: bool = False
    raised_since: datetime | None = None
    raised_until: datetime | None = None
    limit: int = 50
    offset: int = 0


class _Where:
    """Collects WHERE clauses and their numbered parameters."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.args: list[Any] = []

    def add(self, clause: str, *values: Any) -> None:
        """Add a clause whose ``{}`` placeholders take the next parameter numbers."""
        numbers = []
        for value in values:
            self.args.append(value)
            numbers.append(f"${len(self.args)}")
        self.clauses.append(clause.format(*numbers))

    def scope(self, scope: Scope, case: str = "c", department_column: str | None = None) -> None:
        """Restrict to the scope's area (on the case) and department.

        The area matches the case's district, street or community column, or its most precise
        area (a compound or grid) and everything beneath that: a grid case is in its compound.
        """
        if scope.area:
            self.args.append(scope.area)
            n = f"${len(self.args)}"
            self.clauses.append(
                f"({case}.community = {n} OR {case}.street = {n} OR {case}.district = {n}"
                f" OR {case}.area = {n} OR starts_with({case}.area, {n} || '.'))"
            )
        if scope.department:
            column = department_column or f"{case}.departments"
            if department_column:
                self.add(f"{column} = {{}}", scope.department)
            else:
                self.add(f"{{}} = ANY({column})", scope.department)

    @property
    def sql(self) -> str:
        """The WHERE clause (or nothing)."""
        return (" WHERE " + " AND ".join(self.clauses)) if self.clauses else ""


def _row(record: asyncpg.Record | None) -> dict[str, Any] | None:
    return dict(record) if record is not None else None


def joint_actions_sql(schema: str, case_id: str) -> str:
    """A scalar subquery: the case's joint actions (集结) as JSON, oldest first, each with its
    departments in the order named and their 报到; ``assembled_at`` once all reported in."""
    return f"""coalesce((SELECT json_agg(ja ORDER BY ja.scheduled_at, ja.action_id) FROM (
      SELECT j.action_id, j.at, j.place, j.note, j.scheduled_at, j.scheduled_by,
             CASE WHEN bool_and(j.reported_in_at IS NOT NULL) THEN max(j.reported_in_at) END
               AS assembled_at,
             json_agg(json_build_object('department', j.department,
                                        'reported_in_at', j.reported_in_at,
                                        'reported_in_by', j.reported_in_by)
                      ORDER BY j.position) AS departments
        FROM {schema}.joint_action_departments j WHERE j.case_id = {case_id}
       GROUP BY j.action_id, j.at, j.place, j.note, j.scheduled_at, j.scheduled_by) ja),
    '[]')"""


async def get_case(conn: asyncpg.Connection, case_id: str) -> dict[str, Any] | None:
    """The current state of a case with its assignments, clocks and joint actions, or None."""
    case = _row(await conn.fetchrow(f"SELECT * FROM {S}.cases WHERE case_id = $1", case_id))
    if case is None:
        return None
    case["assignments"] = [
        dict(r)
        for r in await conn.fetch(
            f"SELECT * FROM {S}.assignments WHERE case_id = $1"
            " ORDER BY role = 'lead' DESC, dispatched_at, department",
            case_id,
        )
    ]
    case["clocks"] = [
        dict(r)
        for r in await conn.fetch(
            f"SELECT k.*, extract(epoch FROM coalesce(k.stopped_at, k.paused_at, now())"
            " - k.started_at)::float8 - k.paused_seconds AS elapsed_seconds,"
            " extract(epoch FROM k.due_at - coalesce(k.stopped_at, k.paused_at, now()))::float8"
            " AS remaining_seconds,"
            " (k.breached_at IS NOT NULL) AS breached"
            f" FROM {S}.clocks k WHERE case_id = $1 ORDER BY clock, department",
            case_id,
        )
    ]
    actions = await conn.fetchval(f"SELECT {joint_actions_sql(S, '$1')}", case_id)
    case["joint_actions"] = json.loads(actions)
    return case


async def list_cases(
    conn: asyncpg.Connection, filters: CaseFilters, scope: Scope = EVERYTHING
) -> list[dict[str, Any]]:
    """Cases matching ``filters`` within ``scope``, newest first."""
    w = _Where()
    w.scope(scope)
    if filters.status:
        w.add("c.status = {}", filters.status)
    if filters.open_only:
        w.add("c.status NOT IN ('closed', 'withdrawn', 'duplicate')")
    if filters.category:
        w.add("c.category = {}", filters.category)
    if filters.department:
        w.add("{} = ANY(c.departments)", filters.department)
    if filters.area:
        w.scope(Scope(area=filters.area))
    if filters.raised_since:
        w.add("c.raised_at >= {}", filters.raised_since)
    if filters.raised_until:
        w.add("c.raised_at < {}", filters.raised_until)
    w.args += [filters.limit, filters.offset]
    n = len(w.args)
    sql = (
        f"SELECT * FROM {S}.cases c{w.sql} ORDER BY c.raised_at DESC, c.case_id"
        f" LIMIT ${n - 1} OFFSET ${n}"
    )
    return [dict(r) for r in await conn.fetch(sql, *w.args)]


async def timeline(conn: asyncpg.Connection, case_id: str) -> list[dict[str, Any]]:
    """Every event of a case in order: who, what, when, and the raw event."""
    records = await conn.fetch(
        "SELECT seq, event_id, type, occurred_at, actor_user_id, actor_role, actor_department,"
        f" actor_area, command_id, body::text AS body FROM {S}.case_events"
        " WHERE case_id = $1 ORDER BY seq",
        case_id,
    )
    return [{**dict(r), "body": json.loads(r["body"])} for r in records]


async def open_breaches(
    conn: asyncpg.Connection, scope: Scope = EVERYTHING
) -> list[dict[str, Any]]:
    """The supervisors' board: breached clocks of open cases, most overdue first."""
    w = _Where()
    w.scope(scope, department_column="c.department" if scope.department else None)
    sql = f"SELECT * FROM {S}.open_breaches c{w.sql} ORDER BY c.due_at, c.case_id"
    return [dict(r) for r in await conn.fetch(sql, *w.args)]


async def escalations(conn: asyncpg.Connection, scope: Scope = EVERYTHING) -> list[dict[str, Any]]:
    """Escalations of open cases, newest first."""
    w = _Where()
    w.scope(scope)
    w.add("c.status NOT IN ('closed', 'withdrawn', 'duplicate')")
    sql = (
        f"SELECT e.*, c.status, c.category, c.community, c.lead_department FROM {S}.escalations e"
        f" JOIN {S}.cases c USING (case_id){w.sql} ORDER BY e.escalated_at DESC"
    )
    return [dict(r) for r in await conn.fetch(sql, *w.args)]


async def open_joint_actions(
    conn: asyncpg.Connection, scope: Scope = EVERYTHING, limit: int = 200
) -> list[dict[str, Any]]:
    """集结 of open cases, soonest first: time, place, and each department's 报到."""
    w = _Where()
    w.scope(scope)
    w.add("c.status IN ('routed', 'in_progress')")
    sql = (
        "SELECT j.case_id, c.title, c.community, c.lead_department, j.action_id, j.at, j.place,"
        " CASE WHEN bool_and(j.reported_in_at IS NOT NULL) THEN max(j.reported_in_at) END"
        "   AS assembled_at,"
        " json_agg(json_build_object('department', j.department,"
        "   'reported_in_at', j.reported_in_at) ORDER BY j.position) AS departments"
        f" FROM {S}.joint_action_departments j JOIN {S}.cases c USING (case_id){w.sql}"
        " GROUP BY j.case_id, c.title, c.community, c.lead_department, j.action_id, j.at,"
        f" j.place ORDER BY j.at, j.case_id, j.action_id LIMIT {int(limit)}"
    )
    rows = [dict(r) for r in await conn.fetch(sql, *w.args)]
    for row in rows:
        row["departments"] = json.loads(row["departments"])
    return rows


async def disputes_awaiting(
    conn: asyncpg.Connection, scope: Scope = EVERYTHING
) -> list[dict[str, Any]]:
    """退单 awaiting a supervisor's ruling, oldest first."""
    w = _Where()
    w.scope(scope, department_column="d.department" if scope.department else None)
    w.add("d.status = 'awaiting'")
    sql = (
        f"SELECT d.*, c.category, c.community, c.lead_department FROM {S}.disputes d"
        f" JOIN {S}.cases c USING (case_id){w.sql} ORDER BY d.raised_at"
    )
    return [dict(r) for r in await conn.fetch(sql, *w.args)]


async def extension_requests(
    conn: asyncpg.Connection, scope: Scope = EVERYTHING, status: str | None = "pending"
) -> list[dict[str, Any]]:
    """延期 requests (pending by default), oldest first."""
    w = _Where()
    w.scope(scope, department_column="x.department" if scope.department else None)
    if status:
        w.add("x.status = {}", status)
    sql = (
        f"SELECT x.*, c.category, c.community FROM {S}.extension_requests x"
        f" JOIN {S}.cases c USING (case_id){w.sql} ORDER BY x.requested_at"
    )
    return [dict(r) for r in await conn.fetch(sql, *w.args)]


async def projection_lag(conn: asyncpg.Connection) -> dict[str, Any]:
    """Events and seconds the read models are behind the log (for /readyz and /metrics).

    events: sum over partitions of (high watermark - next offset) as last seen by the projector;
    seconds: 0 when caught up, else now - the time of the last applied event;
    checkpoint_age_seconds: since the projector last wrote (it writes at least every 5 s).
    """
    row = await conn.fetchrow(
        "SELECT coalesce(sum(greatest(high_watermark - next_offset, 0)), 0)::bigint AS events,"
        " max(last_event_at) AS last_event_at,"
        " extract(epoch FROM now() - max(updated_at))::float8 AS age"
        f" FROM {S}.checkpoints"
    )
    events = int(row["events"]) if row else 0
    last = row["last_event_at"] if row else None
    seconds = 0.0
    if events and last is not None:
        seconds = float(await conn.fetchval("SELECT extract(epoch FROM now() - $1)::float8", last))
    return {
        "events": events,
        "seconds": seconds,
        "checkpoint_age_seconds": row["age"] if row else None,
    }

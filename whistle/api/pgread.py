"""The read models in PostgreSQL, through ``projections.queries`` and ``projections.metrics``.

Listing is the API's own query: it needs several statuses, case ids and "published only"
(Open311), which ``list_cases`` does not take.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from projections import metrics as m
from projections import queries as q
from projections.migrate import LIVE_SCHEMA
from whistle.api.readmodel import CaseFilters, GroupBy, Lag, Period, RankBy, Row, Scope

S = LIVE_SCHEMA
CASE_COLUMNS = (
    "case_id, status, title, category, urgency, channel, area, community, street, district,"
    " lead_department, departments, raised_at, routed_at, first_contact_at, joint_action_at,"
    " resolved_at, resolution, closed_at, final_reason, duplicate_of, reopen_count,"
    " callback_count, last_solved, last_satisfied, escalation_tier, escalation_step,"
    " escalated_at, published_at, breach_count, applied_seq, updated_at"
)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
CASE_SQL = f"""
SELECT c.*,
  coalesce((SELECT json_agg(a ORDER BY a.role = 'lead' DESC, a.dispatched_at, a.department)
              FROM {S}.assignments a WHERE a.case_id = c.case_id), '[]') AS assignments,
  coalesce((SELECT json_agg(k ORDER BY k.clock, k.department) FROM (
      SELECT k.*,
             extract(epoch FROM coalesce(k.stopped_at, k.paused_at, now()) - k.started_at)::float8
               - k.paused_seconds AS elapsed_seconds,
             extract(epoch FROM k.due_at - coalesce(k.stopped_at, k.paused_at, now()))::float8
               AS remaining_seconds,
             (k.breached_at IS NOT NULL) AS breached
        FROM {S}.clocks k WHERE k.case_id = c.case_id) k), '[]') AS clocks,
  {q.joint_actions_sql(S, "c.case_id")} AS joint_actions
  FROM {S}.cases c WHERE c.case_id = $1
"""


EVENT_COLUMNS = (
    "seq",
    "event_id",
    "type",
    "occurred_at",
    "actor_user_id",
    "actor_role",
    "actor_department",
    "actor_area",
    "command_id",
    "body",
)
"""What ``queries.timeline`` returns of each event (``CASE_TIMELINE_SQL`` reads the same)."""
CASE_TIMELINE_SQL = f"""
SELECT c.area, c.departments, {", ".join(f"e.{n}" for n in EVENT_COLUMNS[:-1])},
       e.body::text AS body
  FROM {S}.cases c LEFT JOIN {S}.case_events e ON e.case_id = c.case_id
 WHERE c.case_id = $1 ORDER BY e.seq
"""

FOLLOW_UPS_SQL = f"""
SELECT c.case_id,
  (SELECT k.due_at FROM {S}.clocks k WHERE k.case_id = c.case_id AND k.clock = 'resolve'
    ORDER BY k.department = c.lead_department DESC, k.status = 'released', k.started_at DESC
    LIMIT 1) AS expected_at,
  CASE WHEN c.published_at IS NOT NULL THEN
    (SELECT e.body->>'summary' FROM {S}.case_events e
      WHERE e.case_id = c.case_id AND e.type = 'CasePublished' ORDER BY e.seq DESC LIMIT 1)
  END AS summary
  FROM {S}.cases c WHERE c.case_id = ANY($1)
"""


def scope_sql(scope: Scope, args: list[Any], alias: str = "c") -> str:
    """SQL condition restricting ``alias`` (a cases row) to ``scope``; appends to ``args``."""
    if scope.department is not None:
        args.append(scope.department)
        return f"${len(args)} = ANY({alias}.departments)"
    if scope.area is not None:
        args.append(scope.area)
        n = len(args)
        return f"({alias}.area = ${n} OR starts_with({alias}.area, ${n} || '.'))"
    return "true"


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _row(record: asyncpg.Record) -> Row:
    row = dict(record)
    if "departments" in row:
        row["departments"] = list(row["departments"] or [])
    return row


class PgReadModel:
    """``ReadModel`` over the projection tables."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def case(self, case_id: str) -> Row | None:
        """The case with its assignments, clocks and joint actions, in one round trip (the hot
        read).

        The same rows and derived clock columns as ``queries.get_case``, which takes four.
        """
        record = await self._pool.fetchrow(CASE_SQL, case_id)
        if record is None:
            return None
        row = dict(record)
        row["assignments"] = json.loads(row["assignments"])
        row["clocks"] = json.loads(row["clocks"])
        row["joint_actions"] = json.loads(row["joint_actions"])
        return row

    async def case_scope(self, case_id: str) -> Row | None:
        """``area`` and ``departments`` of the case."""
        record = await self._pool.fetchrow(
            f"SELECT area, departments FROM {S}.cases WHERE case_id = $1", case_id
        )
        return _row(record) if record is not None else None

    async def cases(self, scope: Scope, filters: CaseFilters) -> list[Row]:
        """Cases in scope, newest first."""
        args: list[Any] = []
        where = [scope_sql(scope, args)]
        if filters.status:
            args.append(list(filters.status))
            where.append(f"c.status = ANY(${len(args)})")
        for column, value in (
            ("category", filters.category),
            ("duplicate_of", filters.duplicate_of),
        ):
            if value is not None:
                args.append(value)
                where.append(f"c.{column} = ${len(args)}")
        if filters.department is not None:
            args.append(filters.department)
            where.append(f"${len(args)} = ANY(c.departments)")
        if filters.area is not None:
            args.append(filters.area)
            where.append(f"(c.area = ${len(args)} OR starts_with(c.area, ${len(args)} || '.'))")
        if filters.raised_after is not None:
            args.append(filters.raised_after)
            where.append(f"c.raised_at >= ${len(args)}")
        if filters.raised_before is not None:
            args.append(filters.raised_before)
            where.append(f"c.raised_at < ${len(args)}")
        if filters.published_only:
            where.append("c.published_at IS NOT NULL")
        if filters.case_ids:
            args.append(list(filters.case_ids))
            where.append(f"c.case_id = ANY(${len(args)})")
        args += [filters.limit, filters.offset]
        sql = (
            f"SELECT {CASE_COLUMNS} FROM {S}.cases c WHERE {' AND '.join(where)}"
            f" ORDER BY c.raised_at DESC NULLS LAST, c.case_id"
            f" LIMIT ${len(args) - 1} OFFSET ${len(args)}"
        )
        return [_row(r) for r in await self._pool.fetch(sql, *args)]

    async def timeline(self, case_id: str) -> list[Row]:
        """The case's events in order, bodies decoded."""
        async with self._pool.acquire() as conn:
            return await q.timeline(conn, case_id)

    async def case_timeline(self, case_id: str) -> tuple[Row, list[Row]] | None:
        """Scope columns and events in one statement (``case_scope`` + ``timeline`` take two)."""
        records = await self._pool.fetch(CASE_TIMELINE_SQL, case_id)
        if not records:
            return None
        scope = {"area": records[0]["area"], "departments": list(records[0]["departments"] or [])}
        events = [
            {name: r[name] for name in EVENT_COLUMNS} | {"body": json.loads(r["body"])}
            for r in records
            if r["seq"] is not None
        ]
        return scope, events

    async def whistles(self, case_ids: list[str]) -> dict[str, Row]:
        """The first event (WhistleRaised) body of each case."""
        if not case_ids:
            return {}
        records = await self._pool.fetch(
            f"SELECT case_id, body FROM {S}.case_events WHERE case_id = ANY($1) AND seq = 1",
            case_ids,
        )
        return {r["case_id"]: _json(r["body"]) for r in records}

    async def follow_ups(self, case_ids: list[str]) -> dict[str, Row]:
        """The resolve clock's due time and the published summary of each case."""
        if not case_ids:
            return {}
        records = await self._pool.fetch(FOLLOW_UPS_SQL, case_ids)
        return {r["case_id"]: {k: r[k] for k in ("expected_at", "summary")} for r in records}

    async def breaches(self, scope: Scope) -> list[Row]:
        """Open breaches in scope, most overdue first (a liaison: its department's clocks).

        Own query: ``queries.open_breaches`` filters the view on ``c.area``, which it lacks.
        """
        args: list[Any] = []
        if scope.department is not None:
            args.append(scope.department)
            cond = "b.department = $1"
        else:
            cond = scope_sql(scope, args)
        return [
            dict(r)
            for r in await self._pool.fetch(
                f"SELECT b.* FROM {S}.open_breaches b JOIN {S}.cases c USING (case_id)"
                f" WHERE {cond} ORDER BY b.due_at, b.case_id LIMIT 1000",
                *args,
            )
        ]

    async def disputes(self, scope: Scope) -> list[Row]:
        """Disputes awaiting a ruling, in scope."""
        async with self._pool.acquire() as conn:
            return await q.disputes_awaiting(conn, _scope(scope))

    async def escalations(self, scope: Scope) -> list[Row]:
        """Escalations of open cases in scope, newest first (at most 200)."""
        async with self._pool.acquire() as conn:
            rows = await q.escalations(conn, _scope(scope))
        return rows[:200]

    async def joint_actions(self, scope: Scope) -> list[Row]:
        """Joint actions of open cases in scope, soonest first (at most 200)."""
        async with self._pool.acquire() as conn:
            return await q.open_joint_actions(conn, _scope(scope))

    async def extensions(self, scope: Scope) -> list[Row]:
        """Pending extension requests, in scope, with the ``clock_key`` grant/refuse take."""
        async with self._pool.acquire() as conn:
            rows = await q.extension_requests(conn, _scope(scope))
        return [r | {"clock_key": f"{r['clock']}:{r['department']}"} for r in rows]

    async def metrics(
        self,
        scope: Scope,
        group_by: GroupBy,
        period: Period,
        since: datetime | None,
        until: datetime | None,
    ) -> list[Row]:
        """三率 and times per group and bucket (definitions in ``projections.metrics``)."""
        async with self._pool.acquire() as conn:
            return await m.metrics(
                conn,
                group_by,
                None if period == "all" else period,
                *_range(since, until),
                _scope(scope),
            )

    async def rankings(
        self,
        scope: Scope,
        group_by: GroupBy,
        by: RankBy,
        since: datetime | None,
        until: datetime | None,
    ) -> list[Row]:
        """排名 over [since, until) (definitions in ``projections.metrics``)."""
        async with self._pool.acquire() as conn:
            return await m.rankings(
                conn, group_by, *_range(since, until), scope=_scope(scope), by=by
            )

    async def lag(self) -> Lag:
        """How far the projector is behind the log."""
        async with self._pool.acquire() as conn:
            lag = await q.projection_lag(conn)
        return Lag(events=int(lag["events"]), seconds=lag["seconds"])

    async def ping(self) -> None:
        """``SELECT 1``."""
        await self._pool.fetchval("SELECT 1")


def _range(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    return since or EPOCH, until or datetime.now(UTC) + timedelta(days=1)


def _scope(scope: Scope) -> q.Scope:
    return q.Scope(area=scope.area, department=scope.department)

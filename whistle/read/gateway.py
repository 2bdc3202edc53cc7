"""The read gateway: ``ReadModel``, what the API (and the CLI) read, and ``PgRead``, it over
the projection tables. Every read-side statement is here or in ``whistle.read.resolution_metrics``;
every scope and filter is rendered by ``whistle.read.scope``.

Fakes in tests implement ``ReadModel`` in memory with ``Scope.holds`` and
``CaseFilters.matches``; ``CachedReadModel`` (whistle.api.readcache) wraps it for the
scope-wide reads, and ``DirectReads`` (whistle.api.direct_reads) serves five routes through it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

import asyncpg

from projections.migrate import LIVE_SCHEMA
from whistle.domain import fold, parse_event
from whistle.domain.state import CaseState
from whistle.read import resolution_metrics, similarity
from whistle.read.scope import (
    CASES,
    NEWEST_FIRST,
    CaseFilters,
    Params,
    Row,
    Scope,
    filters_sql,
    of_department,
    scope_sql,
)

GroupBy = resolution_metrics.GroupBy
Period = Literal["day", "week", "month", "all"]
RankBy = Literal["score", "response_rate", "resolution_rate", "satisfaction_rate", "average_score"]

SCHEMA = LIVE_SCHEMA
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
CLOSED = similarity.CLOSED
"""Statuses of a case that is over, the domain's final ones (the ``open_breaches`` view's list
too, migration 0001)."""
OPEN = f"c.status NOT IN ({', '.join(repr(s) for s in CLOSED)})"
BOARD_LIMIT = 200
BREACH_LIMIT = 1000

CASE_COLUMNS = (
    "case_id, status, title, category, urgency, channel, area, community, street, district,"
    " lead_department, departments, raised_at, routed_at, first_contact_at, joint_action_at,"
    " resolved_at, resolution, closed_at, final_reason, duplicate_of, reopen_count,"
    " callback_count, last_solved, last_satisfied, escalation_tier, escalation_step,"
    " escalated_at, published_at, breach_count, applied_seq, updated_at"
)
"""The columns of a listed case."""


def joint_actions_sql(case_id: str) -> str:
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
        FROM {SCHEMA}.joint_action_departments j WHERE j.case_id = {case_id}
       GROUP BY j.action_id, j.at, j.place, j.note, j.scheduled_at, j.scheduled_by) ja),
    '[]')"""


CASE_SQL = f"""
SELECT c.*,
  coalesce((SELECT json_agg(a ORDER BY a.role = 'lead' DESC, a.dispatched_at, a.department)
              FROM {SCHEMA}.assignments a WHERE a.case_id = c.case_id), '[]') AS assignments,
  coalesce((SELECT json_agg(k ORDER BY k.clock, k.department) FROM (
      SELECT k.*,
             extract(epoch FROM coalesce(k.stopped_at, k.paused_at, now()) - k.started_at)::float8
               - k.paused_seconds AS elapsed_seconds,
             extract(epoch FROM k.due_at - coalesce(k.stopped_at, k.paused_at, now()))::float8
               AS remaining_seconds,
             (k.breached_at IS NOT NULL) AS breached
        FROM {SCHEMA}.clocks k WHERE k.case_id = c.case_id) k), '[]') AS clocks,
  {joint_actions_sql("c.case_id")} AS joint_actions,
  coalesce((SELECT json_agg(json_build_object(
                'sha256', t.sha256, 'stage', t.stage, 'content_type', t.content_type,
                'size', t.size, 'department', t.department, 'note', t.note,
                'attached_at', t.attached_at, 'attached_by', t.attached_by,
                'url', '/v1/cases/' || t.case_id || '/attachments/' || t.sha256,
                'thumbnail_url',
                '/v1/cases/' || t.case_id || '/attachments/' || t.sha256 || '/thumbnail')
              ORDER BY t.seq, t.position)
              FROM {SCHEMA}.attachments t WHERE t.case_id = c.case_id), '[]') AS attachments
  FROM {SCHEMA}.cases c WHERE c.case_id = $1
"""
"""One case with its assignments, clocks (with the derived elapsed/remaining seconds), joint
actions and attached photos, in one round trip (the hot read)."""

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
"""What the timeline returns of each event, in this order."""
EVENTS = ", ".join(f"e.{n}" for n in EVENT_COLUMNS[:-1]) + ", e.body::text AS body"
TIMELINE_SQL = f"SELECT {EVENTS} FROM {SCHEMA}.case_events e WHERE e.case_id = $1 ORDER BY e.seq"
CASE_TIMELINE_SQL = f"""
SELECT c.area, c.departments, {EVENTS}
  FROM {SCHEMA}.cases c LEFT JOIN {SCHEMA}.case_events e ON e.case_id = c.case_id
 WHERE c.case_id = $1 ORDER BY e.seq
"""
EVENTS_UNTIL_SQL = (
    f"SELECT body::text FROM {SCHEMA}.case_events"
    " WHERE case_id = $1 AND occurred_at <= $2 ORDER BY seq"
)

FOLLOW_UPS_SQL = f"""
SELECT c.case_id,
  (SELECT k.due_at FROM {SCHEMA}.clocks k WHERE k.case_id = c.case_id AND k.clock = 'resolve'
    ORDER BY k.department = c.lead_department DESC, k.status = 'released', k.started_at DESC
    LIMIT 1) AS expected_at,
  CASE WHEN c.published_at IS NOT NULL THEN
    (SELECT e.body->>'summary' FROM {SCHEMA}.case_events e
      WHERE e.case_id = c.case_id AND e.type = 'CasePublished' ORDER BY e.seq DESC LIMIT 1)
  END AS summary
  FROM {SCHEMA}.cases c WHERE c.case_id = ANY($1)
"""

CLOCKS_BEYOND_SQL = f"""
SELECT count(*) FROM {SCHEMA}.clocks k
 WHERE k.status IN ('running', 'paused') AND k.mode = 'working' AND k.due_at IS NOT NULL
"""
BEYOND_WINDOW = " AND (k.due_at >= $2 OR k.started_at < $1)"
SIMILAR_COLUMNS = (
    "c.case_id, c.status, c.title, c.description, c.address, c.category, c.location_lat,"
    " c.location_lon, c.community, c.area, c.lead_department, c.raised_at"
)
"""What a duplicate candidate carries: what the scorer compares and what the form shows (the
scope is applied in SQL, so no ``departments``: decoding arrays is most of a row's cost)."""
SIMILAR_LIMIT = 2000
"""At most this many candidates, newest first (a community raises far fewer in ``WINDOW``)."""
DEADLINES_SQL = f"""
SELECT k.case_id, k.clock, k.department, k.status, k.started_at, k.due_at,
       extract(epoch FROM k.due_at - coalesce(k.paused_at, now()))::float8 AS remaining_seconds,
       (k.breached_at IS NOT NULL) AS breached
  FROM {SCHEMA}.clocks k
 WHERE k.case_id = ANY($1) AND k.status IN ('running', 'paused') AND k.due_at IS NOT NULL
 ORDER BY k.case_id, k.due_at, k.clock, k.department
"""
"""The running (and paused) clocks of some cases, soonest due first (found by the primary key's
case id)."""

LAG_SQL = f"""
SELECT coalesce(sum(greatest(high_watermark - next_offset, 0)), 0)::bigint AS events,
       CASE WHEN max(last_event_at) IS NOT NULL
            THEN extract(epoch FROM now() - max(last_event_at))::float8 END AS behind
  FROM {SCHEMA}.checkpoints
"""


@dataclass(frozen=True, slots=True)
class MetricsQuery:
    """What a metrics or rankings read asks for (hashable: the read cache's key)."""

    scope: Scope
    group_by: GroupBy = "department"
    period: Period = "all"
    """Bucket size (metrics; rankings are over the whole range)."""
    by: RankBy = "score"
    """What rankings rank by, higher being better."""
    since: datetime | None = None
    until: datetime | None = None

    @property
    def range(self) -> tuple[datetime, datetime]:
        """[since, until), open ends made the epoch and tomorrow."""
        return self.since or EPOCH, self.until or datetime.now(UTC) + timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Lag:
    """How far the read models are behind the event log."""

    events: int
    seconds: float | None


class ReadModel(Protocol):
    """Queries over the read models; every case row carries ``area`` and ``departments``."""

    async def case(self, case_id: str) -> Row | None:
        """One case with its assignments and clocks, or None."""
        ...

    async def case_scope(self, case_id: str) -> Row | None:
        """Just what scope checks need: ``area`` and ``departments`` (one indexed lookup)."""
        ...

    async def cases(self, scope: Scope, filters: CaseFilters) -> list[Row]:
        """Cases in ``scope`` matching ``filters``, newest first."""
        ...

    async def timeline(self, case_id: str) -> list[Row]:
        """Every event of the case, in order."""
        ...

    async def case_timeline(self, case_id: str) -> tuple[Row, list[Row]] | None:
        """The case's scope columns (``area``, ``departments``) and its events in order, in
        one round trip; None when there is no such case."""
        ...

    async def case_as_of(self, case_id: str, at: datetime) -> CaseState | None:
        """The domain's state of the case after its events up to ``at`` (None: not raised)."""
        ...

    async def whistles(self, case_ids: list[str]) -> dict[str, Row]:
        """The WhistleRaised body (address, location, description…) of each case."""
        ...

    async def similar_candidates(self, scope: Scope, community: str, at: datetime) -> list[Row]:
        """Cases in ``scope`` that a draft raised in ``community`` at ``at`` may duplicate
        (``similarity.eligible``: same community, open, raised within the window), newest
        first, at most ``SIMILAR_LIMIT``."""
        ...

    async def follow_ups(self, case_ids: list[str]) -> dict[str, Row]:
        """What a resident following each case is told beyond its row: ``expected_at`` (the
        due time of the lead's resolve clock) and ``summary`` (the 晒事 text, once published)."""
        ...

    async def deadlines(self, case_ids: list[str]) -> dict[str, list[Row]]:
        """The running and paused clocks of each case (``clock``, ``department``, ``status``,
        ``due_at``, ``remaining_seconds``, ``breached``), soonest due first; a case without one
        is absent."""
        ...

    async def breaches(self, scope: Scope) -> list[Row]:
        """Breached clocks of open cases in ``scope`` (a department: its own clocks)."""
        ...

    async def disputes(self, scope: Scope) -> list[Row]:
        """Disputes awaiting a ruling in ``scope``."""
        ...

    async def joint_actions(self, scope: Scope) -> list[Row]:
        """集结 of open cases in ``scope``, soonest first, with each department's 报到."""
        ...

    async def extensions(self, scope: Scope) -> list[Row]:
        """Extension requests awaiting a decision in ``scope``."""
        ...

    async def escalations(self, scope: Scope) -> list[Row]:
        """催办 / 督办 / 通报 of open cases in ``scope``, newest first."""
        ...

    async def metrics(self, query: MetricsQuery) -> list[Row]:
        """三率 and times per group (and per period bucket)."""
        ...

    async def rankings(self, query: MetricsQuery) -> list[Row]:
        """排名: groups ranked by ``query.by`` (higher is better), ties sharing a rank."""
        ...

    async def clocks_beyond(self, window: tuple[datetime, datetime] | None) -> int:
        """Running or paused working-time clocks with a due time that start before ``window``
        or fall due at or after its end (every one when there is no window): those the
        business calendar cannot count exactly."""
        ...

    async def lag(self) -> Lag:
        """The projection lag."""
        ...

    async def ping(self) -> None:
        """Raise when the database does not answer."""
        ...


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _row(record: asyncpg.Record) -> Row:
    row = dict(record)
    if "departments" in row:
        row["departments"] = list(row["departments"] or [])
    return row


def _event(record: asyncpg.Record) -> Row:
    return {name: record[name] for name in EVENT_COLUMNS} | {"body": json.loads(record["body"])}


class PgRead:
    """``ReadModel`` over the projection tables, through a pool (the API) or one connection
    (the CLI, tests)."""

    def __init__(self, db: asyncpg.Pool | asyncpg.Connection) -> None:
        self._db = db

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        if isinstance(self._db, asyncpg.Pool):
            async with self._db.acquire() as conn:
                yield conn
        else:
            yield self._db

    async def _rows(self, sql: str, params: Params) -> list[Row]:
        return [_row(r) for r in await self._db.fetch(sql, *params.values)]

    async def case(self, case_id: str) -> Row | None:
        """The case with its assignments, clocks, joint actions and photos (``CASE_SQL``)."""
        record = await self._db.fetchrow(CASE_SQL, case_id)
        if record is None:
            return None
        row = dict(record)
        for name in ("assignments", "clocks", "joint_actions", "attachments"):
            row[name] = json.loads(row[name])
        return row

    async def case_scope(self, case_id: str) -> Row | None:
        """``area`` and ``departments`` of the case."""
        record = await self._db.fetchrow(
            f"SELECT area, departments FROM {SCHEMA}.cases WHERE case_id = $1", case_id
        )
        return _row(record) if record is not None else None

    async def cases(self, scope: Scope, filters: CaseFilters) -> list[Row]:
        """Cases in scope, newest first."""
        params = Params()
        where = " AND ".join([scope_sql(scope, params), *filters_sql(filters, params)])
        sql = (
            f"SELECT {CASE_COLUMNS} FROM {SCHEMA}.cases c WHERE {where} ORDER BY {NEWEST_FIRST}"
            f" LIMIT {params.add(filters.limit)} OFFSET {params.add(filters.offset)}"
        )
        return await self._rows(sql, params)

    async def timeline(self, case_id: str) -> list[Row]:
        """The case's events in order, bodies decoded."""
        return [_event(r) for r in await self._db.fetch(TIMELINE_SQL, case_id)]

    async def case_timeline(self, case_id: str) -> tuple[Row, list[Row]] | None:
        """Scope columns and events in one statement (``case_scope`` + ``timeline`` take two)."""
        records = await self._db.fetch(CASE_TIMELINE_SQL, case_id)
        if not records:
            return None
        scope = {"area": records[0]["area"], "departments": list(records[0]["departments"] or [])}
        return scope, [_event(r) for r in records if r["seq"] is not None]

    async def case_as_of(self, case_id: str, at: datetime) -> CaseState | None:
        """Folds the events that occurred at or before ``at`` with the domain's ``evolve``."""
        if at.tzinfo is None:
            raise ValueError("the instant must carry its time zone")
        records = await self._db.fetch(EVENTS_UNTIL_SQL, case_id, at)
        return fold(parse_event(r[0]) for r in records) if records else None

    async def whistles(self, case_ids: list[str]) -> dict[str, Row]:
        """The first event (WhistleRaised) body of each case."""
        if not case_ids:
            return {}
        records = await self._db.fetch(
            f"SELECT case_id, body FROM {SCHEMA}.case_events WHERE case_id = ANY($1) AND seq = 1",
            case_ids,
        )
        return {r["case_id"]: _json(r["body"]) for r in records}

    async def similar_candidates(self, scope: Scope, community: str, at: datetime) -> list[Row]:
        """``similarity.eligible`` in SQL, within scope, over the ``(community, raised_at)``
        index (migration 0001's ``cases_community``)."""
        params = Params()
        where = scope_sql(scope, params)
        closed = params.add(list(similarity.CLOSED))
        sql = (
            f"SELECT {SIMILAR_COLUMNS} FROM {SCHEMA}.cases c WHERE {where}"
            f" AND c.community = {params.add(community)}"
            f" AND c.raised_at >= {params.add(at - similarity.WINDOW)}"
            f" AND c.raised_at <= {params.add(at)} AND c.status <> ALL({closed})"
            f" ORDER BY {NEWEST_FIRST} LIMIT {SIMILAR_LIMIT}"
        )
        return await self._rows(sql, params)

    async def follow_ups(self, case_ids: list[str]) -> dict[str, Row]:
        """The resolve clock's due time and the published summary of each case."""
        if not case_ids:
            return {}
        records = await self._db.fetch(FOLLOW_UPS_SQL, case_ids)
        return {r["case_id"]: {k: r[k] for k in ("expected_at", "summary")} for r in records}

    async def deadlines(self, case_ids: list[str]) -> dict[str, list[Row]]:
        """The running and paused clocks of each case, soonest due first (``DEADLINES_SQL``)."""
        out: dict[str, list[Row]] = {}
        if case_ids:
            for record in await self._db.fetch(DEADLINES_SQL, case_ids):
                out.setdefault(record["case_id"], []).append(dict(record))
        return out

    async def breaches(self, scope: Scope) -> list[Row]:
        """Open breaches in scope, most overdue first (a department: its own clocks)."""
        params = Params()
        where = scope_sql(scope, params, of_department("b"))
        return await self._rows(
            f"SELECT b.* FROM {SCHEMA}.open_breaches b JOIN {SCHEMA}.cases c USING (case_id)"
            f" WHERE {where} ORDER BY b.due_at, b.case_id, b.clock, b.department"
            f" LIMIT {BREACH_LIMIT}",
            params,
        )

    async def disputes(self, scope: Scope) -> list[Row]:
        """退单 awaiting a ruling in scope (a department: its own), oldest first."""
        params = Params()
        where = scope_sql(scope, params, of_department("d"))
        return await self._rows(
            f"SELECT d.*, c.category, c.community, c.lead_department FROM {SCHEMA}.disputes d"
            f" JOIN {SCHEMA}.cases c USING (case_id) WHERE {where} AND d.status = 'awaiting'"
            " ORDER BY d.raised_at, d.case_id, d.seq",
            params,
        )

    async def escalations(self, scope: Scope) -> list[Row]:
        """Escalations of open cases in scope, newest first (at most ``BOARD_LIMIT``)."""
        params = Params()
        where = scope_sql(scope, params, CASES)
        return await self._rows(
            "SELECT e.*, c.status, c.category, c.community, c.lead_department"
            f" FROM {SCHEMA}.escalations e JOIN {SCHEMA}.cases c USING (case_id) WHERE {where} AND"
            f" {OPEN}"
            f" ORDER BY e.escalated_at DESC NULLS LAST, e.case_id, e.seq DESC LIMIT {BOARD_LIMIT}",
            params,
        )

    async def joint_actions(self, scope: Scope) -> list[Row]:
        """集结 of open cases in scope, soonest first, each department's 报到 (at most
        ``BOARD_LIMIT``)."""
        params = Params()
        where = scope_sql(scope, params, CASES)
        records = await self._db.fetch(
            "SELECT j.case_id, c.title, c.community, c.lead_department, j.action_id, j.at,"
            " j.place, CASE WHEN bool_and(j.reported_in_at IS NOT NULL)"
            "   THEN max(j.reported_in_at) END AS assembled_at,"
            " json_agg(json_build_object('department', j.department,"
            "   'reported_in_at', j.reported_in_at) ORDER BY j.position) AS departments"
            f" FROM {SCHEMA}.joint_action_departments j JOIN {SCHEMA}.cases c USING (case_id)"
            f" WHERE {where} AND c.status IN ('routed', 'in_progress')"
            " GROUP BY j.case_id, c.title, c.community, c.lead_department, j.action_id, j.at,"
            f" j.place ORDER BY j.at, j.case_id, j.action_id LIMIT {BOARD_LIMIT}",
            *params.values,
        )
        return [dict(r) | {"departments": json.loads(r["departments"])} for r in records]

    async def extensions(self, scope: Scope) -> list[Row]:
        """Pending 延期 requests in scope (a department: its own), oldest first, with the
        ``clock_key`` grant/refuse take."""
        params = Params()
        where = scope_sql(scope, params, of_department("x"))
        rows = await self._rows(
            f"SELECT x.*, c.category, c.community FROM {SCHEMA}.extension_requests x"
            f" JOIN {SCHEMA}.cases c USING (case_id) WHERE {where} AND x.status = 'pending'"
            " ORDER BY x.requested_at, x.case_id, x.seq",
            params,
        )
        return [r | {"clock_key": f"{r['clock']}:{r['department']}"} for r in rows]

    async def metrics(self, query: MetricsQuery) -> list[Row]:
        """三率 and times per group and bucket (definitions in
        ``whistle.read.resolution_metrics``)."""
        period = None if query.period == "all" else query.period
        async with self._connection() as conn:
            return await resolution_metrics.metrics(
                conn, query.group_by, period, *query.range, query.scope
            )

    async def rankings(self, query: MetricsQuery) -> list[Row]:
        """排名 over [since, until) (definitions in ``whistle.read.resolution_metrics``)."""
        async with self._connection() as conn:
            return await resolution_metrics.rankings(
                conn, query.group_by, *query.range, scope=query.scope, by=query.by
            )

    async def clocks_beyond(self, window: tuple[datetime, datetime] | None) -> int:
        """``CLOCKS_BEYOND_SQL`` (one indexed count), outside ``window`` when there is one."""
        if window is None:
            return int(await self._db.fetchval(CLOCKS_BEYOND_SQL))
        return int(await self._db.fetchval(CLOCKS_BEYOND_SQL + BEYOND_WINDOW, *window))

    async def lag(self) -> Lag:
        """Events the projector has still to apply (by its last look at the log's high
        watermarks) and, when behind, seconds since the last event it applied."""
        row = await self._db.fetchrow(LAG_SQL)
        events = int(row["events"]) if row else 0
        behind = row["behind"] if row else None
        return Lag(events=events, seconds=float(behind) if events and behind is not None else 0.0)

    async def ping(self) -> None:
        """``SELECT 1``."""
        await self._db.fetchval("SELECT 1")

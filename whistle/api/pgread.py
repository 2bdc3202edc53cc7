"""The read models in PostgreSQL (schema ``projection``), queried for the API.

Small queries of the API's own; every case-scoped query filters by area prefix or department.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from projections.migrate import LIVE_SCHEMA
from whistle.api.readmodel import CaseFilters, GroupBy, Lag, Period, Row, Scope

S = LIVE_SCHEMA
CASE_COLUMNS = (
    "case_id, status, title, category, urgency, channel, area, community, street, district,"
    " lead_department, departments, raised_at, routed_at, first_contact_at, joint_action_at,"
    " resolved_at, resolution, closed_at, final_reason, duplicate_of, reopen_count,"
    " callback_count, last_solved, last_satisfied, escalation_tier, escalation_step,"
    " escalated_at, published_at, breach_count, applied_seq, updated_at"
)
GROUP_COLUMNS: dict[str, str] = {
    "department": "a.department",
    "community": "c.community",
    "street": "c.street",
    "district": "c.district",
    "category": "c.category",
}
CHINA_TZ = "Asia/Shanghai"


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
        """The case with its assignments and clocks."""
        async with self._pool.acquire() as conn:
            record = await conn.fetchrow(
                f"SELECT {CASE_COLUMNS} FROM {S}.cases WHERE case_id = $1", case_id
            )
            if record is None:
                return None
            row = _row(record)
            assignments = await conn.fetch(
                f"SELECT department, role, active, dispatched_at, ack_due_at, acknowledged_at,"
                f" acknowledged_in_time, disputed, dispute_count, completed_at, released_at,"
                f" breached FROM {S}.assignments WHERE case_id = $1 ORDER BY dispatched_at",
                case_id,
            )
            clocks = await conn.fetch(
                f"SELECT clock, department, mode, started_at, due_at, paused_at, paused_seconds,"
                f" stopped_at, breached_at, breaches, status FROM {S}.clocks"
                f" WHERE case_id = $1 ORDER BY started_at, clock",
                case_id,
            )
        row["assignments"] = [dict(a) for a in assignments]
        row["clocks"] = [dict(k) for k in clocks]
        return row

    async def cases(self, scope: Scope, filters: CaseFilters) -> list[Row]:
        """Cases in scope, newest first."""
        args: list[Any] = []
        where = [scope_sql(scope, args)]
        if filters.status:
            args.append(list(filters.status))
            where.append(f"c.status = ANY(${len(args)})")
        for column, value in (("category", filters.category),):
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
        records = await self._pool.fetch(
            f"SELECT seq, type, occurred_at, event_id, command_id, actor_user_id, actor_role,"
            f" actor_department, actor_area, body FROM {S}.case_events"
            f" WHERE case_id = $1 ORDER BY seq",
            case_id,
        )
        rows = []
        for record in records:
            row = dict(record)
            row["body"] = _json(row["body"])
            rows.append(row)
        return rows

    async def whistles(self, case_ids: list[str]) -> dict[str, Row]:
        """The first event (WhistleRaised) body of each case."""
        if not case_ids:
            return {}
        records = await self._pool.fetch(
            f"SELECT case_id, body FROM {S}.case_events WHERE case_id = ANY($1) AND seq = 1",
            case_ids,
        )
        return {r["case_id"]: _json(r["body"]) for r in records}

    async def breaches(self, scope: Scope) -> list[Row]:
        """Open breaches in scope, oldest breach first."""
        args: list[Any] = []
        if scope.department is not None:
            args.append(scope.department)
            cond = f"b.department = ${len(args)}"
        elif scope.area is not None:
            args.append(scope.area)
            cond = (
                f"EXISTS (SELECT 1 FROM {S}.cases c WHERE c.case_id = b.case_id"
                f" AND (c.area = $1 OR starts_with(c.area, $1 || '.')))"
            )
        else:
            cond = "true"
        return [
            dict(r)
            for r in await self._pool.fetch(
                f"SELECT * FROM {S}.open_breaches b WHERE {cond} ORDER BY b.breached_at LIMIT 1000",
                *args,
            )
        ]

    async def disputes(self, scope: Scope) -> list[Row]:
        """Disputes awaiting a ruling, in scope."""
        args: list[Any] = []
        cond = scope_sql(scope, args)
        return [
            dict(r)
            for r in await self._pool.fetch(
                f"SELECT d.*, c.title, c.category, c.community, c.street, c.district"
                f" FROM {S}.disputes d JOIN {S}.cases c USING (case_id)"
                f" WHERE d.status = 'awaiting' AND {cond} ORDER BY d.raised_at LIMIT 1000",
                *args,
            )
        ]

    async def extensions(self, scope: Scope) -> list[Row]:
        """Pending extension requests, in scope (``clock_key`` is what grant/refuse take)."""
        args: list[Any] = []
        cond = scope_sql(scope, args)
        return [
            dict(r)
            for r in await self._pool.fetch(
                f"SELECT e.*, e.clock || ':' || e.department AS clock_key, c.title,"
                f" c.community, c.street, c.district"
                f" FROM {S}.extension_requests e JOIN {S}.cases c USING (case_id)"
                f" WHERE e.status = 'pending' AND {cond} ORDER BY e.requested_at LIMIT 1000",
                *args,
            )
        ]

    async def metrics(
        self,
        scope: Scope,
        group_by: GroupBy,
        period: Period,
        since: datetime | None,
        until: datetime | None,
    ) -> list[Row]:
        """三率 per group and bucket: response (acknowledged in time ÷ dispatched), resolution
        and satisfaction (÷ callbacks), the 30/35/35 score, and acknowledge times."""
        args: list[Any] = []
        cond = scope_sql(scope, args)
        if scope.department is not None:
            cond += f" AND a.department = ${len(args)}"
        group = GROUP_COLUMNS[group_by]
        args += [since, until]
        lo, hi = f"${len(args) - 1}", f"${len(args)}"

        def bucket(column: str) -> str:
            if period == "all":
                return "NULL::timestamp"
            return f"date_trunc('{period}', {column} AT TIME ZONE '{CHINA_TZ}')"

        in_range = "({col} >= {lo} OR {lo} IS NULL) AND ({col} < {hi} OR {hi} IS NULL)"
        sql = f"""
WITH acks AS (
  SELECT {group} AS grp, {bucket("a.dispatched_at")} AS bucket,
         count(*) AS dispatched,
         count(*) FILTER (WHERE a.acknowledged_in_time) AS acknowledged_in_time,
         count(a.acknowledged_at) AS acknowledged,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM
             a.acknowledged_at - a.dispatched_at)) AS ack_p50_s,
         percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM
             a.acknowledged_at - a.dispatched_at)) AS ack_p90_s,
         count(*) FILTER (WHERE a.breached) AS breached
    FROM {S}.assignments a JOIN {S}.cases c USING (case_id)
   WHERE a.dispatched_at IS NOT NULL AND {cond}
     AND {in_range.format(col="a.dispatched_at", lo=lo, hi=hi)}
   GROUP BY 1, 2
), calls AS (
  SELECT {group.replace("a.department", "k.department")} AS grp,
         {bucket("k.called_at")} AS bucket,
         count(*) AS callbacks,
         count(*) FILTER (WHERE k.solved) AS solved,
         count(*) FILTER (WHERE k.satisfied) AS satisfied
    FROM {S}.callbacks k JOIN {S}.cases c USING (case_id)
   WHERE {cond.replace("a.department", "k.department")}
     AND {in_range.format(col="k.called_at", lo=lo, hi=hi)}
   GROUP BY 1, 2
)
SELECT coalesce(acks.grp, calls.grp) AS "group", coalesce(acks.bucket, calls.bucket) AS bucket,
       coalesce(dispatched, 0) AS dispatched,
       coalesce(acknowledged, 0) AS acknowledged,
       coalesce(acknowledged_in_time, 0) AS acknowledged_in_time,
       coalesce(breached, 0) AS breached,
       coalesce(callbacks, 0) AS callbacks, coalesce(solved, 0) AS solved,
       coalesce(satisfied, 0) AS satisfied, ack_p50_s, ack_p90_s
  FROM acks FULL OUTER JOIN calls
    ON acks.grp IS NOT DISTINCT FROM calls.grp
   AND acks.bucket IS NOT DISTINCT FROM calls.bucket
 ORDER BY 2 NULLS FIRST, 1
"""
        return [_rates(dict(r)) for r in await self._pool.fetch(sql, *args)]

    async def lag(self) -> Lag:
        """Events between the projector's checkpoints and the high watermarks it last saw."""
        row = await self._pool.fetchrow(
            f"SELECT coalesce(sum(greatest(high_watermark - next_offset, 0)), 0) AS events,"
            f" extract(epoch FROM now() - min(updated_at)"
            f"   FILTER (WHERE high_watermark > next_offset)) AS seconds"
            f" FROM {S}.checkpoints"
        )
        assert row is not None
        seconds = row["seconds"]
        return Lag(events=int(row["events"]), seconds=float(seconds) if seconds else None)

    async def ping(self) -> None:
        """``SELECT 1``."""
        await self._pool.fetchval("SELECT 1")


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _rates(row: Row) -> Row:
    response = _ratio(row["acknowledged_in_time"], row["dispatched"])
    resolution = _ratio(row["solved"], row["callbacks"])
    satisfaction = _ratio(row["satisfied"], row["callbacks"])
    row["response_rate"] = response
    row["resolution_rate"] = resolution
    row["satisfaction_rate"] = satisfaction
    parts = (response, resolution, satisfaction)
    row["score"] = (
        round(0.30 * parts[0] + 0.35 * parts[1] + 0.35 * parts[2], 4)  # type: ignore[operator]
        if None not in parts
        else None
    )
    return row

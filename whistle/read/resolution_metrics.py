"""三率 and friends by department/community/street/district/category and day/week/month, ranked.

Every metric is computed over a cohort: the cases *raised* in the bucket (day, ISO week starting
Monday, or month, in Asia/Shanghai time) and in the requested range [since, until). Definitions:

- 响应率 response rate = assignments acknowledged within their deadline ÷ assignments dispatched.
  An assignment is one case × department routing (lead or supporting), including one later
  reassigned after a dispute; "within deadline" is the decider's judgement carried by
  DepartmentAcknowledged.within_deadline (else acknowledged_at ≤ the ack clock's due time).
- 解决率 resolution rate = callbacks saying "solved" ÷ callbacks made (every CallbackRecorded).
- 满意率 satisfaction rate = callbacks saying "satisfied" ÷ callbacks made.
  By department, a callback counts for the case's lead department when it was made (首接负责).
- average score 平均满意度评分 = sum of the callbacks' 1–5 scores ÷ callbacks with a score
  (``score_sum`` ÷ ``score_count``, both carried by the roll-ups, so exact over any range);
  None when no callback has a score.
- score = 100 × (w_resp·响应率 + w_res·解决率 + w_sat·满意率) ÷ (w_resp + w_res + w_sat),
  default weights 30/35/35; no score when a rate has no denominator.
- time to acknowledge = acknowledged_at − dispatched_at per acknowledged assignment;
  time to resolve = resolved_at − raised_at per case currently resolved (or closed after it);
  each as median and p90 (percentile_cont, continuous interpolation), in seconds.
- breaches = ClockBreached events (per clock, summed); by department, the clock's department.
- dispute rate = assignments disputed at least once ÷ assignments dispatched.
- reopen rate = cases reopened at least once ÷ cases resolved at least once.
  Case-level figures (time to resolve, reopen rate) count for the lead department.

Where: when [since, until) are whole days in Shanghai time, every figure is summed from the
daily roll-ups (``metric_days``, kept exact by the projector, see ``projections.rollups``):
counts add up, and the medians and p90s are taken over the union of the days' sorted durations
(the same values the base tables give; ``percentile_cont`` here is PostgreSQL's, to the
last digit). Other ranges, and
by-category figures of one department, are computed from the base tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Literal

import asyncpg

from projections.migrate import LIVE_SCHEMA
from projections.rollups import SHANGHAI
from whistle.read.scope import EVERYTHING, Params, Scope, cohort, scope_sql

GroupBy = Literal["department", "community", "street", "district", "category"]
Period = Literal["day", "week", "month"]
GROUPS: tuple[str, ...] = ("department", "community", "street", "district", "category")
PERIODS: tuple[str, ...] = ("day", "week", "month")
SCHEMA = LIVE_SCHEMA


@dataclass(frozen=True)
class Weights:
    """Weights of the combined score (published county scheme: 30/35/35)."""

    response: float = 30
    resolution: float = 35
    satisfaction: float = 35


DEFAULT_WEIGHTS = Weights()


def _bucket(period: Period | None, alias: str) -> str:
    if period is None:
        return "'all'"
    if period not in PERIODS:
        raise ValueError(f"period must be one of {PERIODS}")
    local = f"{alias}.raised_at AT TIME ZONE 'Asia/Shanghai'"
    return f"to_char(date_trunc('{period}', {local}), 'YYYY-MM-DD')"


def _group(group_by: GroupBy, alias: str, department_column: str) -> str:
    if group_by not in GROUPS:
        raise ValueError(f"group_by must be one of {GROUPS}")
    return f"{alias}.{department_column if group_by == 'department' else group_by}"


def metrics_sql(group_by: GroupBy, period: Period | None, scope: Scope) -> tuple[str, list[Any]]:
    """The SQL of ``metrics`` and its extra parameters (after $1 since and $2 until).

    Assignments, callbacks and clocks carry their case's cohort columns (raised_at, category,
    district, street, community), so each figure is read from one table by its cohort index.
    """
    params = Params(first=3)

    def where(alias: str, department_column: str) -> str:
        scoped = scope_sql(scope, params, cohort(alias, department_column))
        return f"{alias}.raised_at >= $1 AND {alias}.raised_at < $2 AND {scoped}"

    def head(alias: str, department_column: str) -> str:
        return (
            f"{_bucket(period, alias)} AS bucket,"
            f" {_group(group_by, alias, department_column)} AS grp"
        )

    pct = "percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY {x})"  # one sort for both
    ack_s = "extract(epoch FROM a.acknowledged_at - a.dispatched_at)"
    res_s = "extract(epoch FROM c.resolved_at - c.raised_at)"
    sql = f"""
WITH a AS (
  SELECT {head("a", "department")},
         count(*) AS dispatched,
         count(*) FILTER (WHERE a.acknowledged_in_time) AS acknowledged_in_time,
         count(*) FILTER (WHERE a.acknowledged_at IS NOT NULL) AS acknowledged,
         count(*) FILTER (WHERE a.dispute_count > 0) AS disputed,
         {pct.format(x=ack_s)} AS ack_s
    FROM {SCHEMA}.assignments a WHERE {where("a", "department")}
   GROUP BY 1, 2
), cb AS (
  SELECT {head("b", "department")},
         count(*) AS callbacks,
         count(*) FILTER (WHERE b.solved) AS solved,
         count(*) FILTER (WHERE b.satisfied) AS satisfied,
         coalesce(sum(b.score), 0) AS score_sum, count(b.score) AS score_count
    FROM {SCHEMA}.callbacks b WHERE {where("b", "department")}
   GROUP BY 1, 2
), r AS (
  SELECT {head("c", "lead_department")},
         count(*) AS cases,
         count(*) FILTER (WHERE c.resolved_at IS NOT NULL OR c.reopen_count > 0) AS resolved,
         count(*) FILTER (WHERE c.reopen_count > 0) AS reopened,
         {pct.format(x=res_s)} AS resolve_s
    FROM {SCHEMA}.cases c WHERE {where("c", "lead_department")}
   GROUP BY 1, 2
), k AS (
  SELECT {head("k", "department")}, sum(k.breaches) AS breaches
    FROM {SCHEMA}.clocks k WHERE k.breaches > 0 AND {where("k", "department")}
   GROUP BY 1, 2
)
SELECT bucket, grp,
       coalesce(a.dispatched, 0) AS dispatched,
       coalesce(a.acknowledged_in_time, 0) AS acknowledged_in_time,
       coalesce(a.acknowledged, 0) AS acknowledged,
       coalesce(a.disputed, 0) AS disputed,
       a.ack_s[1] AS ack_median_s, a.ack_s[2] AS ack_p90_s,
       coalesce(cb.callbacks, 0) AS callbacks,
       coalesce(cb.solved, 0) AS solved,
       coalesce(cb.satisfied, 0) AS satisfied,
       coalesce(cb.score_sum, 0) AS score_sum,
       coalesce(cb.score_count, 0) AS score_count,
       coalesce(r.cases, 0) AS cases,
       coalesce(r.resolved, 0) AS resolved,
       coalesce(r.reopened, 0) AS reopened,
       r.resolve_s[1] AS resolve_median_s, r.resolve_s[2] AS resolve_p90_s,
       coalesce(k.breaches, 0)::bigint AS breaches
  FROM a FULL JOIN cb USING (bucket, grp) FULL JOIN r USING (bucket, grp)
  FULL JOIN k USING (bucket, grp)
 WHERE grp IS NOT NULL
 ORDER BY bucket, grp"""
    return sql, params.values


def rollup_grain(group_by: GroupBy, scope: Scope) -> str | None:
    """The ``metric_days`` grain that answers this grouping and scope, or None (base tables)."""
    if group_by not in GROUPS:
        raise ValueError(f"group_by must be one of {GROUPS}")
    if group_by == "department":
        return "department_community" if scope.area else "department"
    if group_by != "category":
        return "department_community" if scope.department else "community"
    if scope.department:
        return None
    return "category_community" if scope.area else "category"


def whole_days(since: datetime, until: datetime) -> tuple[date, date] | None:
    """[since, until) as Shanghai days [first, end), when both are Shanghai midnights."""
    if since.tzinfo is None or until.tzinfo is None:
        return None
    first, end = since.astimezone(SHANGHAI), until.astimezone(SHANGHAI)
    if first.time() != time() or end.time() != time():
        return None
    return first.date(), end.date()


ROLLUP_COUNTS: tuple[str, ...] = (
    "dispatched",
    "acknowledged_in_time",
    "acknowledged",
    "disputed",
    "callbacks",
    "solved",
    "satisfied",
    "cases",
    "resolved",
    "reopened",
    "breaches",
    "score_sum",
    "score_count",
)


def rollup_sql(
    group_by: GroupBy, period: Period | None, scope: Scope, grain: str
) -> tuple[str, list[Any]]:
    """The SQL reading the ``metric_days`` rows of ``metrics`` (after $1 first day, $2 end
    day): one row per day and grain key; ``merge_rollup`` adds them up."""
    params = Params(first=3)
    where = f"m.grain = {params.add(grain)} AND m.day >= $1 AND m.day < $2"
    where += " AND " + scope_sql(scope, params, cohort("m"))
    if period is None:
        bucket = "'all'"
    elif period in PERIODS:
        bucket = f"to_char(date_trunc('{period}', m.day::timestamp), 'YYYY-MM-DD')"
    else:
        raise ValueError(f"period must be one of {PERIODS}")
    sql = (
        f"SELECT {bucket} AS bucket, m.{group_by} AS grp, {', '.join(ROLLUP_COUNTS)},"
        f" ack_s, resolve_s FROM {SCHEMA}.metric_days m WHERE {where} AND m.{group_by} IS NOT NULL"
    )
    return sql, params.values


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """PostgreSQL's ``percentile_cont`` of sorted ``values``: linear interpolation between
    the two nearest ranks, computed with the same float8 arithmetic."""
    if not values:
        return None
    position = fraction * (len(values) - 1)
    first = math.floor(position)
    low, high = values[first], values[math.ceil(position)]
    return low + (position - first) * (high - low)


def merge_rollup(records: list[asyncpg.Record]) -> list[dict[str, Any]]:
    """Add up roll-up rows by (bucket, group): counts summed, durations merged and sorted
    (each day's array is sorted: the sort merges runs), then median and p90."""
    groups: dict[tuple[str, str], tuple[list[int], list[float], list[float]]] = {}
    for r in records:
        key = (r["bucket"], r["grp"])
        entry = groups.get(key)
        if entry is None:
            entry = groups[key] = ([0] * len(ROLLUP_COUNTS), [], [])
        counts, ack, resolve = entry
        for i, name in enumerate(ROLLUP_COUNTS):
            counts[i] += r[name]
        ack.extend(r["ack_s"])
        resolve.extend(r["resolve_s"])
    rows = []
    for (bucket, grp), (counts, ack, resolve) in sorted(groups.items()):
        ack.sort()
        resolve.sort()
        row: dict[str, Any] = {
            "bucket": bucket,
            "grp": grp,
            **dict(zip(ROLLUP_COUNTS, counts, strict=True)),
        }
        row["ack_median_s"], row["ack_p90_s"] = percentile_cont(ack, 0.5), percentile_cont(ack, 0.9)
        row["resolve_median_s"] = percentile_cont(resolve, 0.5)
        row["resolve_p90_s"] = percentile_cont(resolve, 0.9)
        rows.append(row)
    return rows


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def finish_row(record: dict[str, Any], weights: Weights) -> dict[str, Any]:
    """Add the rates, the average callback score and the combined score to one aggregated row."""
    row = dict(record)
    row["bucket"] = None if row["bucket"] == "all" else row["bucket"]
    row["group"] = row.pop("grp")
    row["response_rate"] = _ratio(row["acknowledged_in_time"], row["dispatched"])
    row["resolution_rate"] = _ratio(row["solved"], row["callbacks"])
    row["satisfaction_rate"] = _ratio(row["satisfied"], row["callbacks"])
    row["average_score"] = _ratio(row["score_sum"], row["score_count"])
    row["dispute_rate"] = _ratio(row["disputed"], row["dispatched"])
    row["reopen_rate"] = _ratio(row["reopened"], row["resolved"])
    rates = (row["response_rate"], row["resolution_rate"], row["satisfaction_rate"])
    total = weights.response + weights.resolution + weights.satisfaction
    if None in rates or not total:
        row["score"] = None
    else:
        r, s, t = rates
        assert r is not None and s is not None and t is not None
        row["score"] = (
            100 * (weights.response * r + weights.resolution * s + weights.satisfaction * t) / total
        )
    return row


async def metrics(
    conn: asyncpg.Connection,
    group_by: GroupBy,
    period: Period | None,
    since: datetime,
    until: datetime,
    scope: Scope = EVERYTHING,
    weights: Weights = DEFAULT_WEIGHTS,
) -> list[dict[str, Any]]:
    """One row per (bucket, group) of cases raised in [since, until); bucket None if no period."""
    grain = rollup_grain(group_by, scope)
    days = whole_days(since, until)
    if grain is not None and days is not None:
        sql, args = rollup_sql(group_by, period, scope, grain)
        rows = merge_rollup(await conn.fetch(sql, *days, *args))
        return [finish_row(row, weights) for row in rows]
    sql, args = metrics_sql(group_by, period, scope)
    async with conn.transaction():
        await conn.execute("SET LOCAL jit = off")  # compiling costs more than these queries
        await conn.execute("SET LOCAL work_mem = '32MB'")  # percentiles sort in memory
        records = await conn.fetch(sql, since, until, *args)
    return [finish_row(dict(r), weights) for r in records]


async def rankings(
    conn: asyncpg.Connection,
    group_by: GroupBy,
    since: datetime,
    until: datetime,
    scope: Scope = EVERYTHING,
    weights: Weights = DEFAULT_WEIGHTS,
    by: str = "score",
) -> list[dict[str, Any]]:
    """排名: groups ranked by ``by`` (default the combined score) over [since, until).

    Higher is better; equal values share a rank (1, 2, 2, 4); groups without a value come last
    with rank None, ordered by name.
    """
    return ranked(await metrics(conn, group_by, None, since, until, scope, weights), by)


def ranked(rows: list[dict[str, Any]], by: str) -> list[dict[str, Any]]:
    """``rows`` (of ``metrics``) ranked by ``by`` as ``rankings`` says, each given its ``rank``."""
    valued = sorted((r for r in rows if r[by] is not None), key=lambda r: (-r[by], r["group"]))
    rank, previous = 0, None
    for i, row in enumerate(valued, start=1):
        if row[by] != previous:
            rank, previous = i, row[by]
        row["rank"] = rank
    rest = sorted((r for r in rows if r[by] is None), key=lambda r: r["group"])
    for row in rest:
        row["rank"] = None
    return valued + rest

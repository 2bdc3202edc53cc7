"""The 三率 of the in-memory read model: ``whistle.read.resolution_metrics``'s figures counted
over rows in memory (a case with its assignments and clocks, the callbacks), so that
tests/integration/api/test_read_contract.py can hold both to the same answers.

Each figure is counted over a cohort row as the SQL reads it: the row's own ``raised_at`` and
cohort columns (community, street, district, category) and its department (an assignment's,
a callback's, a clock's; a case's lead department for the case figures). The rates and the
score are the gateway's own ``finish_row``, the ranking its ``ranked``: what is counted here
is the part the SQL computes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from projections.rollups import SHANGHAI
from whistle.read.gateway import MetricsQuery, Period
from whistle.read.resolution_metrics import (
    DEFAULT_WEIGHTS,
    ROLLUP_COUNTS,
    finish_row,
    percentile_cont,
)
from whistle.read.scope import Row, require_cohort_depth


def instant(value: datetime | str | None) -> datetime | None:
    """A time as the read model holds it: a datetime, or ISO text inside a JSON column."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def seconds(start: datetime | str | None, end: datetime | str | None) -> float | None:
    """``end - start`` in seconds, None when either is missing."""
    first, last = instant(start), instant(end)
    return None if first is None or last is None else (last - first).total_seconds()


def bucket(raised_at: datetime, period: Period) -> str:
    """The metrics bucket of a case raised at ``raised_at``: its Shanghai day, the Monday of
    its week or the first of its month, or ``all``."""
    day = raised_at.astimezone(SHANGHAI).date()
    if period == "week":
        day -= timedelta(days=day.weekday())
    elif period == "month":
        day = day.replace(day=1)
    return "all" if period == "all" else day.isoformat()


@dataclass
class Figures:
    """What one (bucket, group) counts before the rates: the roll-ups' counts and durations."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ROLLUP_COUNTS, 0))
    ack_s: list[float] = field(default_factory=list)
    resolve_s: list[float] = field(default_factory=list)

    def row(self, bucket_: str, group: str) -> Row:
        """The metrics row (rates and score added by the gateway's ``finish_row``)."""
        ack, resolve = sorted(self.ack_s), sorted(self.resolve_s)
        raw: dict[str, Any] = {"bucket": bucket_, "grp": group, **self.counts}
        raw["ack_median_s"], raw["ack_p90_s"] = percentile_cont(ack, 0.5), percentile_cont(ack, 0.9)
        raw["resolve_median_s"] = percentile_cont(resolve, 0.5)
        raw["resolve_p90_s"] = percentile_cont(resolve, 0.9)
        return finish_row(raw, DEFAULT_WEIGHTS)


class Tally:
    """Figures per (bucket, group) of the cohort rows a query takes."""

    def __init__(self, query: MetricsQuery) -> None:
        require_cohort_depth(query.scope)
        self.query = query
        self.low, self.high = query.range
        self.figures: dict[tuple[str, str], Figures] = {}

    def of(self, row: Row, department: str | None) -> Figures | None:
        """The figures ``row`` counts for (by its cohort columns and ``department``), or None
        when the query does not take it."""
        raised = instant(row.get("raised_at"))
        if raised is None or not self.low <= raised < self.high:
            return None
        if not self.query.scope.holds(
            row.get("community"), [] if department is None else [department]
        ):
            return None
        by = self.query.group_by
        group = department if by == "department" else row.get(by)
        if group is None:
            return None
        key = (bucket(raised, self.query.period), group)
        return self.figures.setdefault(key, Figures())

    def rows(self) -> list[Row]:
        """The metrics rows, by bucket and group."""
        return [f.row(b, g) for (b, g), f in sorted(self.figures.items())]


def metrics(cases: Iterable[Row], callbacks: Iterable[Row], query: MetricsQuery) -> list[Row]:
    """三率 and times per bucket and group of ``cases`` (each with its ``assignments`` and
    ``clocks``) and ``callbacks``, as ``whistle.read.resolution_metrics.metrics`` reads them."""
    tally = Tally(query)
    for case in cases:
        if (f := tally.of(case, case.get("lead_department"))) is not None:
            f.counts["cases"] += 1
            f.counts["resolved"] += case.get("resolved_at") is not None or case["reopen_count"] > 0
            f.counts["reopened"] += case["reopen_count"] > 0
            if (s := seconds(case.get("raised_at"), case.get("resolved_at"))) is not None:
                f.resolve_s.append(s)
        for a in case.get("assignments", []):
            if (f := tally.of(a, a["department"])) is not None:
                f.counts["dispatched"] += 1
                f.counts["acknowledged_in_time"] += a.get("acknowledged_in_time") is True
                f.counts["acknowledged"] += a.get("acknowledged_at") is not None
                f.counts["disputed"] += a.get("dispute_count", 0) > 0
                if (s := seconds(a.get("dispatched_at"), a.get("acknowledged_at"))) is not None:
                    f.ack_s.append(s)
        for k in case.get("clocks", []):
            if k.get("breaches", 0) > 0 and (f := tally.of(k, k["department"])) is not None:
                f.counts["breaches"] += k["breaches"]
    for b in callbacks:
        if (f := tally.of(b, b.get("department"))) is not None:
            f.counts["callbacks"] += 1
            f.counts["solved"] += b.get("solved") is True
            f.counts["satisfied"] += b.get("satisfied") is True
            if b.get("score") is not None:
                f.counts["score_sum"] += b["score"]
                f.counts["score_count"] += 1
    return tally.rows()

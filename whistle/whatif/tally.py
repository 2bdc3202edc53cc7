"""The figures of a what-if: both sides' read-model rows added up as the read side adds them.

Each replayed case leaves two sets of read-model rows (``CaseOutcome``). A ``Tally`` adds them
up per grouping exactly as ``whistle.read.resolution_metrics.metrics_sql`` counts the base
tables (assignments, callbacks, cases, clocks, each filtered by its cohort's ``raised_at``),
into the columns of ``ROLLUP_COUNTS``, and the rates and score come from the read side's own
``finish_row``. Medians and p90s are left out (they would hold every duration). Tallies of
partitions add up (``merge``): counts only, plus capped lists of examples.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from projections.model import CaseRows
from projections.rollups import SHANGHAI
from whistle.read.resolution_metrics import DEFAULT_WEIGHTS, GROUPS, ROLLUP_COUNTS, finish_row
from whistle.whatif.replay import RULE, CaseOutcome, CaseReplay, Proposed

COUNTS: tuple[str, ...] = (*ROLLUP_COUNTS, "escalations")
INDEX = {name: i for i, name in enumerate(COUNTS)}
SIDES = ("original", "proposed")
EXAMPLES = 200
"""Cases listed per kind of change (all are counted): the first by case id, so the same
what-if lists the same cases whichever order its processes read their partitions in."""


def _example_key(example: dict[str, Any]) -> tuple[str, str]:
    return example["case_id"], example.get("clock", "")


def keep_first(examples: list[dict[str, Any]], at_most: int = EXAMPLES) -> list[dict[str, Any]]:
    """The first ``at_most`` examples by case id (and clock), in that order."""
    return sorted(examples, key=_example_key)[:at_most]


GroupKey = tuple[str, str]  # (grouping, group)
GROUPINGS: tuple[str, ...] = (*GROUPS, "all")
_ASSIGNMENT = tuple(
    INDEX[n] for n in ("dispatched", "acknowledged_in_time", "acknowledged", "disputed")
)
_CALLBACK = tuple(
    INDEX[n] for n in ("callbacks", "solved", "satisfied", "score_sum", "score_count")
)
_CASE = tuple(INDEX[n] for n in ("cases", "resolved", "reopened"))
_CLOCK = (INDEX["breaches"],)
_ESCALATIONS = INDEX["escalations"]


def _week(at: datetime) -> str:
    local = at.astimezone(SHANGHAI).date()
    return (local - timedelta(days=local.weekday())).isoformat()


@dataclass
class SideTally:
    """One side's counts by (grouping, group), and its weekly load by department."""

    groups: dict[GroupKey, list[int]] = field(default_factory=dict)
    weekly: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(department, Monday of the week in Shanghai) → assignments dispatched."""

    def counts(self, grouping: str, group: str | None) -> list[int] | None:
        """The counts of ``group`` under ``grouping`` (created at zero; None: no group)."""
        if group is None:
            return None
        counts = self.groups.get((grouping, group))
        if counts is None:
            counts = self.groups[(grouping, group)] = [0] * len(COUNTS)
        return counts

    def add(self, rows: CaseRows, escalations: Counter[str]) -> None:
        """Add one case's rows (its cohort is in range: the caller checked).

        Each row's group is looked up once per grouping and its columns added in place (a
        row adds to a group only when one of its counts is not zero).
        """
        case = rows.case
        added: tuple[int, ...]
        for a in rows.table("assignments").values():
            added = (1, bool(a["acknowledged_in_time"]), a["acknowledged_at"] is not None,
                     a["dispute_count"] > 0)  # fmt: skip
            self._add_row(a, "department", _ASSIGNMENT, added)
            if a["dispatched_at"] is not None:
                self.weekly[(a["department"], _week(a["dispatched_at"]))] += 1
        for b in rows.table("callbacks").values():
            added = (1, bool(b["solved"]), bool(b["satisfied"]), b["score"] or 0,
                     b["score"] is not None)  # fmt: skip
            self._add_row(b, "department", _CALLBACK, added)
        resolved = case["resolved_at"] is not None or case["reopen_count"] > 0
        added = (1, resolved, case["reopen_count"] > 0)
        self._add_row(case, "lead_department", _CASE, added)
        for k in rows.table("clocks").values():
            self._add_row(k, "department", _CLOCK, (k["breaches"],))
        for department, n in escalations.items():
            if not n:
                continue
            for grouping in GROUPINGS:
                group = department if grouping == "department" else _group(case, grouping, "")
                counts = self.counts(grouping, group)
                if counts is not None:
                    counts[_ESCALATIONS] += n

    def _add_row(
        self, row: dict[str, Any], department_column: str, columns: tuple[int, ...],
        added: tuple[int, ...],
    ) -> None:  # fmt: skip
        """Add ``added`` to ``columns`` of the row's group under every grouping.

        What ``counts`` and ``_group`` do, written flat: it runs for every row of both sides
        of every replayed case."""
        pairs = [(i, int(n)) for i, n in zip(columns, added, strict=True) if n]
        if not pairs:
            return
        groups = self.groups
        for grouping, column in _GROUP_COLUMNS[department_column]:
            value = "all" if column is None else row.get(column)
            if value is None:
                continue
            key = (grouping, str(value))
            counts = groups.get(key)
            if counts is None:
                counts = groups[key] = [0] * len(COUNTS)
            for i, n in pairs:
                counts[i] += n

    def merge(self, other: SideTally, sign: int = 1) -> None:
        """Add ``other`` to this one (``sign`` -1: take it away; what is left at zero goes, as
        a tally never holds a group or week it counted nothing for)."""
        for key, counts in other.groups.items():
            mine = self.groups.setdefault(key, [0] * len(COUNTS))
            for i, n in enumerate(counts):
                mine[i] += sign * n
            if sign < 0 and not any(mine):
                del self.groups[key]
        if sign > 0:
            self.weekly.update(other.weekly)
            return
        self.weekly.subtract(other.weekly)
        for key in [k for k, n in self.weekly.items() if not n]:
            del self.weekly[key]

    def rows(self, grouping: str) -> dict[str, dict[str, Any]]:
        """Group → the read side's row (counts, rates, score) for ``grouping``."""
        found: dict[str, dict[str, Any]] = {}
        for (g, group), counts in sorted(self.groups.items()):
            if g != grouping:
                continue
            record: dict[str, Any] = {"bucket": "all", "grp": group}
            record.update(zip(COUNTS, counts, strict=True))
            row = finish_row(record, DEFAULT_WEIGHTS)
            row.pop("bucket")
            found[group] = row
        return found


_GROUP_COLUMNS: dict[str, tuple[tuple[str, str | None], ...]] = {
    department_column: tuple(
        (g, department_column if g == "department" else None if g == "all" else g)
        for g in GROUPINGS
    )
    for department_column in ("department", "lead_department")
}
"""Department column → (grouping, the row's column naming its group; None: the one group
``all``), as ``_group`` reads them."""


def _group(row: dict[str, Any], grouping: str, department_column: str) -> str | None:
    if grouping == "all":
        return "all"
    value = row.get(department_column) if grouping == "department" else row.get(grouping)
    return None if value is None else str(value)


def _routing(rows: CaseRows | None) -> dict[str, Any] | None:
    if rows is None:
        return None
    assignments = rows.table("assignments").values()
    return {
        "lead": rows.case["lead_department"],
        "supporting": sorted(a["department"] for a in assignments if a["role"] == "supporting"),
        "rule_id": rows.case.get(RULE),
    }


def _clock_results(rows: CaseRows | None) -> dict[str, str]:
    if rows is None:
        return {}
    results = {}
    for (kind, department), k in rows.table("clocks").items():
        status = "breached" if k["breaches"] else ("met" if k["status"] == "met" else k["status"])
        results[f"{kind}:{department}"] = status
    return results


@dataclass
class Tally:
    """Both sides of a what-if over the cases raised in [since, until)."""

    since: datetime
    until: datetime
    original: SideTally = field(default_factory=SideTally)
    proposed: SideTally = field(default_factory=SideTally)
    cases: int = 0
    skipped: int = 0
    """Cases whose first event in the log is not their raising (raised before the log)."""
    moved: int = 0
    moved_examples: list[dict[str, Any]] = field(default_factory=list)
    rerouted: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(department, week) → assignments the proposed rules give a department that never saw
    the case (no human step of theirs to replay)."""
    clock_changes: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    """(department, original result, proposed result) → clocks whose result differs."""
    clock_examples: list[dict[str, Any]] = field(default_factory=list)
    refused: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(command type, department) → held commands the replayed cases refused."""
    events: int = 0
    peak_rss_mib: float = 0.0
    """The largest peak resident memory (``VmHWM``) of the processes that replayed it."""
    peak_open: int = 0
    """The most cases one process held open at once (what its memory grows with)."""
    delta: bool = False
    """Delta mode (``whistle.whatif.live``): the sides hold only the cases the proposal
    decides differently, until ``with_live`` puts the read models' figures around them."""
    unchanged: int = 0
    """Delta mode: cases decided exactly as they were (counted, their rows never held)."""

    def in_range(self, raised_at: datetime | None) -> bool:
        """Whether a case raised at ``raised_at`` is in the what-if's cohort."""
        return raised_at is not None and self.since <= raised_at < self.until

    def add(self, outcome: CaseOutcome) -> None:
        """Add one replayed case (out-of-range cases are the caller's to skip)."""
        self.cases += 1
        if outcome.unchanged:
            self.unchanged += 1
            return
        self.original.add(outcome.original, outcome.escalations[0])
        if outcome.replayed is not None:
            self.proposed.add(outcome.replayed, outcome.escalations[1])
        self.refused.update(outcome.refused)
        if outcome.replayed is outcome.original:
            return  # mirrored: nothing moved, no clock differs
        before, after = _routing(outcome.original), _routing(outcome.replayed)
        if before != after:
            self.moved += 1
            if len(self.moved_examples) >= 2 * EXAMPLES:  # bounded, the first kept
                self.moved_examples = keep_first(self.moved_examples)
            self.moved_examples.append(
                {"case_id": outcome.case_id, "original": before, "proposed": after}
            )
        seen = set(outcome.original.table("assignments"))
        if outcome.replayed is not None:
            for key, a in outcome.replayed.table("assignments").items():
                if key not in seen and a["dispatched_at"] is not None:
                    self.rerouted[(a["department"], _week(a["dispatched_at"]))] += 1
        old, new = _clock_results(outcome.original), _clock_results(outcome.replayed)
        for clock in sorted(set(old) | set(new)):
            was, now = old.get(clock, "absent"), new.get(clock, "absent")
            if was == now:
                continue
            self.clock_changes[(clock.partition(":")[2], was, now)] += 1
            if len(self.clock_examples) >= 2 * EXAMPLES:
                self.clock_examples = keep_first(self.clock_examples)
            self.clock_examples.append(
                {"case_id": outcome.case_id, "clock": clock, "original": was, "proposed": now}
            )

    def add_unchanged(self) -> None:
        """Count a case decided exactly as it was (delta mode: its rows are the read models')."""
        self.cases += 1
        self.unchanged += 1

    def merge(self, other: Tally) -> None:
        """Add another partition set's tally."""
        self.original.merge(other.original)
        self.proposed.merge(other.proposed)
        self.cases += other.cases
        self.skipped += other.skipped
        self.moved += other.moved
        self.events += other.events
        self.unchanged += other.unchanged
        self.delta = self.delta or other.delta
        self.peak_rss_mib = max(self.peak_rss_mib, other.peak_rss_mib)
        self.peak_open = max(self.peak_open, other.peak_open)
        self.moved_examples = keep_first(self.moved_examples + other.moved_examples)
        self.clock_examples = keep_first(self.clock_examples + other.clock_examples)
        self.rerouted.update(other.rerouted)
        self.clock_changes.update(other.clock_changes)
        self.refused.update(other.refused)

    def with_live(self, live: SideTally) -> Tally:
        """A delta mode tally made whole: the original side is the read models' ``live``, the
        proposed side ``live`` less the changed cases' original rows plus their replayed rows.
        Equal to the tally of every case replayed (a test checks)."""
        proposed = SideTally()
        proposed.merge(live)
        proposed.merge(self.original, -1)
        proposed.merge(self.proposed)
        whole = Tally(**{f.name: getattr(self, f.name) for f in fields(self)})
        whole.original, whole.proposed, whole.delta = live, proposed, False
        return whole


def replay_case(
    events: list[dict[str, Any]], proposed: Proposed, tally: Tally, horizon: datetime
) -> CaseOutcome | None:
    """Replay one case's whole log into ``tally`` (None: not raised in the tally's range)."""
    if not events or events[0]["type"] != "WhistleRaised" or events[0]["seq"] != 1:
        tally.skipped += 1
        return None
    if not tally.in_range(datetime.fromisoformat(events[0]["occurred_at"])):
        return None
    replay = CaseReplay(events[0]["case_id"], proposed, horizon)
    for event in events:
        replay.feed(event)
    outcome = replay.finish()
    tally.events += len(events)
    tally.add(outcome)
    return outcome

"""SLA policies as data: clock budgets per urgency class, the escalation ladder, clock reports."""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import get_args

from pydantic import Field

from whistle.domain.base import Frozen
from whistle.domain.calendar import BusinessCalendar, calendar_in_force
from whistle.domain.prevalidated import builder
from whistle.domain.state import Clock
from whistle.domain.types import ClockKind, ClockMode, EscalationStep, Tier, Urgency
from whistle.domain.values import ClockPlan, LadderRung

CLOCK_ORDER: tuple[ClockKind, ...] = ("ack", "contact", "joint_action", "resolve")
CLOCK_KINDS = frozenset(get_args(ClockKind))
CLOCK_MODES = frozenset(get_args(ClockMode))
MAX_RUNGS = 20
ZERO = timedelta(0)


class ClockSpec(Frozen):
    """How long a clock may run and how its time is counted."""

    within: timedelta = Field(gt=timedelta(0))
    mode: ClockMode = "calendar"


class EscalationSpec(Frozen):
    """One rung of the ladder as configured: first fires ``after`` the breach, then repeats."""

    step: EscalationStep
    tier: Tier
    after: timedelta = Field(ge=timedelta(0))
    repeat_every: timedelta | None = Field(default=None, gt=timedelta(0))
    repeats: int = Field(default=0, ge=0)


class SlaPolicy(Frozen):
    """Clock budgets per urgency class and the escalation ladder."""

    name: str
    description: str = ""
    clocks: dict[Urgency, dict[ClockKind, ClockSpec]]
    escalation: tuple[EscalationSpec, ...] = ()

    def ladder(self) -> tuple[LadderRung, ...]:
        """The ladder flattened to rungs with their offsets after the due time, in order.

        Computed once per policy object (policies are immutable; every routing asks for it).
        """
        cached = _LADDERS.get(id(self))
        if cached is not None and cached[0] is self:
            return cached[1]
        rungs = self._flatten()
        if len(_LADDERS) > MAX_CACHED_LADDERS:
            _LADDERS.clear()
        _LADDERS[id(self)] = (self, rungs)
        return rungs

    def _flatten(self) -> tuple[LadderRung, ...]:
        rungs: list[LadderRung] = []
        for spec in self.escalation:
            rungs.append(LadderRung(step=spec.step, tier=spec.tier, after=spec.after))
            if spec.repeat_every is not None:
                for n in range(1, spec.repeats + 1):
                    after = spec.after + n * spec.repeat_every
                    rungs.append(LadderRung(step=spec.step, tier=spec.tier, after=after))
        rungs.sort(key=lambda r: r.after)
        return tuple(rungs[:MAX_RUNGS])


_LADDERS: dict[int, tuple[SlaPolicy, tuple[LadderRung, ...]]] = {}
"""id(policy) → (policy, its flattened ladder); the policy is kept so its id stays unique."""
MAX_CACHED_LADDERS = 256


def budget_of(spec: ClockSpec, calendar: BusinessCalendar) -> timedelta:
    """The clock budget; in working mode whole days count as working days."""
    if spec.mode == "calendar":
        return spec.within
    days = spec.within.days
    return days * calendar.working_day + (spec.within - timedelta(days=days))


def plan_clocks(
    policy: SlaPolicy,
    urgency: Urgency,
    lead: str,
    supporting: tuple[str, ...],
    start: datetime,
    calendar: BusinessCalendar | None = None,
) -> tuple[ClockPlan, ...]:
    """Every clock of a newly routed case: ack per department, the rest for the lead.

    The policy's clocks for ``urgency`` (kind, mode, budget) are looked up once per policy and
    calendar; each distinct due time is computed once and shared by the clocks that have it.
    """
    cal = calendar or calendar_in_force()
    specs = _clock_specs(policy, urgency, cal)
    if specs and (start.tzinfo is None or start.utcoffset() is None):
        raise ValueError("a clock needs a timezone-aware start")
    dues: dict[tuple[ClockMode, timedelta], datetime] = {}
    plans: list[ClockPlan] = []
    for kind, mode, budget in specs:
        due = dues.get((mode, budget))
        if due is None:
            due = dues[(mode, budget)] = cal.add(start, budget, mode)
        for dept in (lead, *supporting) if kind == "ack" else (lead,):
            plan = {
                "kind": kind,
                "department": dept,
                "mode": mode,
                "budget": budget,
                "started_at": start,
                "due_at": due,
            }
            plans.append(_new_plan(plan))
    return tuple(plans)


_new_plan = builder(ClockPlan)

ClockSpecs = tuple[tuple[ClockKind, ClockMode, timedelta], ...]
_SPECS: dict[tuple[int, str, int], tuple[SlaPolicy, BusinessCalendar, ClockSpecs]] = {}


def _clock_specs(policy: SlaPolicy, urgency: Urgency, cal: BusinessCalendar) -> ClockSpecs:
    """(kind, mode, budget) of the policy's clocks for ``urgency``, in clock order (memoised)."""
    key = (id(policy), urgency, id(cal))
    found = _SPECS.get(key)
    if found is not None and found[0] is policy and found[1] is cal:
        return found[2]
    specs = policy.clocks.get(urgency, {})
    result = tuple(
        (kind, spec.mode, budget_of(spec, cal))
        for kind in CLOCK_ORDER
        if (spec := specs.get(kind)) is not None
    )
    if len(_SPECS) > MAX_CACHED_LADDERS:
        _SPECS.clear()
    _SPECS[key] = (policy, cal, result)
    return result


def plan_clock(
    kind: ClockKind,
    department: str,
    mode: ClockMode,
    budget: timedelta,
    start: datetime,
    calendar: BusinessCalendar | None = None,
) -> ClockPlan:
    """One clock started at ``start`` with its due time on ``calendar``.

    Built without re-validation (``whistle.domain.prevalidated``); the checks validation
    would make on these values (a known kind and mode, an aware ``start``) are made here.
    """
    if kind not in CLOCK_KINDS or mode not in CLOCK_MODES:
        raise ValueError(f"unknown clock kind {kind!r} or mode {mode!r}")
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("a clock needs a timezone-aware start")
    cal = calendar or calendar_in_force()
    return _new_plan(
        {
            "kind": kind,
            "department": department,
            "mode": mode,
            "budget": budget,
            "started_at": start,
            "due_at": cal.add(start, budget, mode),
        }
    )


class ClockReport(Frozen):
    """A clock as a person sees it at one instant (like a Jira SLA cycle)."""

    key: str
    due_at: datetime
    elapsed: timedelta = Field(description="Counted time so far, pauses excluded.")
    remaining: timedelta = Field(description="Until due; negative when overdue.")
    paused: bool
    breached: bool
    met: bool


def clock_report(
    clock: Clock, now: datetime, calendar: BusinessCalendar | None = None
) -> ClockReport:
    """Elapsed (pauses excluded), remaining, paused and breached for ``clock`` at ``now``."""
    cal = calendar or calendar_in_force()
    end = clock.met_at or clock.paused_since or now
    elapsed = max(cal.between(clock.started_at, end, clock.mode) - clock.paused_total, ZERO)
    if end <= clock.due_at:
        remaining = cal.between(end, clock.due_at, clock.mode)
    else:
        remaining = -cal.between(clock.due_at, end, clock.mode)
    return ClockReport(
        key=clock.key,
        due_at=clock.due_at,
        elapsed=elapsed,
        remaining=remaining,
        paused=clock.paused,
        breached=clock.breached_at is not None or end > clock.due_at,
        met=clock.met_at is not None,
    )


def _parse_policies(data: dict[str, object]) -> dict[str, SlaPolicy]:
    raw = data.get("policies", {})
    assert isinstance(raw, dict)
    return {name: SlaPolicy(name=name, **body) for name, body in raw.items()}


@cache
def _packaged_policies() -> dict[str, SlaPolicy]:
    text = resources.files("whistle.data").joinpath("sla_policies.toml").read_text("utf-8")
    return _parse_policies(tomllib.loads(text))


def load_policies(path: Path | None = None) -> dict[str, SlaPolicy]:
    """SLA policies by name from ``path`` or the packaged ``sla_policies.toml``."""
    if path is None:
        return dict(_packaged_policies())
    return _parse_policies(tomllib.loads(path.read_text(encoding="utf-8")))

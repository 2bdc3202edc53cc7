"""Decisions at intake and its ends: raise (接), route (派), withdraw, mark duplicate."""

from __future__ import annotations

from whistle.domain.areas import known_area, known_department
from whistle.domain.base import Rejection
from whistle.domain.commands import (
    MarkDuplicate,
    RaiseWhistle,
    RouteCase,
    WithdrawCase,
)
from whistle.domain.decisions.base import (
    Ctx,
    Decision,
    decides,
    repeated,
    status_rejection,
    unfinished,
)
from whistle.domain.events import (
    CaseMarkedDuplicate,
    CaseRouted,
    CaseWithdrawn,
    WhistleRaised,
)
from whistle.domain.rejections import joined
from whistle.domain.state import CaseState
from whistle.domain.types import FINAL_STATUSES

_COPIED = tuple(
    name
    for name in RaiseWhistle.model_fields
    if name not in {"type", "command_id", "case_id", "actor"}
)
"""The whistle's own fields, which its event repeats (an unknown one would be refused)."""


@decides(RaiseWhistle)
def _raise(ctx: Ctx, s: CaseState | None, c: RaiseWhistle) -> Decision:
    if s is not None:
        return ctx.reject("case_exists", case_id=c.case_id)
    community = known_area(c.community)
    if community is None or community.kind not in ("community", "village"):
        return ctx.reject("unknown_area", area=c.community)
    if c.compound is not None:
        compound = known_area(c.compound)
        if compound is None or compound.parent != c.community:
            return ctx.reject("unknown_area", area=c.compound)
    if c.grid is not None and (wrong := _grid_rejection(ctx, c, c.grid)) is not None:
        return wrong
    return ctx.emit(WhistleRaised, **{name: getattr(c, name) for name in _COPIED})


def _grid_rejection(ctx: Ctx, c: RaiseWhistle, code: str) -> Rejection | None:
    """A rejection unless ``code`` is a grid of the whistle's compound (or community)."""
    grid = known_area(code)
    if grid is None or grid.kind != "grid":
        return ctx.reject("unknown_grid", grid=code, area=c.compound or c.community)
    place = c.compound or c.community
    if grid.parent != place:
        return ctx.reject("unknown_grid", grid=code, area=place)
    return None


@decides(RouteCase)
def _route(ctx: Ctx, s: CaseState, c: RouteCase) -> Decision:
    if s.status != "raised":
        if s.status in FINAL_STATUSES:
            return status_rejection(ctx, s) or []
        return ctx.reject("already_routed", department=s.lead or "")
    departments = (c.lead, *c.supporting)
    unknown = [d for d in departments if not known_department(d)]
    if unknown:
        return ctx.reject("unknown_department", departments=joined(unknown))
    twice = repeated(departments)
    if twice:
        return ctx.reject("invalid_routing", departments=joined(twice))
    strays = [p.department for p in c.clocks if p.department not in departments]
    if strays:
        return ctx.reject("invalid_routing", departments=joined(dict.fromkeys(strays)))
    return ctx.emit(
        CaseRouted,
        lead=c.lead,
        supporting=c.supporting,
        rule_id=c.rule_id,
        rules_version=c.rules_version,
        policy=c.policy,
        clocks=c.clocks,
        escalation=c.escalation,
        policy_version=c.policy_version,
    )


@decides(WithdrawCase)
def _withdraw(ctx: Ctx, s: CaseState, c: WithdrawCase) -> Decision:
    return unfinished(ctx, s) or ctx.emit(CaseWithdrawn, reason=c.reason)


@decides(MarkDuplicate)
def _duplicate(ctx: Ctx, s: CaseState, c: MarkDuplicate) -> Decision:
    if c.original_case_id == s.case_id:
        return ctx.reject("self_duplicate")
    return unfinished(ctx, s) or ctx.emit(CaseMarkedDuplicate, original_case_id=c.original_case_id)

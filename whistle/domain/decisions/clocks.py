"""Decisions about clocks: extensions (延期), pause and resume, breaches and escalation."""

from __future__ import annotations

from datetime import datetime, timedelta

from whistle.domain.base import Rejection
from whistle.domain.commands import (
    BreachClock,
    Escalate,
    GrantExtension,
    PauseClock,
    RefuseExtension,
    RequestExtension,
    ResumeClock,
)
from whistle.domain.decisions.base import (
    OPEN,
    Ctx,
    Decision,
    decides,
    status_rejection,
    unfinished,
    working_assignment,
)
from whistle.domain.events import (
    CaseEscalated,
    ClockBreached,
    ClockPaused,
    ClockResumed,
    ExtensionGranted,
    ExtensionRefused,
    ExtensionRequested,
)
from whistle.domain.state import CaseState, Clock


@decides(RequestExtension)
def _request_extension(ctx: Ctx, s: CaseState, c: RequestExtension) -> Decision:
    found = working_assignment(ctx, s, c.department)
    if isinstance(found, Rejection):
        return found
    key = f"{c.clock}:{c.department}"
    clock = s.clocks.get(key)
    if clock is None:
        return ctx.reject("clock_not_found", clock=key)
    if clock.met_at is not None:
        return ctx.reject("clock_met", clock=key)
    if clock.breached_at is not None or ctx.now > clock.due_at:
        return ctx.reject("extension_after_deadline", clock=key)
    if clock.extension_requested_until is not None:
        return ctx.reject("extension_pending", clock=key)
    if c.until <= clock.due_at:
        return ctx.reject("extension_not_later", due_at=clock.due_at.isoformat())
    return ctx.emit(
        ExtensionRequested,
        clock_key=key,
        department=c.department,
        clock=c.clock,
        current_due_at=clock.due_at,
        requested_due_at=c.until,
        reason=c.reason,
    )


def _pending_extension(ctx: Ctx, s: CaseState, key: str) -> Clock | Rejection:
    bad = status_rejection(ctx, s)
    if bad is not None:
        return bad
    clock = s.clocks.get(key)
    if clock is None or clock.extension_requested_until is None:
        return ctx.reject("no_extension_request", clock=key)
    return clock


@decides(GrantExtension)
def _grant(ctx: Ctx, s: CaseState, c: GrantExtension) -> Decision:
    clock = _pending_extension(ctx, s, c.clock_key)
    if isinstance(clock, Rejection):
        return clock
    until = c.until or clock.extension_requested_until or clock.due_at
    if until <= clock.due_at:
        return ctx.reject("extension_not_later", due_at=clock.due_at.isoformat())
    return ctx.emit(
        ExtensionGranted,
        clock_key=c.clock_key,
        previous_due_at=clock.due_at,
        due_at=until,
        note=c.note,
    )


@decides(RefuseExtension)
def _refuse(ctx: Ctx, s: CaseState, c: RefuseExtension) -> Decision:
    clock = _pending_extension(ctx, s, c.clock_key)
    if isinstance(clock, Rejection):
        return clock
    return ctx.emit(ExtensionRefused, clock_key=c.clock_key, reason=c.reason)


def _pick_clocks(
    ctx: Ctx, s: CaseState, keys: tuple[str, ...], want_paused: bool
) -> list[Clock] | Rejection:
    if not keys:
        return [k for k in s.clocks.values() if k.met_at is None and k.paused == want_paused]
    picked = []
    for key in keys:
        clock = s.clocks.get(key)
        if clock is None:
            return ctx.reject("clock_not_found", clock=key)
        if clock.met_at is not None or clock.paused != want_paused:
            return ctx.reject("clock_not_paused" if want_paused else "clock_not_running", clock=key)
        picked.append(clock)
    return picked


@decides(PauseClock)
def _pause(ctx: Ctx, s: CaseState, c: PauseClock) -> Decision:
    bad = status_rejection(ctx, s)
    if bad is not None:
        return bad
    clocks = _pick_clocks(ctx, s, c.clock_keys, want_paused=False)
    if isinstance(clocks, Rejection):
        return clocks
    if not clocks:
        return ctx.reject("no_running_clock")
    return ctx.emit(ClockPaused, clock_keys=tuple(k.key for k in clocks), reason=c.reason)


@decides(ResumeClock)
def _resume(ctx: Ctx, s: CaseState, c: ResumeClock) -> Decision:
    bad = status_rejection(ctx, s)
    if bad is not None:
        return bad
    clocks = _pick_clocks(ctx, s, c.clock_keys, want_paused=True)
    if isinstance(clocks, Rejection):
        return clocks
    if not clocks:
        return ctx.reject("no_paused_clock")
    due: dict[str, datetime] = {}
    paused: dict[str, timedelta] = {}
    for k in clocks:
        since = k.paused_since or ctx.now
        paused[k.key] = ctx.calendar.between(since, ctx.now, k.mode)
        due[k.key] = ctx.calendar.add(k.due_at, paused[k.key], k.mode)
    return ctx.emit(
        ClockResumed,
        clock_keys=tuple(k.key for k in clocks),
        due_at=due,
        paused_for=paused,
        note=c.note,
    )


@decides(BreachClock)
def _breach(ctx: Ctx, s: CaseState, c: BreachClock) -> Decision:
    clock = s.clocks.get(c.clock_key)
    if (
        s.status not in OPEN
        or clock is None
        or clock.met_at is not None
        or clock.paused
        or clock.breached_at is not None
        or clock.due_at > c.fired_at
    ):
        return []
    return ctx.emit(
        ClockBreached,
        clock_key=clock.key,
        kind=clock.kind,
        department=clock.department,
        due_at=clock.due_at,
        lateness=c.fired_at - clock.due_at,
    )


@decides(Escalate)
def _escalate(ctx: Ctx, s: CaseState, c: Escalate) -> Decision:
    if c.level is not None:
        return _ladder_step(ctx, s, c)
    bad = unfinished(ctx, s)
    if bad is not None:
        return bad
    department = None
    if c.clock_key is not None:
        clock = s.clocks.get(c.clock_key)
        if clock is None:
            return ctx.reject("clock_not_found", clock=c.clock_key)
        department = clock.department
    return ctx.emit(
        CaseEscalated,
        step=c.step,
        tier=c.tier,
        reason=c.reason,
        clock_key=c.clock_key,
        department=department,
        automatic=False,
    )


def _ladder_step(ctx: Ctx, s: CaseState, c: Escalate) -> Decision:
    """System escalation along the policy ladder; stale or early firings are ignored."""
    if ctx.command.actor.role != "system":
        role = ctx.command.actor.role
        return ctx.reject("role_not_allowed", role=role, command=c.type, allowed="system")
    clock = s.clocks.get(c.clock_key or "")
    level = c.level or 0
    if (
        s.status not in OPEN
        or clock is None
        or clock.met_at is not None
        or clock.paused
        or clock.breached_at is None
        or level != clock.escalation_level + 1
        or level > len(s.escalation_ladder)
    ):
        return []
    rung = s.escalation_ladder[level - 1]
    due = clock.due_at + rung.after
    fired = c.fired_at or ctx.now
    if due > fired:
        return []
    return ctx.emit(
        CaseEscalated,
        step=rung.step,
        tier=rung.tier,
        reason=c.reason or f"{clock.key} overdue since {clock.due_at.isoformat()}",
        clock_key=clock.key,
        department=clock.department,
        level=level,
        automatic=True,
        lateness=fired - due,
    )

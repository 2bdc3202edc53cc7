"""``evolve``: apply one event to the case state; ``fold``: rebuild a state from its events.

Events are validated facts and the state is a plain frozen record (``whistle.domain.state``),
so states are derived with ``msgspec.structs.replace``: a copy with some fields changed, no
re-validation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from msgspec.structs import replace

from whistle.domain.areas import district_of, street_of
from whistle.domain.base import Event
from whistle.domain.events import (
    AssignmentDisputed,
    CallbackRecorded,
    CaseClosed,
    CaseEscalated,
    CaseMarkedDuplicate,
    CasePublished,
    CaseReopened,
    CaseResolved,
    CaseRouted,
    CaseWithdrawn,
    ClockBreached,
    ClockPaused,
    ClockResumed,
    DepartmentAcknowledged,
    DepartmentCompleted,
    DepartmentReportedIn,
    DisputeRuled,
    ExtensionGranted,
    ExtensionRefused,
    ExtensionRequested,
    JointActionScheduled,
    ProgressReported,
    RequesterContacted,
    WhistleRaised,
)
from whistle.domain.state import Assignment, Callback, CaseState, Clock, JointAction, Rung
from whistle.domain.types import TIER_ORDER
from whistle.domain.values import ClockPlan

Updates = dict[str, Any]
ZERO = timedelta(0)


class EvolveError(ValueError):
    """An event that cannot follow the state (wrong case, sequence gap, no case yet)."""


Handler = Callable[[CaseState, Any], Updates]

HANDLERS: dict[str, Handler] = {}
"""Event type → how it changes an existing case, filled by ``@evolves`` beside each handler.

``WhistleRaised`` is not here: it starts a case (``CREATES_CASE``)."""

CREATES_CASE = WhistleRaised
"""The event that starts a case's state."""


def evolves(event: type[Event]) -> Callable[[Handler], Handler]:
    """Register the decorated function as the ``evolve`` handler of ``event``."""
    name = event.__name__

    def register(fn: Handler) -> Handler:
        if name in HANDLERS:
            raise TypeError(f"{name} has two evolve handlers")
        HANDLERS[name] = fn
        return fn

    return register


def clock_from_plan(plan: ClockPlan, generation: int = 0) -> Clock:
    """A fresh running clock from its routed plan."""
    return Clock(
        key=f"{plan.kind}:{plan.department}",
        kind=plan.kind,
        department=plan.department,
        mode=plan.mode,
        budget=plan.budget,
        started_at=plan.started_at,
        due_at=plan.due_at,
        generation=generation,
    )


def _meet(clocks: dict[str, Clock], keys: Iterable[str], at: datetime) -> dict[str, Clock]:
    """Clocks with ``keys`` marked met at ``at`` (unknown or already met keys are skipped)."""
    changed: dict[str, Clock] | None = None
    for key in keys:
        clock = clocks.get(key)
        if clock is None or clock.met_at is not None:
            continue
        if changed is None:
            changed = dict(clocks)
        changed[key] = replace(clock, met_at=at, paused_since=None)
    return clocks if changed is None else changed


def _kind_keys(state: CaseState, kind: str) -> list[str]:
    return [k for k, c in state.clocks.items() if c.kind == kind]


def _assign(state: CaseState, department: str, **update: Any) -> dict[str, Assignment]:
    assignments = dict(state.assignments)
    assignments[department] = replace(assignments[department], **update)
    return assignments


@evolves(CaseRouted)
def _routed(s: CaseState, e: CaseRouted) -> Updates:
    at = e.occurred_at
    assignments = {e.lead: Assignment(department=e.lead, role="lead", assigned_at=at)}
    for dept in e.supporting:
        assignments[dept] = Assignment(department=dept, role="supporting", assigned_at=at)
    return {
        "status": "routed",
        "lead": e.lead,
        "supporting": e.supporting,
        "assignments": assignments,
        "clocks": {clock.key: clock for clock in map(clock_from_plan, e.clocks)},
        "rule_id": e.rule_id,
        "rules_version": e.rules_version,
        "policy": e.policy,
        "escalation_ladder": tuple(
            Rung(step=r.step, tier=r.tier, after=r.after) for r in e.escalation
        ),
        "routed_at": at,
    }


@evolves(DepartmentAcknowledged)
def _acknowledged(s: CaseState, e: DepartmentAcknowledged) -> Updates:
    updates: Updates = {
        "assignments": _assign(s, e.department, acknowledged_at=e.occurred_at),
        "clocks": _meet(s.clocks, [f"ack:{e.department}"], e.occurred_at),
    }
    if e.department == s.lead and s.status == "routed":
        updates["status"] = "in_progress"
    return updates


@evolves(AssignmentDisputed)
def _disputed(s: CaseState, e: AssignmentDisputed) -> Updates:
    current = s.assignments[e.department]
    return {
        "assignments": _assign(
            s, e.department, disputed=True, dispute_reason=e.reason, disputes=current.disputes + 1
        )
    }


@evolves(DisputeRuled)
def _ruled(s: CaseState, e: DisputeRuled) -> Updates:
    if e.outcome == "uphold" or e.new_department is None:
        return {"assignments": _assign(s, e.department, disputed=False)}
    old, new = e.department, e.new_department
    role = s.assignments[old].role
    assignments = {
        (new if d == old else d): (
            Assignment(department=new, role=role, assigned_at=e.occurred_at) if d == old else a
        )
        for d, a in s.assignments.items()
    }
    clocks: dict[str, Clock] = {}
    for key, clock in s.clocks.items():
        if clock.department != old:
            clocks[key] = clock
        elif clock.kind != "ack":
            moved = f"{clock.kind}:{new}"
            clocks[moved] = replace(clock, key=moved, department=new)
    for plan in e.clocks:
        clocks[plan.key] = clock_from_plan(plan)
    return {
        "assignments": assignments,
        "clocks": clocks,
        "lead": new if s.lead == old else s.lead,
        "supporting": tuple(new if d == old else d for d in s.supporting),
    }


@evolves(RequesterContacted)
def _contacted(s: CaseState, e: RequesterContacted) -> Updates:
    if s.assignments[e.department].contacted_at is not None:
        return {}
    return {
        "assignments": _assign(s, e.department, contacted_at=e.occurred_at),
        "clocks": _meet(s.clocks, [f"contact:{e.department}"], e.occurred_at),
    }


@evolves(JointActionScheduled)
def _joint_action(s: CaseState, e: JointActionScheduled) -> Updates:
    action = JointAction(
        action_id=e.action_id,
        at=e.at,
        place=e.place,
        departments=e.departments,
        round=s.reopen_count,
    )
    return {"joint_actions": (*s.joint_actions, action)}


@evolves(DepartmentReportedIn)
def _reported_in(s: CaseState, e: DepartmentReportedIn) -> Updates:
    """报到 recorded on its joint action; once the action is assembled its clock is met."""
    actions = tuple(
        replace(a, reported_in={**a.reported_in, e.department: e.occurred_at})
        if a.action_id == e.action_id
        else a
        for a in s.joint_actions
    )
    updates: Updates = {"joint_actions": actions}
    if e.assembled:
        updates["clocks"] = _meet(s.clocks, _kind_keys(s, "joint_action"), e.occurred_at)
    return updates


@evolves(ProgressReported)
def _progress(s: CaseState, e: ProgressReported) -> Updates:
    return {}


@evolves(DepartmentCompleted)
def _completed(s: CaseState, e: DepartmentCompleted) -> Updates:
    return {"assignments": _assign(s, e.department, completed_at=e.occurred_at)}


@evolves(CaseResolved)
def _resolved(s: CaseState, e: CaseResolved) -> Updates:
    assignments = s.assignments
    if assignments[e.department].completed_at is None:
        assignments = _assign(s, e.department, completed_at=e.occurred_at)
    return {
        "status": "resolved",
        "resolved_at": e.occurred_at,
        "outcome": e.outcome,
        "assignments": assignments,
        "clocks": _meet(s.clocks, _kind_keys(s, "resolve"), e.occurred_at),
    }


@evolves(CallbackRecorded)
def _callback(s: CaseState, e: CallbackRecorded) -> Updates:
    verdict = Callback(
        at=e.occurred_at,
        solved=e.solved,
        satisfied=e.satisfied,
        score=e.score,
        fault=e.fault,
    )
    return {"callbacks": s.callbacks + 1, "last_callback": verdict}


@evolves(CaseReopened)
def _reopened(s: CaseState, e: CaseReopened) -> Updates:
    clocks = dict(s.clocks)
    for plan in e.clocks:
        previous = clocks.get(plan.key)
        clocks[plan.key] = clock_from_plan(plan, 0 if previous is None else previous.generation + 1)
    assignments = {d: replace(a, completed_at=None) for d, a in s.assignments.items()}
    return {
        "status": "in_progress",
        "reopen_count": e.reopen_count,
        "resolved_at": None,
        "outcome": None,
        "closed_at": None,
        "assignments": assignments,
        "clocks": clocks,
    }


@evolves(CaseClosed)
def _closed(s: CaseState, e: CaseClosed) -> Updates:
    return {"status": "closed", "closed_at": e.occurred_at}


@evolves(CaseWithdrawn)
def _withdrawn(s: CaseState, e: CaseWithdrawn) -> Updates:
    return {"status": "withdrawn", "closed_at": e.occurred_at}


@evolves(CaseMarkedDuplicate)
def _duplicate(s: CaseState, e: CaseMarkedDuplicate) -> Updates:
    return {"status": "duplicate", "duplicate_of": e.original_case_id, "closed_at": e.occurred_at}


def _update_clock(s: CaseState, key: str, **update: Any) -> dict[str, dict[str, Clock]]:
    clocks = dict(s.clocks)
    clocks[key] = replace(clocks[key], **update)
    return {"clocks": clocks}


@evolves(ExtensionRequested)
def _ext_requested(s: CaseState, e: ExtensionRequested) -> Updates:
    return _update_clock(s, e.clock_key, extension_requested_until=e.requested_due_at)


@evolves(ExtensionGranted)
def _ext_granted(s: CaseState, e: ExtensionGranted) -> Updates:
    clock = s.clocks[e.clock_key]
    return _update_clock(
        s,
        e.clock_key,
        due_at=e.due_at,
        breached_at=None,
        escalation_level=0,
        generation=clock.generation + 1,
        extension_requested_until=None,
    )


@evolves(ExtensionRefused)
def _ext_refused(s: CaseState, e: ExtensionRefused) -> Updates:
    return _update_clock(s, e.clock_key, extension_requested_until=None)


@evolves(ClockPaused)
def _paused(s: CaseState, e: ClockPaused) -> Updates:
    clocks = dict(s.clocks)
    for key in e.clock_keys:
        clocks[key] = replace(clocks[key], paused_since=e.occurred_at)
    return {"clocks": clocks}


@evolves(ClockResumed)
def _resumed(s: CaseState, e: ClockResumed) -> Updates:
    clocks = dict(s.clocks)
    for key in e.clock_keys:
        clock = clocks[key]
        clocks[key] = replace(
            clock,
            paused_since=None,
            paused_total=clock.paused_total + e.paused_for.get(key, ZERO),
            due_at=e.due_at.get(key, clock.due_at),
            generation=clock.generation + 1,
        )
    return {"clocks": clocks}


@evolves(ClockBreached)
def _breached(s: CaseState, e: ClockBreached) -> Updates:
    return _update_clock(s, e.clock_key, breached_at=e.occurred_at)


@evolves(CaseEscalated)
def _escalated(s: CaseState, e: CaseEscalated) -> Updates:
    tier = e.tier
    if s.escalation_tier is not None and TIER_ORDER[s.escalation_tier] > TIER_ORDER[tier]:
        tier = s.escalation_tier
    updates: Updates = {"escalations": s.escalations + 1, "escalation_tier": tier}
    if e.automatic and e.clock_key is not None and e.level is not None:
        updates.update(_update_clock(s, e.clock_key, escalation_level=e.level))
    return updates


@evolves(CasePublished)
def _published(s: CaseState, e: CasePublished) -> Updates:
    return {"published_at": e.occurred_at}


def _new_case(e: WhistleRaised) -> CaseState:
    return CaseState(
        case_id=e.case_id,
        seq=e.seq,
        status="raised",
        raised_at=e.occurred_at,
        community=e.community,
        compound=e.compound,
        grid=e.grid,
        street=street_of(e.community),
        district=district_of(e.community),
        category=e.category,
        urgency=e.urgency,
        channel=e.channel,
        title=e.title,
        applied_command_ids=frozenset((e.command_id,)),
    )


def evolve(state: CaseState | None, event: Event) -> CaseState:
    """The state after ``event``; raises ``EvolveError`` if the event cannot follow ``state``."""
    if state is None:
        if not isinstance(event, WhistleRaised) or event.seq != 1:
            raise EvolveError(f"a case starts with WhistleRaised seq 1, got {event.type}")
        return _new_case(event)
    if event.seq != state.seq + 1 or event.case_id != state.case_id:
        raise EvolveError(
            f"{event.type} seq {event.seq} of {event.case_id} cannot follow "
            f"seq {state.seq} of {state.case_id}"
        )
    handler = HANDLERS.get(event.type)
    if handler is None:
        raise EvolveError(f"{event.type} cannot happen to an existing case")
    updates = handler(state, event)
    updates["seq"] = event.seq
    applied = state.applied_command_ids
    if event.command_id not in applied:
        updates["applied_command_ids"] = applied | {event.command_id}
    return replace(state, **updates)


def fold(events: Iterable[Event], state: CaseState | None = None) -> CaseState | None:
    """Apply ``events`` in order to ``state`` (None: rebuild from the first event).

    Same result as calling ``evolve`` per event, but cheaper for long cases: the applied command
    ids are gathered once at the end, and events that change nothing but the sequence number
    (progress notes) do not copy the state — no handler reads ``seq``.
    """
    seen: set[str] = set()
    seq = 0 if state is None else state.seq
    for event in events:
        if state is None:
            state = evolve(None, event)
            seq = state.seq
            continue
        if event.seq != seq + 1 or event.case_id != state.case_id:
            evolve(replace(state, seq=seq), event)  # raises the EvolveError
        handler = HANDLERS.get(event.type)
        if handler is None:
            evolve(replace(state, seq=seq), event)  # raises the EvolveError
            raise AssertionError("unreachable")  # pragma: no cover
        seq = event.seq
        updates = handler(state, event)
        if updates:
            updates["seq"] = seq
            state = replace(state, **updates)
        seen.add(event.command_id)
    if state is None:
        return None
    final: Updates = {}
    if state.seq != seq:
        final["seq"] = seq
    if not seen <= state.applied_command_ids:
        final["applied_command_ids"] = state.applied_command_ids | seen
    return replace(state, **final) if final else state

"""``decide``: the one place that turns a command on a case into events or a rejection.

Pure: time is passed in; the only data read are the packaged registries and calendar.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from whistle.domain.areas import known_area, known_department
from whistle.domain.authz import authorize
from whistle.domain.base import Command, Event, Rejection, event_id_for
from whistle.domain.calendar import BusinessCalendar, default_calendar
from whistle.domain.commands import (
    Acknowledge,
    BreachClock,
    CloseCase,
    ContactRequester,
    DisputeAssignment,
    Escalate,
    GrantExtension,
    MarkDuplicate,
    PauseClock,
    PublishCase,
    RaiseWhistle,
    RecordCallback,
    RefuseExtension,
    ReopenCase,
    ReportCompletion,
    ReportProgress,
    RequestExtension,
    ResolveCase,
    ResumeClock,
    RouteCase,
    RuleOnDispute,
    ScheduleJointAction,
    WithdrawCase,
)
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
    DisputeRuled,
    ExtensionGranted,
    ExtensionRefused,
    ExtensionRequested,
    JointActionScheduled,
    ProgressReported,
    RequesterContacted,
    WhistleRaised,
)
from whistle.domain.fast import construct_from
from whistle.domain.sla import plan_clock
from whistle.domain.state import Assignment, CaseState, Clock
from whistle.domain.types import FINAL_STATUSES
from whistle.domain.values import ClockPlan

Decision = list[Event] | Rejection
OPEN = frozenset({"routed", "in_progress"})
CALENDAR = default_calendar()


class Ctx:
    """The command being decided, its state and time; builds events and rejections."""

    __slots__ = ("calendar", "command", "now", "state")

    def __init__(self, state: CaseState | None, command: Command, now: datetime) -> None:
        self.state = state
        self.command = command
        self.now = now
        self.calendar: BusinessCalendar = CALENDAR

    def emit(self, cls: type[Event], **fields: Any) -> list[Event]:
        """One event of ``cls`` with the next sequence number and the command's envelope."""
        seq = 1 if self.state is None else self.state.seq + 1
        command = self.command
        command_id = command.command_id
        envelope = {
            "event_id": event_id_for(command_id, seq),
            "case_id": command.case_id,
            "seq": seq,
            "occurred_at": self.now,
            "actor": command.actor,
            "command_id": command_id,
        }
        return [construct_from(cls, envelope, fields)]

    def reject(self, code: str, message: str) -> Rejection:
        """A rejection with a stable ``code`` and a message a person can act on."""
        return Rejection(
            code=code,
            message=message,
            command_id=self.command.command_id,
            case_id=self.command.case_id,
        )


def _status_rejection(ctx: Ctx, s: CaseState) -> Rejection | None:
    """Rejection unless the case is routed and not yet resolved."""
    if s.status in OPEN:
        return None
    if s.status == "raised":
        return ctx.reject("not_routed", "The case has not been routed to any department yet.")
    if s.status == "resolved":
        return ctx.reject("case_resolved", "The case is already resolved (办结).")
    return ctx.reject("case_finished", f"The case is {s.status}; nothing more can be done.")


def _assignment(ctx: Ctx, s: CaseState, department: str) -> Assignment | Rejection:
    found = s.assignments.get(department)
    if found is None:
        return ctx.reject(
            "not_routed_to_department",
            f"The case is not routed to {department!r}; routed to: {', '.join(s.assignments)}.",
        )
    return found


def _working_assignment(ctx: Ctx, s: CaseState, department: str) -> Assignment | Rejection:
    """An open case's assignment that the department has acknowledged."""
    bad = _status_rejection(ctx, s)
    if bad is not None:
        return bad
    found = _assignment(ctx, s, department)
    if isinstance(found, Assignment) and found.acknowledged_at is None:
        return ctx.reject("not_acknowledged", f"{department!r} must acknowledge (签收) first.")
    return found


def _raise(ctx: Ctx, s: CaseState | None, c: RaiseWhistle) -> Decision:
    if s is not None:
        return ctx.reject("case_exists", f"Case {c.case_id} already exists.")
    community = known_area(c.community)
    if community is None or community.kind not in ("community", "village"):
        return ctx.reject("unknown_area", f"{c.community!r} is not a known community.")
    if c.compound is not None:
        compound = known_area(c.compound)
        if compound is None or compound.parent != c.community:
            return ctx.reject(
                "unknown_area", f"{c.compound!r} is not a compound of {c.community!r}."
            )
    fields = c.model_dump(exclude={"type", "command_id", "case_id", "actor"})
    fields.update(location=c.location, requester=c.requester)
    return ctx.emit(WhistleRaised, **fields)


def _route(ctx: Ctx, s: CaseState, c: RouteCase) -> Decision:
    if s.status != "raised":
        if s.status in FINAL_STATUSES:
            return _status_rejection(ctx, s) or []
        return ctx.reject("already_routed", f"The case is already routed to {s.lead!r}.")
    departments = (c.lead, *c.supporting)
    unknown = [d for d in departments if not known_department(d)]
    if unknown:
        return ctx.reject("unknown_department", f"Unknown department(s): {', '.join(unknown)}.")
    if len(set(departments)) != len(departments):
        return ctx.reject("invalid_routing", "A department appears twice in the routing.")
    strays = [p.key for p in c.clocks if p.department not in departments]
    if strays:
        return ctx.reject("invalid_routing", f"Clocks for unassigned departments: {strays}.")
    return ctx.emit(
        CaseRouted,
        lead=c.lead,
        supporting=c.supporting,
        rule_id=c.rule_id,
        rules_version=c.rules_version,
        policy=c.policy,
        clocks=c.clocks,
        escalation=c.escalation,
    )


def _acknowledge(ctx: Ctx, s: CaseState, c: Acknowledge) -> Decision:
    bad = _status_rejection(ctx, s)
    if bad is not None:
        return bad
    found = _assignment(ctx, s, c.department)
    if isinstance(found, Rejection):
        return found
    if found.acknowledged_at is not None:
        return []
    clock = s.clocks.get(f"ack:{c.department}")
    within = None if clock is None else ctx.now <= clock.due_at
    return ctx.emit(DepartmentAcknowledged, department=c.department, within_deadline=within)


def _dispute(ctx: Ctx, s: CaseState, c: DisputeAssignment) -> Decision:
    bad = _status_rejection(ctx, s)
    if bad is not None:
        return bad
    found = _assignment(ctx, s, c.department)
    if isinstance(found, Rejection):
        return found
    if found.disputed:
        return ctx.reject("dispute_pending", "Your earlier dispute (退单) awaits a ruling.")
    if found.completed_at is not None:
        return ctx.reject("assignment_completed", "You already reported your part completed.")
    return ctx.emit(AssignmentDisputed, department=c.department, reason=c.reason, text=c.text)


def _rule(ctx: Ctx, s: CaseState, c: RuleOnDispute) -> Decision:
    bad = _status_rejection(ctx, s)
    if bad is not None:
        return bad
    found = s.assignments.get(c.department)
    if found is None or not found.disputed:
        return ctx.reject("no_open_dispute", f"{c.department!r} has no open dispute to rule on.")
    new = c.new_department
    plans: tuple[ClockPlan, ...] = ()
    if new is not None:
        if not known_department(new):
            return ctx.reject("unknown_department", f"Unknown department {new!r}.")
        if new in s.assignments:
            return ctx.reject(
                "department_already_assigned", f"{new!r} is already assigned to this case."
            )
        ack = s.clocks.get(f"ack:{c.department}")
        if ack is not None:
            plans = (plan_clock("ack", new, ack.mode, ack.budget, ctx.now, ctx.calendar),)
    return ctx.emit(
        DisputeRuled,
        department=c.department,
        outcome=c.outcome,
        new_department=new,
        reason=c.reason,
        clocks=plans,
    )


def _contact(ctx: Ctx, s: CaseState, c: ContactRequester) -> Decision:
    found = _working_assignment(ctx, s, c.department)
    if isinstance(found, Rejection):
        return found
    return ctx.emit(RequesterContacted, department=c.department, channel=c.channel, note=c.note)


def _joint_action(ctx: Ctx, s: CaseState, c: ScheduleJointAction) -> Decision:
    bad = _status_rejection(ctx, s)
    if bad is not None:
        return bad
    missing = [d for d in c.departments if d not in s.assignments]
    if missing:
        return ctx.reject(
            "not_routed_to_department",
            f"Joint action names departments not on the case: {', '.join(missing)}.",
        )
    if len(set(c.departments)) != len(c.departments):
        return ctx.reject("invalid_joint_action", "A department appears twice.")
    return ctx.emit(
        JointActionScheduled,
        action_id=f"ja-{len(s.joint_actions) + 1}",
        at=c.at,
        place=c.place,
        departments=c.departments,
        note=c.note,
    )


def _progress(ctx: Ctx, s: CaseState, c: ReportProgress) -> Decision:
    found = _working_assignment(ctx, s, c.department)
    if isinstance(found, Rejection):
        return found
    if c.action_id is not None and all(a.action_id != c.action_id for a in s.joint_actions):
        return ctx.reject("unknown_joint_action", f"No joint action {c.action_id!r}.")
    return ctx.emit(ProgressReported, department=c.department, note=c.note, action_id=c.action_id)


def _completion(ctx: Ctx, s: CaseState, c: ReportCompletion) -> Decision:
    found = _working_assignment(ctx, s, c.department)
    if isinstance(found, Rejection):
        return found
    if found.completed_at is not None:
        return ctx.reject("already_completed", f"{c.department!r} already reported completion.")
    if found.disputed:
        return ctx.reject("dispute_pending", "Your dispute (退单) awaits a ruling.")
    return ctx.emit(DepartmentCompleted, department=c.department, summary=c.summary)


def _resolve(ctx: Ctx, s: CaseState, c: ResolveCase) -> Decision:
    bad = _status_rejection(ctx, s)
    if bad is not None:
        return bad
    lead = s.lead or ""
    if s.assignments[lead].acknowledged_at is None:
        return ctx.reject("not_acknowledged", f"The lead {lead!r} must acknowledge first.")
    if s.assignments[lead].disputed:
        return ctx.reject("dispute_pending", f"The lead's dispute awaits a ruling ({lead!r}).")
    waiting = sorted(
        d
        for d in s.joint_action_departments()
        if d != lead and s.assignments[d].completed_at is None
    )
    if waiting:
        return ctx.reject(
            "joint_action_incomplete",
            f"Joint-action departments have not reported completion: {', '.join(waiting)}.",
        )
    return ctx.emit(CaseResolved, department=lead, outcome=c.outcome, summary=c.summary)


def _callback(ctx: Ctx, s: CaseState, c: RecordCallback) -> Decision:
    if s.status in FINAL_STATUSES:
        return _status_rejection(ctx, s) or []
    if s.status != "resolved":
        return ctx.reject(
            "callback_before_resolution", "A callback (回访) comes after the case is resolved."
        )
    return ctx.emit(
        CallbackRecorded,
        solved=c.solved,
        satisfied=c.satisfied,
        score=c.score,
        comment=c.comment,
        fault=c.fault,
    )


def _reopen(ctx: Ctx, s: CaseState, c: ReopenCase) -> Decision:
    if s.status not in ("resolved", "closed"):
        if s.status in ("withdrawn", "duplicate"):
            return _status_rejection(ctx, s) or []
        return ctx.reject("not_resolved", "Only a resolved or closed case can be reopened.")
    verdict = s.last_callback
    if verdict is None:
        return ctx.reject("callback_missing", "Record the callback (回访) before reopening.")
    if (verdict.solved and verdict.satisfied) or verdict.fault in ("requester", "external"):
        return ctx.reject(
            "reopen_not_warranted",
            "The callback found the case solved and satisfying, or not the department's fault.",
        )
    plans = tuple(
        plan_clock("resolve", k.department, k.mode, k.budget, ctx.now, ctx.calendar)
        for k in s.clocks.values()
        if k.kind == "resolve"
    )
    return ctx.emit(CaseReopened, reason=c.reason, reopen_count=s.reopen_count + 1, clocks=plans)


def _close(ctx: Ctx, s: CaseState, c: CloseCase) -> Decision:
    if s.status in FINAL_STATUSES:
        return _status_rejection(ctx, s) or []
    if s.status != "resolved":
        return ctx.reject("not_resolved", "Only a resolved case can be closed.")
    if s.callbacks == 0:
        return ctx.reject("callback_missing", "Record the callback (回访) before closing.")
    return ctx.emit(CaseClosed, note=c.note)


def _unfinished(ctx: Ctx, s: CaseState) -> Rejection | None:
    if s.status in FINAL_STATUSES or s.status == "resolved":
        return _status_rejection(ctx, s)
    return None


def _withdraw(ctx: Ctx, s: CaseState, c: WithdrawCase) -> Decision:
    return _unfinished(ctx, s) or ctx.emit(CaseWithdrawn, reason=c.reason)


def _duplicate(ctx: Ctx, s: CaseState, c: MarkDuplicate) -> Decision:
    if c.original_case_id == s.case_id:
        return ctx.reject("self_duplicate", "A case cannot duplicate itself.")
    return _unfinished(ctx, s) or ctx.emit(CaseMarkedDuplicate, original_case_id=c.original_case_id)


def _request_extension(ctx: Ctx, s: CaseState, c: RequestExtension) -> Decision:
    found = _working_assignment(ctx, s, c.department)
    if isinstance(found, Rejection):
        return found
    key = f"{c.clock}:{c.department}"
    clock = s.clocks.get(key)
    if clock is None:
        return ctx.reject("clock_not_found", f"No {c.clock} clock for {c.department!r}.")
    if clock.met_at is not None:
        return ctx.reject("clock_met", "That clock is already met.")
    if clock.breached_at is not None or ctx.now > clock.due_at:
        return ctx.reject("extension_after_deadline", "An extension (延期) must be asked in time.")
    if clock.extension_requested_until is not None:
        return ctx.reject("extension_pending", "An extension request awaits a decision.")
    if c.until <= clock.due_at:
        return ctx.reject("extension_not_later", "Ask for a due time later than the current one.")
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
    bad = _status_rejection(ctx, s)
    if bad is not None:
        return bad
    clock = s.clocks.get(key)
    if clock is None or clock.extension_requested_until is None:
        return ctx.reject("no_extension_request", f"No extension request on {key!r}.")
    return clock


def _grant(ctx: Ctx, s: CaseState, c: GrantExtension) -> Decision:
    clock = _pending_extension(ctx, s, c.clock_key)
    if isinstance(clock, Rejection):
        return clock
    until = c.until or clock.extension_requested_until or clock.due_at
    if until <= clock.due_at:
        return ctx.reject("extension_not_later", "Grant a due time later than the current one.")
    return ctx.emit(
        ExtensionGranted,
        clock_key=c.clock_key,
        previous_due_at=clock.due_at,
        due_at=until,
        note=c.note,
    )


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
            return ctx.reject("clock_not_found", f"No clock {key!r} on this case.")
        if clock.met_at is not None or clock.paused != want_paused:
            code = "clock_not_paused" if want_paused else "clock_not_running"
            return ctx.reject(
                code, f"Clock {key!r} is not {'paused' if want_paused else 'running'}."
            )
        picked.append(clock)
    return picked


def _pause(ctx: Ctx, s: CaseState, c: PauseClock) -> Decision:
    bad = _status_rejection(ctx, s)
    if bad is not None:
        return bad
    clocks = _pick_clocks(ctx, s, c.clock_keys, want_paused=False)
    if isinstance(clocks, Rejection):
        return clocks
    if not clocks:
        return ctx.reject("no_running_clock", "No running clock to pause.")
    return ctx.emit(ClockPaused, clock_keys=tuple(k.key for k in clocks), reason=c.reason)


def _resume(ctx: Ctx, s: CaseState, c: ResumeClock) -> Decision:
    bad = _status_rejection(ctx, s)
    if bad is not None:
        return bad
    clocks = _pick_clocks(ctx, s, c.clock_keys, want_paused=True)
    if isinstance(clocks, Rejection):
        return clocks
    if not clocks:
        return ctx.reject("no_paused_clock", "No paused clock to resume.")
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


def _escalate(ctx: Ctx, s: CaseState, c: Escalate) -> Decision:
    if c.level is not None:
        return _ladder_step(ctx, s, c)
    bad = _unfinished(ctx, s)
    if bad is not None:
        return bad
    department = None
    if c.clock_key is not None:
        clock = s.clocks.get(c.clock_key)
        if clock is None:
            return ctx.reject("clock_not_found", f"No clock {c.clock_key!r} on this case.")
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
        return ctx.reject("role_not_allowed", "Only the deadline tracker fires ladder steps.")
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


def _publish(ctx: Ctx, s: CaseState, c: PublishCase) -> Decision:
    if s.status not in ("resolved", "closed"):
        if s.status in ("withdrawn", "duplicate"):
            return _status_rejection(ctx, s) or []
        return ctx.reject("not_resolved", "Only a resolved case can be published (晒事).")
    if s.published_at is not None:
        return ctx.reject("already_published", "The case is already published.")
    return ctx.emit(CasePublished, summary=c.summary)


Decider = Callable[[Ctx, Any, Any], Decision]

DECIDERS: dict[str, Decider] = {
    "RaiseWhistle": _raise,
    "RouteCase": _route,
    "Acknowledge": _acknowledge,
    "DisputeAssignment": _dispute,
    "RuleOnDispute": _rule,
    "ContactRequester": _contact,
    "ScheduleJointAction": _joint_action,
    "ReportProgress": _progress,
    "ReportCompletion": _completion,
    "ResolveCase": _resolve,
    "RecordCallback": _callback,
    "ReopenCase": _reopen,
    "CloseCase": _close,
    "WithdrawCase": _withdraw,
    "MarkDuplicate": _duplicate,
    "RequestExtension": _request_extension,
    "GrantExtension": _grant,
    "RefuseExtension": _refuse,
    "PauseClock": _pause,
    "ResumeClock": _resume,
    "BreachClock": _breach,
    "Escalate": _escalate,
    "PublishCase": _publish,
}


def decide(state: CaseState | None, command: Command, now: datetime) -> list[Event] | Rejection:
    """The events ``command`` causes on ``state`` at ``now``, or why it is refused.

    A command whose ``command_id`` was already applied yields ``[]`` (the retry no-op).
    """
    if now.tzinfo is None:
        raise ValueError("decide needs a timezone-aware 'now'")
    ctx = Ctx(state, command, now)
    if state is not None:
        if command.command_id in state.applied_command_ids:
            return []
        if command.case_id != state.case_id:
            return ctx.reject(
                "wrong_case", f"Command for {command.case_id}, state of {state.case_id}."
            )
    decider = DECIDERS.get(command.type)
    if decider is None:
        return ctx.reject("unknown_command", f"Unknown command type {command.type!r}.")
    if state is None and command.type != "RaiseWhistle":
        return ctx.reject("case_not_found", f"No case {command.case_id}; raise a whistle first.")
    denied = authorize(state, command)
    if denied is not None:
        return denied
    return decider(ctx, state, command)

"""Decisions of the departments' work: acknowledge, dispute and ruling, contact, joint action
and report-in (报到), progress, completion, resolution."""

from __future__ import annotations

from whistle.domain.areas import known_department
from whistle.domain.base import Rejection
from whistle.domain.commands import (
    Acknowledge,
    ContactRequester,
    DisputeAssignment,
    ReportCompletion,
    ReportIn,
    ReportProgress,
    ResolveCase,
    RuleOnDispute,
    ScheduleJointAction,
)
from whistle.domain.decisions.base import (
    Ctx,
    Decision,
    assignment,
    decides,
    repeated,
    status_rejection,
    working_assignment,
)
from whistle.domain.events import (
    AssignmentDisputed,
    CaseResolved,
    DepartmentAcknowledged,
    DepartmentCompleted,
    DepartmentReportedIn,
    DisputeRuled,
    JointActionScheduled,
    ProgressReported,
    RequesterContacted,
)
from whistle.domain.rejections import joined
from whistle.domain.sla import plan_clock
from whistle.domain.state import CaseState, JointAction
from whistle.domain.values import ClockPlan


@decides(Acknowledge)
def _acknowledge(ctx: Ctx, s: CaseState, c: Acknowledge) -> Decision:
    bad = status_rejection(ctx, s)
    if bad is not None:
        return bad
    found = assignment(ctx, s, c.department)
    if isinstance(found, Rejection):
        return found
    if found.acknowledged_at is not None:
        return []
    clock = s.clocks.get(f"ack:{c.department}")
    within = None if clock is None else ctx.now <= clock.due_at
    return ctx.emit(DepartmentAcknowledged, department=c.department, within_deadline=within)


@decides(DisputeAssignment)
def _dispute(ctx: Ctx, s: CaseState, c: DisputeAssignment) -> Decision:
    bad = status_rejection(ctx, s)
    if bad is not None:
        return bad
    found = assignment(ctx, s, c.department)
    if isinstance(found, Rejection):
        return found
    if found.disputed:
        return ctx.reject("dispute_pending", department=c.department)
    if found.completed_at is not None:
        return ctx.reject("assignment_completed", department=c.department)
    return ctx.emit(AssignmentDisputed, department=c.department, reason=c.reason, text=c.text)


@decides(RuleOnDispute)
def _rule(ctx: Ctx, s: CaseState, c: RuleOnDispute) -> Decision:
    bad = status_rejection(ctx, s)
    if bad is not None:
        return bad
    found = s.assignments.get(c.department)
    if found is None or not found.disputed:
        return ctx.reject("no_open_dispute", department=c.department)
    new = c.new_department
    plans: tuple[ClockPlan, ...] = ()
    if new is not None:
        if not known_department(new):
            return ctx.reject("unknown_department", departments=new)
        if new in s.assignments:
            return ctx.reject("department_already_assigned", department=new)
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


@decides(ContactRequester)
def _contact(ctx: Ctx, s: CaseState, c: ContactRequester) -> Decision:
    found = working_assignment(ctx, s, c.department)
    if isinstance(found, Rejection):
        return found
    return ctx.emit(RequesterContacted, department=c.department, channel=c.channel, note=c.note)


@decides(ScheduleJointAction)
def _joint_action(ctx: Ctx, s: CaseState, c: ScheduleJointAction) -> Decision:
    bad = status_rejection(ctx, s)
    if bad is not None:
        return bad
    missing = [d for d in c.departments if d not in s.assignments]
    if missing:
        return ctx.reject(
            "not_routed_to_department", departments=joined(missing), routed=joined(s.assignments)
        )
    twice = repeated(c.departments)
    if twice:
        return ctx.reject("invalid_joint_action", departments=joined(twice))
    return ctx.emit(
        JointActionScheduled,
        action_id=f"ja-{len(s.joint_actions) + 1}",
        at=c.at,
        place=c.place,
        departments=c.departments,
        note=c.note,
    )


def _action_to_report_in(ctx: Ctx, s: CaseState, c: ReportIn) -> JointAction | Rejection:
    """The joint action named by ``c`` (default: the latest one naming the department)."""
    if not s.joint_actions:
        return ctx.reject("no_joint_action")
    if c.action_id is not None:
        found = next((a for a in s.joint_actions if a.action_id == c.action_id), None)
        if found is None:
            return ctx.reject("unknown_joint_action", action_id=c.action_id)
    else:
        found = next((a for a in reversed(s.joint_actions) if c.department in a.departments), None)
        if found is None:
            return ctx.reject("not_in_joint_action", department=c.department, action_id="—")
    if c.department not in found.departments:
        return ctx.reject("not_in_joint_action", department=c.department, action_id=found.action_id)
    return found


@decides(ReportIn)
def _report_in(ctx: Ctx, s: CaseState, c: ReportIn) -> Decision:
    found = working_assignment(ctx, s, c.department)
    if isinstance(found, Rejection):
        return found
    action = _action_to_report_in(ctx, s, c)
    if isinstance(action, Rejection):
        return action
    if c.department in action.reported_in:
        return ctx.reject(
            "already_reported_in",
            department=c.department,
            action_id=action.action_id,
            at=action.reported_in[c.department].isoformat(),
        )
    here = {*action.reported_in, c.department}
    assembled = all(d in here for d in action.departments if d in s.assignments)
    return ctx.emit(
        DepartmentReportedIn,
        department=c.department,
        action_id=action.action_id,
        assembled=assembled,
    )


@decides(ReportProgress)
def _progress(ctx: Ctx, s: CaseState, c: ReportProgress) -> Decision:
    found = working_assignment(ctx, s, c.department)
    if isinstance(found, Rejection):
        return found
    if c.action_id is not None and all(a.action_id != c.action_id for a in s.joint_actions):
        return ctx.reject("unknown_joint_action", action_id=c.action_id)
    return ctx.emit(ProgressReported, department=c.department, note=c.note, action_id=c.action_id)


@decides(ReportCompletion)
def _completion(ctx: Ctx, s: CaseState, c: ReportCompletion) -> Decision:
    found = working_assignment(ctx, s, c.department)
    if isinstance(found, Rejection):
        return found
    if found.completed_at is not None:
        return ctx.reject("already_completed", department=c.department)
    if found.disputed:
        return ctx.reject("dispute_pending", department=c.department)
    return ctx.emit(DepartmentCompleted, department=c.department, summary=c.summary)


@decides(ResolveCase)
def _resolve(ctx: Ctx, s: CaseState, c: ResolveCase) -> Decision:
    bad = status_rejection(ctx, s)
    if bad is not None:
        return bad
    lead = s.lead or ""
    if s.assignments[lead].acknowledged_at is None:
        return ctx.reject("not_acknowledged", department=lead)
    if s.assignments[lead].disputed:
        return ctx.reject("dispute_pending", department=lead)
    waiting = sorted(
        d
        for d in s.joint_action_departments()
        if d != lead and s.assignments[d].completed_at is None
    )
    if waiting:
        return ctx.reject("joint_action_incomplete", departments=joined(waiting))
    return ctx.emit(CaseResolved, department=lead, outcome=c.outcome, summary=c.summary)

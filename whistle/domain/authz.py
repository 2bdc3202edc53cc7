"""Who may issue which command: roles, the liaison's own department, the actor's area."""

from __future__ import annotations

from whistle.domain.areas import lineage
from whistle.domain.base import Actor, Command, Rejection
from whistle.domain.rejections import MESSAGES_ZH
from whistle.domain.state import CaseState

DEPARTMENT_COMMANDS = frozenset(
    {
        "Acknowledge",
        "DisputeAssignment",
        "ContactRequester",
        "ReportIn",
        "ReportProgress",
        "ReportCompletion",
        "RequestExtension",
    }
)
"""Commands a liaison issues for the department named in the command."""

LEAD_COMMANDS = frozenset({"ScheduleJointAction", "ResolveCase", "PauseClock", "ResumeClock"})
"""Commands a liaison may issue only for the lead department (首接负责)."""

ADMIN_ONLY = frozenset({"admin"})
"""Who may issue a command type missing from ``ROLES``."""

ROLES: dict[str, frozenset[str]] = {
    "RaiseWhistle": frozenset({"secretary", "admin", "system"}),
    "RouteCase": frozenset({"system", "supervisor", "admin"}),
    "RuleOnDispute": frozenset({"supervisor", "admin"}),
    "ScheduleJointAction": frozenset({"liaison", "secretary", "supervisor", "admin"}),
    "ResolveCase": frozenset({"liaison", "supervisor", "admin"}),
    "RecordCallback": frozenset({"secretary", "supervisor", "admin", "system"}),
    "ReopenCase": frozenset({"secretary", "supervisor", "admin"}),
    "CloseCase": frozenset({"secretary", "supervisor", "admin", "system"}),
    "WithdrawCase": frozenset({"secretary", "admin"}),
    "MarkDuplicate": frozenset({"secretary", "supervisor", "admin", "system"}),
    "GrantExtension": frozenset({"supervisor", "admin"}),
    "RefuseExtension": frozenset({"supervisor", "admin"}),
    "PauseClock": frozenset({"liaison", "supervisor", "admin"}),
    "ResumeClock": frozenset({"liaison", "supervisor", "admin", "system"}),
    "BreachClock": frozenset({"system"}),
    "Escalate": frozenset({"supervisor", "admin", "system"}),
    "PublishCase": frozenset({"secretary", "supervisor", "admin"}),
    **{name: frozenset({"liaison", "admin"}) for name in DEPARTMENT_COMMANDS},
}


def _reject(command: Command, code: str, message: str) -> Rejection:
    return Rejection(
        code=code,
        message=message,
        command_id=command.command_id,
        case_id=command.case_id,
        message_zh=MESSAGES_ZH.get(code),
    )


def covers(actor: Actor, area: str) -> bool:
    """Whether ``actor``'s area (if any) is ``area`` or one of its ancestors."""
    return actor.area is None or actor.area in lineage(area)


def authorize(state: CaseState | None, command: Command) -> Rejection | None:
    """None if ``command.actor`` may issue ``command`` on this case, else a rejection."""
    actor = command.actor
    allowed = ROLES.get(command.type, ADMIN_ONLY)
    if actor.role not in allowed:
        return _reject(
            command,
            "role_not_allowed",
            f"A {actor.role} may not {command.type}; allowed: {', '.join(sorted(allowed))}.",
        )
    if actor.role == "liaison":
        department = command.__dict__.get("department")
        if command.type in LEAD_COMMANDS and state is not None:
            department = state.lead
        if department is not None and actor.department != department:
            return _reject(
                command,
                "not_your_department",
                f"You act for {actor.department!r}, not for {department!r}.",
            )
    if actor.role in ("secretary", "supervisor"):
        area = command.__dict__.get("community") if state is None else state.area
        if isinstance(area, str) and not covers(actor, area):
            return _reject(
                command, "outside_your_area", f"{area!r} is outside your area {actor.area!r}."
            )
    return None

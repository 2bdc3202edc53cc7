"""Who may issue which command: roles, the liaison's own department, the actor's area."""

from __future__ import annotations

from whistle.domain.areas import lineage
from whistle.domain.base import Actor, Command, Rejection, Role
from whistle.domain.commands import ALL_COMMANDS
from whistle.domain.rejections import MESSAGES_ZH
from whistle.domain.state import CaseState

ROLES: dict[str, frozenset[Role]] = {cls.__name__: cls.ROLES for cls in ALL_COMMANDS}
"""Command type → the roles that may issue it (each command declares its ``ROLES``)."""

DEPARTMENT_COMMANDS = frozenset(c.__name__ for c in ALL_COMMANDS if c.ACTS_FOR == "department")
"""Commands a liaison issues for the department named in the command."""

LEAD_COMMANDS = frozenset(c.__name__ for c in ALL_COMMANDS if c.ACTS_FOR == "lead")
"""Commands a liaison may issue only for the lead department (首接负责)."""


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
    allowed = type(command).ROLES
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

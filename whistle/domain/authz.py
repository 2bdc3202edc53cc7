"""Who may issue which command: roles, the liaison's own department, the actor's area."""

from __future__ import annotations

from whistle.domain.areas import within
from whistle.domain.base import Actor, Command, Rejection, Role
from whistle.domain.commands import ALL_COMMANDS
from whistle.domain.rejections import joined, rejection
from whistle.domain.state import CaseState

ROLES: dict[str, frozenset[Role]] = {cls.__name__: cls.ROLES for cls in ALL_COMMANDS}
"""Command type → the roles that may issue it (each command declares its ``ROLES``)."""

DEPARTMENT_COMMANDS = frozenset(c.__name__ for c in ALL_COMMANDS if c.ACTS_FOR == "department")
"""Commands a liaison issues for the department named in the command."""

LEAD_COMMANDS = frozenset(c.__name__ for c in ALL_COMMANDS if c.ACTS_FOR == "lead")
"""Commands a liaison may issue only for the lead department (首接负责)."""

_NAMING = {
    field: frozenset(c.__name__ for c in ALL_COMMANDS if field in c.model_fields)
    for field in ("department", "community")
}
"""Field → the commands that have it (asking a model for a field it lacks costs an exception)."""


def covers(actor: Actor, area: str) -> bool:
    """Whether ``actor``'s area (if any) is ``area`` or one of its ancestors."""
    return actor.area is None or within(area, actor.area)


def authorize(state: CaseState | None, command: Command) -> Rejection | None:
    """None if ``command.actor`` may issue ``command`` on this case, else a rejection."""
    actor = command.actor
    allowed = type(command).ROLES
    if actor.role not in allowed:
        return rejection(
            command,
            "role_not_allowed",
            role=actor.role,
            command=command.type,
            allowed=joined(sorted(allowed)),
        )
    if actor.role == "liaison":
        department = command.department if command.type in _NAMING["department"] else None  # type: ignore[attr-defined]
        if command.type in LEAD_COMMANDS and state is not None:
            department = state.lead
        if department is not None and actor.department != department:
            return rejection(
                command,
                "not_your_department",
                own_department=actor.department or "",
                department=department,
            )
    if actor.role in ("secretary", "supervisor"):
        if state is not None:
            area = state.area
        elif command.type in _NAMING["community"]:
            area = command.community  # type: ignore[attr-defined]
        else:
            area = None
        if isinstance(area, str) and not covers(actor, area):
            return rejection(command, "outside_your_area", area=area, own_area=actor.area or "")
    return None

"""What every decision shares: the context that builds events and rejections, and the status
and assignment checks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from whistle.domain.base import Command, Event, Rejection, event_id_for
from whistle.domain.calendar import BusinessCalendar, calendar_in_force, default_calendar
from whistle.domain.prevalidated import builder
from whistle.domain.rejections import joined, rejection
from whistle.domain.state import Assignment, CaseState
from whistle.domain.types import FINAL_STATUSES

Decision = list[Event] | Rejection
Decider = Callable[["Ctx", Any, Any], Decision]

DECIDERS: dict[str, Decider] = {}
"""Command type → its decider, filled by ``@decides`` beside each decider."""


def decides(command: type[Command]) -> Callable[[Decider], Decider]:
    """Register the decorated function as the decider of ``command`` (one per command)."""
    name = command.__name__

    def register(fn: Decider) -> Decider:
        if name in DECIDERS:
            raise TypeError(f"{name} has two deciders: {DECIDERS[name].__name__}, {fn.__name__}")
        DECIDERS[name] = fn
        return fn

    return register


OPEN = frozenset({"routed", "in_progress"})


CALENDAR = default_calendar()
_BUILDERS: dict[type[Event], Callable[[dict[str, Any]], Event]] = {}


class Ctx:
    """The command being decided, its state and time; builds events and rejections."""

    __slots__ = ("command", "now", "state")

    @property
    def calendar(self) -> BusinessCalendar:
        """The working calendar in force for this decision (the configuration version's)."""
        return calendar_in_force()

    def __init__(self, state: CaseState | None, command: Command, now: datetime) -> None:
        self.state = state
        self.command = command
        self.now = now

    def emit(self, cls: type[Event], **fields: Any) -> list[Event]:
        """One event of ``cls`` with the next sequence number and the command's envelope.

        Built from the validated command and state without checking the values again
        (``whistle.domain.prevalidated``).
        """
        seq = 1 if self.state is None else self.state.seq + 1
        command = self.command
        command_id = command.command_id
        fields["event_id"] = event_id_for(command_id, seq)
        fields["case_id"] = command.case_id
        fields["seq"] = seq
        fields["occurred_at"] = self.now
        fields["actor"] = command.actor
        fields["command_id"] = command_id
        build = _BUILDERS.get(cls)
        if build is None:
            build = _BUILDERS[cls] = builder(cls)
        return [build(fields)]

    def reject(self, code: str, /, **params: str) -> Rejection:
        """A rejection with a stable ``code``; ``params`` fill its messages (the catalogue's
        templates in ``whistle.domain.rejections``)."""
        return rejection(self.command, code, **params)


def repeated(items: Sequence[str]) -> list[str]:
    """The items named more than once, each once, in order of first appearance."""
    counts = Counter(items)
    return [item for item in counts if counts[item] > 1]


def status_rejection(ctx: Ctx, s: CaseState) -> Rejection | None:
    """Rejection unless the case is routed and not yet resolved."""
    if s.status in OPEN:
        return None
    if s.status == "raised":
        return ctx.reject("not_routed")
    if s.status == "resolved":
        return ctx.reject("case_resolved")
    return ctx.reject("case_finished", status=s.status)


def assignment(ctx: Ctx, s: CaseState, department: str) -> Assignment | Rejection:
    """The department's assignment, or ``not_routed_to_department``."""
    found = s.assignments.get(department)
    if found is None:
        return ctx.reject(
            "not_routed_to_department", departments=department, routed=joined(s.assignments)
        )
    return found


def working_assignment(ctx: Ctx, s: CaseState, department: str) -> Assignment | Rejection:
    """An open case's assignment that the department has acknowledged."""
    bad = status_rejection(ctx, s)
    if bad is not None:
        return bad
    found = assignment(ctx, s, department)
    if isinstance(found, Assignment) and found.acknowledged_at is None:
        return ctx.reject("not_acknowledged", department=department)
    return found


def unfinished(ctx: Ctx, s: CaseState) -> Rejection | None:
    """Rejection once the case is resolved or final (withdraw, duplicate, manual escalation)."""
    if s.status in FINAL_STATUSES or s.status == "resolved":
        return status_rejection(ctx, s)
    return None

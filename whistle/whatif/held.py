"""What a replay holds fixed: the commands people (and other cases) gave, read back from events.

The event log keeps what each command caused, not the command; the commands topic is kept
7 days only. Every event names the command that caused it (``command_id``, ``actor``, the
instant), so the command is rebuilt from the first event of its group: the fields the command
declares, taken from that event (a few under another name, ``RENAMED``). Two kinds of system
command are *not* held but re-derived by the replay (``re_derived``): the router's
``RouteCase`` (id ``route:<case>``) and the deadline tracker's firings (ids
``deadline:<case>:<key>``, a breach and the ladder rungs it brings due).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from whistle.domain import commands as c
from whistle.domain.base import COMMAND_CLASSES, EVENT_CLASSES, Command
from whistle.domain.steps import attach, merge

COMMAND_OF: dict[str, type[Command]] = {
    "WhistleRaised": c.RaiseWhistle,
    "CaseRouted": c.RouteCase,
    "DepartmentAcknowledged": c.Acknowledge,
    "AssignmentDisputed": c.DisputeAssignment,
    "DisputeRuled": c.RuleOnDispute,
    "RequesterContacted": c.ContactRequester,
    "JointActionScheduled": c.ScheduleJointAction,
    "DepartmentReportedIn": c.ReportIn,
    "ProgressReported": c.ReportProgress,
    "DepartmentCompleted": c.ReportCompletion,
    "CaseResolved": c.ResolveCase,
    "CallbackRecorded": c.RecordCallback,
    "CaseReopened": c.ReopenCase,
    "CaseClosed": c.CloseCase,
    "CaseWithdrawn": c.WithdrawCase,
    "CaseMarkedDuplicate": c.MarkDuplicate,
    "ExtensionRequested": c.RequestExtension,
    "ExtensionGranted": c.GrantExtension,
    "ExtensionRefused": c.RefuseExtension,
    "ClockPaused": c.PauseClock,
    "ClockResumed": c.ResumeClock,
    "ClockBreached": c.BreachClock,
    "CaseEscalated": c.Escalate,
    "CasePublished": c.PublishCase,
    "CaseMergedInto": merge.MergeDuplicate,
    "DuplicateMerged": merge.RecordMerge,
    "PhotosAttached": attach.AttachPhotos,
}
"""Event type → the command whose decision records it first (a test checks every event)."""

RENAMED: dict[str, dict[str, str]] = {
    "ExtensionRequested": {"until": "requested_due_at"},
    "ExtensionGranted": {"until": "due_at"},
}
"""Command field ← event field, where the two names differ."""

ENVELOPE = frozenset({"type", "command_id", "case_id", "actor"})
ROUTE_PREFIX = "route:"
DEADLINE_PREFIX = "deadline:"


def re_derived(event: dict[str, Any]) -> bool:
    """Whether the event's command is one the replay decides anew (routing, deadlines)."""
    if (event.get("actor") or {}).get("role") != "system":
        return False
    command_id = str(event.get("command_id", ""))
    return command_id.startswith((ROUTE_PREFIX, DEADLINE_PREFIX))


def deadline_key(event: dict[str, Any]) -> str | None:
    """The deadline key a tracker firing's event was caused by (None: not a firing)."""
    command_id = str(event.get("command_id", ""))
    if not command_id.startswith(DEADLINE_PREFIX):
        return None
    return command_id[len(DEADLINE_PREFIX) + len(str(event["case_id"])) + 1 :]


def _sources(cls: type[Command], renamed: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """(command field, event field it is read from) for every field outside the envelope."""
    return tuple(
        (name, renamed.get(name, name)) for name in cls.model_fields if name not in ENVELOPE
    )


HELD: dict[str, tuple[type[Command], tuple[tuple[str, str], ...]]] = {
    event_type: (cls, _sources(cls, RENAMED.get(event_type, {})))
    for event_type, cls in COMMAND_OF.items()
}
"""Event type → its command and where each field comes from: worked out once, not per event
(a replayed case rebuilds a dozen commands)."""


def command_of(event: dict[str, Any]) -> Command | None:
    """The command that recorded ``event`` first in its group, rebuilt from it (None: the
    event type records no command of its own, or the event cannot be read as one)."""
    held = HELD.get(event["type"])
    if held is None:
        return None
    cls, sources = held
    fields: dict[str, Any] = {
        "command_id": event["command_id"],
        "case_id": event["case_id"],
        "actor": event["actor"],
    }
    for name, source in sources:
        if source in event:
            fields[name] = event[source]
    try:
        return cls.model_validate(fields)
    except ValidationError:
        return None


def unmapped_events() -> list[str]:
    """Event types with no command here (the definitions test wants none)."""
    return [name for name in EVENT_CLASSES if name not in COMMAND_OF]


def unknown_commands() -> list[str]:
    """Commands named here that the domain does not declare (the definitions test wants none)."""
    return [cls.__name__ for cls in COMMAND_OF.values() if cls.__name__ not in COMMAND_CLASSES]

"""Events: what happened to a case, in the past tense, each with the envelope of ``Event``."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from whistle.domain.base import EVENT_CLASSES, Event
from whistle.domain.types import (
    CallbackFault,
    Channel,
    ClockKind,
    ContactChannel,
    DisputeOutcome,
    DisputeReason,
    EscalationStep,
    ResolutionOutcome,
    Tier,
    Urgency,
)
from whistle.domain.values import ClockPlan, GeoPoint, LadderRung, Requester


class WhistleRaised(Event):
    """A community raised a whistle. v2 added ``channel`` (v1 events are upcast to 'whistle')."""

    SCHEMA_VERSION: ClassVar[int] = 2
    CE_NAME: ClassVar[str] = "raised"
    type: Literal["WhistleRaised"] = "WhistleRaised"
    schema_version: int = 2
    community: str
    compound: str | None = None
    grid: str | None = None
    category: str
    title: str
    description: str = ""
    urgency: Urgency
    channel: Channel
    address: str | None = None
    location: GeoPoint | None = None
    requester: Requester | None = None


class CaseRouted(Event):
    """The case was dispatched: departments, the rule and rule-set version, every clock's due."""

    CE_NAME: ClassVar[str] = "routed"
    type: Literal["CaseRouted"] = "CaseRouted"
    lead: str
    supporting: tuple[str, ...] = ()
    rule_id: str
    rules_version: str
    policy: str
    clocks: tuple[ClockPlan, ...]
    escalation: tuple[LadderRung, ...] = ()
    policy_version: str | None = Field(
        default=None,
        description="The SLA-policy version it was routed with (None: routed before policies "
        "were versioned).",
    )


class DepartmentAcknowledged(Event):
    """签收: a department signed for the case."""

    CE_NAME: ClassVar[str] = "acknowledged"
    type: Literal["DepartmentAcknowledged"] = "DepartmentAcknowledged"
    department: str
    within_deadline: bool | None = None


class AssignmentDisputed(Event):
    """退单: a department disputed its assignment."""

    CE_NAME: ClassVar[str] = "disputed"
    type: Literal["AssignmentDisputed"] = "AssignmentDisputed"
    department: str
    reason: DisputeReason
    text: str


class DisputeRuled(Event):
    """A supervisor ruled on a dispute; on reassign, ``clocks`` are the new department's clocks."""

    CE_NAME: ClassVar[str] = "dispute_ruled"
    type: Literal["DisputeRuled"] = "DisputeRuled"
    department: str
    outcome: DisputeOutcome
    new_department: str | None = None
    reason: str = ""
    clocks: tuple[ClockPlan, ...] = ()


class RequesterContacted(Event):
    """A department contacted the requester."""

    CE_NAME: ClassVar[str] = "requester_contacted"
    type: Literal["RequesterContacted"] = "RequesterContacted"
    department: str
    channel: ContactChannel
    note: str = ""


class JointActionScheduled(Event):
    """集结: a joint action was scheduled."""

    CE_NAME: ClassVar[str] = "joint_action_scheduled"
    type: Literal["JointActionScheduled"] = "JointActionScheduled"
    action_id: str
    at: AwareDatetime
    place: str
    departments: tuple[str, ...]
    note: str = ""


class DepartmentReportedIn(Event):
    """报到: a department arrived at a joint action; ``occurred_at`` is when its liaison said so.

    ``assembled``: with this arrival every department of the action still on the case is there
    (the joint-action clock is met).
    """

    CE_NAME: ClassVar[str] = "reported_in"
    type: Literal["DepartmentReportedIn"] = "DepartmentReportedIn"
    department: str
    action_id: str
    assembled: bool = False


class ProgressReported(Event):
    """办理: a department reported progress."""

    CE_NAME: ClassVar[str] = "progress_reported"
    type: Literal["ProgressReported"] = "ProgressReported"
    department: str
    note: str
    action_id: str | None = None


class DepartmentCompleted(Event):
    """A department reported its part done."""

    CE_NAME: ClassVar[str] = "department_completed"
    type: Literal["DepartmentCompleted"] = "DepartmentCompleted"
    department: str
    summary: str


class CaseResolved(Event):
    """办结: the lead department resolved the case."""

    CE_NAME: ClassVar[str] = "resolved"
    type: Literal["CaseResolved"] = "CaseResolved"
    department: str
    outcome: ResolutionOutcome
    summary: str


class CallbackRecorded(Event):
    """回访: the resident's verdict."""

    CE_NAME: ClassVar[str] = "callback_recorded"
    type: Literal["CallbackRecorded"] = "CallbackRecorded"
    solved: bool
    satisfied: bool
    score: int = Field(ge=1, le=5)
    comment: str = ""
    fault: CallbackFault = "none"


class CaseReopened(Event):
    """The case was reopened; ``clocks`` are the restarted clocks."""

    CE_NAME: ClassVar[str] = "reopened"
    type: Literal["CaseReopened"] = "CaseReopened"
    reason: str
    reopen_count: int = Field(ge=1)
    clocks: tuple[ClockPlan, ...] = ()


class CaseClosed(Event):
    """The case was closed after evaluation."""

    CE_NAME: ClassVar[str] = "closed"
    type: Literal["CaseClosed"] = "CaseClosed"
    note: str = ""


class CaseWithdrawn(Event):
    """The community withdrew the case."""

    CE_NAME: ClassVar[str] = "withdrawn"
    type: Literal["CaseWithdrawn"] = "CaseWithdrawn"
    reason: str


class CaseMarkedDuplicate(Event):
    """The case duplicates another one."""

    CE_NAME: ClassVar[str] = "marked_duplicate"
    type: Literal["CaseMarkedDuplicate"] = "CaseMarkedDuplicate"
    original_case_id: str


class ExtensionRequested(Event):
    """延期: a department asked for more time on a clock."""

    CE_NAME: ClassVar[str] = "extension_requested"
    type: Literal["ExtensionRequested"] = "ExtensionRequested"
    clock_key: str
    department: str
    clock: ClockKind
    current_due_at: AwareDatetime
    requested_due_at: AwareDatetime
    reason: str


class ExtensionGranted(Event):
    """The extension was granted: the clock's due time moved (and a breach, if any, cleared)."""

    CE_NAME: ClassVar[str] = "extension_granted"
    type: Literal["ExtensionGranted"] = "ExtensionGranted"
    clock_key: str
    previous_due_at: AwareDatetime
    due_at: AwareDatetime
    note: str = ""


class ExtensionRefused(Event):
    """The extension was refused."""

    CE_NAME: ClassVar[str] = "extension_refused"
    type: Literal["ExtensionRefused"] = "ExtensionRefused"
    clock_key: str
    reason: str


class ClockPaused(Event):
    """Clocks paused (waiting for the requester)."""

    CE_NAME: ClassVar[str] = "clock_paused"
    type: Literal["ClockPaused"] = "ClockPaused"
    clock_keys: tuple[str, ...]
    reason: str


class ClockResumed(Event):
    """Clocks resumed: per clock key, the new due time and the paused time (in the clock's mode)."""

    CE_NAME: ClassVar[str] = "clock_resumed"
    type: Literal["ClockResumed"] = "ClockResumed"
    clock_keys: tuple[str, ...]
    due_at: dict[str, AwareDatetime]
    paused_for: dict[str, timedelta]
    note: str = ""


class ClockBreached(Event):
    """A clock passed its due time unmet; ``lateness`` = firing time − due time."""

    CE_NAME: ClassVar[str] = "clock_breached"
    type: Literal["ClockBreached"] = "ClockBreached"
    clock_key: str
    kind: ClockKind
    department: str
    due_at: AwareDatetime
    lateness: timedelta


class CaseEscalated(Event):
    """催办 / 督办 / 通报: the case was escalated, by the ladder (automatic) or a supervisor."""

    CE_NAME: ClassVar[str] = "escalated"
    type: Literal["CaseEscalated"] = "CaseEscalated"
    step: EscalationStep
    tier: Tier
    reason: str = ""
    clock_key: str | None = None
    department: str | None = None
    level: int | None = None
    automatic: bool = False
    lateness: timedelta | None = None


class CasePublished(Event):
    """晒事: the resolved case was published to the community."""

    CE_NAME: ClassVar[str] = "published"
    type: Literal["CasePublished"] = "CasePublished"
    summary: str


import whistle.domain.steps  # noqa: E402,F401  (registers the steps' commands and events)

ALL_EVENTS: tuple[type[Event], ...] = tuple(EVENT_CLASSES.values())
"""Every event, in declaration order (each class registers itself on definition): these, then
those of ``whistle.domain.steps``."""

__all__ = ["ALL_EVENTS", *(cls.__name__ for cls in ALL_EVENTS if cls.__module__ == __name__)]

"""Commands: imperative requests to change one case, one class per lifecycle step."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field, model_validator
from pydantic_core import PydanticCustomError

from whistle.domain.base import COMMAND_CLASSES, ActsFor, Command, Role
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

Code = Field(min_length=1, max_length=128, pattern=r"^[a-z0-9_.]+$")
Text = Field(min_length=1, max_length=4000)
Departments = tuple[str, ...]


class RaiseWhistle(Command):
    """说事 / 吹哨: a community raises a problem it cannot solve alone."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({"secretary", "admin", "system"})
    type: Literal["RaiseWhistle"] = "RaiseWhistle"
    community: str = Code
    compound: str | None = Field(default=None, max_length=128)
    grid: str | None = Field(default=None, max_length=64)
    category: str = Code
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=4000)
    urgency: Urgency = "general"
    channel: Channel = "whistle"
    address: str | None = Field(default=None, max_length=500)
    location: GeoPoint | None = None
    requester: Requester | None = None

    @model_validator(mode="after")
    def _where(self) -> RaiseWhistle:
        if self.address is None and self.location is None:
            raise PydanticCustomError(
                "address_or_location", "give an address or a location (or both)"
            )
        return self


class RouteCase(Command):
    """派: dispatch the case to a lead and supporting departments with its SLA clocks."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({"system", "supervisor", "admin"})
    INTERNAL: ClassVar[bool] = True
    type: Literal["RouteCase"] = "RouteCase"
    lead: str = Code
    supporting: Departments = ()
    rule_id: str
    rules_version: str
    policy: str
    clocks: tuple[ClockPlan, ...]
    escalation: tuple[LadderRung, ...] = ()
    policy_version: str | None = None


class Acknowledge(Command):
    """签收: a department signs for the case (its arrival at a joint action is ``ReportIn``)."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({"liaison", "admin"})
    ACTS_FOR: ClassVar[ActsFor | None] = "department"
    type: Literal["Acknowledge"] = "Acknowledge"
    department: str = Code


class DisputeAssignment(Command):
    """退单: a department says the case is not theirs, with a reason."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({"liaison", "admin"})
    ACTS_FOR: ClassVar[ActsFor | None] = "department"
    type: Literal["DisputeAssignment"] = "DisputeAssignment"
    department: str = Code
    reason: DisputeReason
    text: str = Text


class RuleOnDispute(Command):
    """A supervisor rules on a dispute: reassign to another department or uphold the routing."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({"supervisor", "admin"})
    type: Literal["RuleOnDispute"] = "RuleOnDispute"
    department: str = Code
    outcome: DisputeOutcome
    new_department: str | None = None
    reason: str = Field(default="", max_length=1000)

    @model_validator(mode="after")
    def _target(self) -> RuleOnDispute:
        if (self.outcome == "reassign") != (self.new_department is not None):
            raise PydanticCustomError(
                "reassign_target", "new_department is required for reassign and only for reassign"
            )
        return self


class ContactRequester(Command):
    """A department contacts the requester (first contact clock)."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({"liaison", "admin"})
    ACTS_FOR: ClassVar[ActsFor | None] = "department"
    type: Literal["ContactRequester"] = "ContactRequester"
    department: str = Code
    channel: ContactChannel = "phone"
    note: str = Field(default="", max_length=2000)


class ScheduleJointAction(Command):
    """集结: schedule a joint action — when, where, which departments."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({"liaison", "secretary", "supervisor", "admin"})
    ACTS_FOR: ClassVar[ActsFor | None] = "lead"
    type: Literal["ScheduleJointAction"] = "ScheduleJointAction"
    at: AwareDatetime
    place: str = Field(min_length=1, max_length=500)
    departments: Departments = Field(min_length=1)
    note: str = Field(default="", max_length=2000)


class ReportIn(Command):
    """报到: a department's liaison confirms it has arrived at a scheduled joint action (集结)."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({"liaison", "admin"})
    ACTS_FOR: ClassVar[ActsFor | None] = "department"
    type: Literal["ReportIn"] = "ReportIn"
    department: str = Code
    action_id: str | None = Field(
        default=None,
        max_length=64,
        description="The joint action (ja-1, …); default: the latest one naming the department.",
    )


class ReportProgress(Command):
    """办理: a department reports what it did."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({"liaison", "admin"})
    ACTS_FOR: ClassVar[ActsFor | None] = "department"
    type: Literal["ReportProgress"] = "ReportProgress"
    department: str = Code
    note: str = Text
    action_id: str | None = None


class ReportCompletion(Command):
    """A department reports its part done (joint-action departments must before resolution)."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({"liaison", "admin"})
    ACTS_FOR: ClassVar[ActsFor | None] = "department"
    type: Literal["ReportCompletion"] = "ReportCompletion"
    department: str = Code
    summary: str = Text


class ResolveCase(Command):
    """办结: the lead department resolves the case."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({"liaison", "supervisor", "admin"})
    ACTS_FOR: ClassVar[ActsFor | None] = "lead"
    type: Literal["ResolveCase"] = "ResolveCase"
    outcome: ResolutionOutcome
    summary: str = Text


class RecordCallback(Command):
    """回访 / 评事: record the resident's verdict — solved? satisfied? score 1–5."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({"secretary", "supervisor", "admin", "system"})
    type: Literal["RecordCallback"] = "RecordCallback"
    solved: bool
    satisfied: bool
    score: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=2000)
    fault: CallbackFault = "none"


class ReopenCase(Command):
    """Reopen a resolved case whose callback was unsatisfying through a department's fault."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({"secretary", "supervisor", "admin"})
    type: Literal["ReopenCase"] = "ReopenCase"
    reason: str = Text


class CloseCase(Command):
    """Close an evaluated case (after its callback)."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({"secretary", "supervisor", "admin", "system"})
    type: Literal["CloseCase"] = "CloseCase"
    note: str = Field(default="", max_length=2000)


class WithdrawCase(Command):
    """The community withdraws its whistle before resolution."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({"secretary", "admin"})
    type: Literal["WithdrawCase"] = "WithdrawCase"
    reason: str = Text


class MarkDuplicate(Command):
    """Mark the case as a duplicate of another open case."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({"secretary", "supervisor", "admin", "system"})
    type: Literal["MarkDuplicate"] = "MarkDuplicate"
    original_case_id: str = Field(min_length=1, max_length=64)


class RequestExtension(Command):
    """延期: a department asks, before the deadline, for more time on one of its clocks."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({"liaison", "admin"})
    ACTS_FOR: ClassVar[ActsFor | None] = "department"
    type: Literal["RequestExtension"] = "RequestExtension"
    department: str = Code
    clock: ClockKind = "resolve"
    until: AwareDatetime
    reason: str = Text


class GrantExtension(Command):
    """A supervisor grants a pending extension (optionally to another due time)."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({"supervisor", "admin"})
    type: Literal["GrantExtension"] = "GrantExtension"
    clock_key: str
    until: AwareDatetime | None = None
    note: str = Field(default="", max_length=2000)


class RefuseExtension(Command):
    """A supervisor refuses a pending extension; the original deadline stands."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({"supervisor", "admin"})
    type: Literal["RefuseExtension"] = "RefuseExtension"
    clock_key: str
    reason: str = Text


class PauseClock(Command):
    """Pause clocks while waiting for the requester; no keys = every running clock."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({"liaison", "supervisor", "admin"})
    ACTS_FOR: ClassVar[ActsFor | None] = "lead"
    type: Literal["PauseClock"] = "PauseClock"
    clock_keys: tuple[str, ...] = ()
    reason: str = Text


class ResumeClock(Command):
    """Resume paused clocks; due times move by the paused time. No keys = every paused clock."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({"liaison", "supervisor", "admin", "system"})
    ACTS_FOR: ClassVar[ActsFor | None] = "lead"
    type: Literal["ResumeClock"] = "ResumeClock"
    clock_keys: tuple[str, ...] = ()
    note: str = Field(default="", max_length=2000)


class BreachClock(Command):
    """System: the deadline tracker saw a clock's due time pass."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({"system"})
    INTERNAL: ClassVar[bool] = True
    type: Literal["BreachClock"] = "BreachClock"
    clock_key: str
    deadline_key: str
    due_at: AwareDatetime
    fired_at: AwareDatetime


class Escalate(Command):
    """催办 / 督办 / 通报, by a supervisor or by the system along the policy's ladder."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({"supervisor", "admin", "system"})
    type: Literal["Escalate"] = "Escalate"
    step: EscalationStep
    tier: Tier
    reason: str = Field(default="", max_length=2000)
    clock_key: str | None = None
    level: int | None = Field(default=None, ge=1, description="Ladder rung (system only).")
    deadline_key: str | None = None
    due_at: AwareDatetime | None = None
    fired_at: AwareDatetime | None = None


class PublishCase(Command):
    """晒事: publish the resolved case to the community."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({"secretary", "supervisor", "admin"})
    type: Literal["PublishCase"] = "PublishCase"
    summary: str = Text


from whistle.domain import events as _events  # noqa: E402,F401  (registers the steps' commands)

ALL_COMMANDS: tuple[type[Command], ...] = tuple(COMMAND_CLASSES.values())
"""Every command, in declaration order (each class registers itself on definition): these,
then those of ``whistle.domain.steps``."""

__all__ = ["ALL_COMMANDS", *(cls.__name__ for cls in ALL_COMMANDS if cls.__module__ == __name__)]

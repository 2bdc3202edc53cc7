"""The case state folded from events: assignments per department, clocks, lifecycle status."""

from __future__ import annotations

from datetime import timedelta

from pydantic import AwareDatetime, Field, field_serializer

from whistle.domain.areas import case_area
from whistle.domain.base import Frozen
from whistle.domain.types import (
    AssignmentRole,
    CallbackFault,
    CaseStatus,
    Channel,
    ClockKind,
    ClockMode,
    DisputeReason,
    ResolutionOutcome,
    Tier,
    Urgency,
)
from whistle.domain.values import LadderRung


class Assignment(Frozen):
    """One department's part in the case (首接负责 lead or supporting)."""

    department: str
    role: AssignmentRole
    assigned_at: AwareDatetime
    acknowledged_at: AwareDatetime | None = None
    contacted_at: AwareDatetime | None = None
    completed_at: AwareDatetime | None = None
    disputed: bool = Field(default=False, description="An open dispute (退单) awaits a ruling.")
    dispute_reason: DisputeReason | None = None
    disputes: int = 0


class Clock(Frozen):
    """One SLA clock of one department; due times already include pauses and extensions."""

    key: str
    kind: ClockKind
    department: str
    mode: ClockMode
    budget: timedelta
    started_at: AwareDatetime
    due_at: AwareDatetime
    paused_since: AwareDatetime | None = None
    paused_total: timedelta = timedelta(0)
    met_at: AwareDatetime | None = None
    breached_at: AwareDatetime | None = None
    escalation_level: int = Field(default=0, description="Ladder rungs fired since the breach.")
    generation: int = Field(default=0, description="Bumped when restarted or extended.")
    extension_requested_until: AwareDatetime | None = None

    @property
    def running(self) -> bool:
        """Counting now: neither met nor paused."""
        return self.met_at is None and self.paused_since is None

    @property
    def paused(self) -> bool:
        """Paused while waiting for the requester."""
        return self.paused_since is not None

    @property
    def breached(self) -> bool:
        """Passed its due time unmet (and not since extended)."""
        return self.breached_at is not None


class JointAction(Frozen):
    """A scheduled 集结 and the departments that have reported in (报到) at it."""

    action_id: str
    at: AwareDatetime
    place: str
    departments: tuple[str, ...]
    round: int = Field(default=0, description="The case's reopen count when it was scheduled.")
    reported_in: dict[str, AwareDatetime] = Field(
        default_factory=dict, description="Department → when its liaison confirmed arrival."
    )


class Callback(Frozen):
    """The resident's verdict at the latest callback (回访)."""

    at: AwareDatetime
    solved: bool
    satisfied: bool
    score: int
    fault: CallbackFault


class CaseState(Frozen):
    """Everything ``decide`` needs about one case; JSON round-trips (stored in a Faust table)."""

    case_id: str
    seq: int = Field(ge=0, description="Sequence number of the last applied event.")
    status: CaseStatus
    raised_at: AwareDatetime
    community: str
    compound: str | None = None
    grid: str | None = None
    street: str | None = None
    district: str | None = None
    category: str
    urgency: Urgency
    channel: Channel = "whistle"
    title: str = ""
    lead: str | None = None
    supporting: tuple[str, ...] = ()
    assignments: dict[str, Assignment] = Field(default_factory=dict)
    clocks: dict[str, Clock] = Field(default_factory=dict)
    rule_id: str | None = None
    rules_version: str | None = None
    policy: str | None = None
    escalation_ladder: tuple[LadderRung, ...] = ()
    escalation_tier: Tier | None = None
    escalations: int = 0
    joint_actions: tuple[JointAction, ...] = ()
    routed_at: AwareDatetime | None = None
    resolved_at: AwareDatetime | None = None
    outcome: ResolutionOutcome | None = None
    callbacks: int = 0
    last_callback: Callback | None = None
    reopen_count: int = 0
    published_at: AwareDatetime | None = None
    closed_at: AwareDatetime | None = None
    duplicate_of: str | None = None
    applied_command_ids: frozenset[str] = Field(default_factory=frozenset)

    @field_serializer("applied_command_ids")
    def _sorted_ids(self, ids: frozenset[str]) -> list[str]:
        """Sorted, so equal states serialise to equal bytes in every process."""
        return sorted(ids)

    @property
    def area(self) -> str:
        """The most specific area code of the case (grid, else compound, else community)."""
        return case_area(self.community, self.compound, self.grid)

    def active_departments(self) -> tuple[str, ...]:
        """Departments currently assigned, lead first."""
        return tuple(self.assignments)

    def joint_action_departments(self) -> frozenset[str]:
        """Departments in this round's joint actions (since the last reopen), still assigned."""
        named = {
            d
            for action in self.joint_actions
            if action.round == self.reopen_count
            for d in action.departments
        }
        return frozenset(d for d in named if d in self.assignments)

"""The case state folded from events: assignments per department, clocks, lifecycle status.

The state is what ``evolve`` derives after every event and ``decide`` reads before every
command, so it is a plain frozen record (a ``msgspec.Struct``), not a pydantic model: building
and copying one is a C call (``msgspec.structs.replace``), with no validation and no library
internals. It is decoded and encoded only at the edges (the stream's table, the time-travel
read), by :func:`decode_state`, :func:`encode_state` and :func:`state_document`; decoding checks
every field's type as pydantic did. Commands, events and the values inside them remain the
pydantic contracts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec
from pydantic_core import to_jsonable_python

from whistle.domain.areas import case_area
from whistle.domain.types import (
    AssignmentRole,
    CallbackFault,
    CaseStatus,
    Channel,
    ClockKind,
    ClockMode,
    DisputeReason,
    EscalationStep,
    ResolutionOutcome,
    Tier,
    Urgency,
)

Instant = Annotated[datetime, msgspec.Meta(tz=True)]
"""A timezone-aware datetime (pydantic's ``AwareDatetime``)."""


class Record(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    omit_defaults=True,
    forbid_unknown_fields=True,
    gc=False,
):
    """Immutable record of the folded state; unknown fields are refused when decoding, fields
    equal to their default are left out when encoding (a table value ~40 % smaller).

    Each record repeats ``frozen=True, kw_only=True``: msgspec applies ``kw_only`` to the fields
    a class declares itself, and type checkers want ``frozen`` restated.

    ``gc=False``: the cycle collector does not track these records (cheaper to create, and no
    collector passes over a million cached states); safe because a frozen record built from
    values can never be part of a reference cycle.
    """


class Assignment(Record, frozen=True, kw_only=True):
    """One department's part in the case (首接负责 lead or supporting)."""

    department: str
    role: AssignmentRole
    assigned_at: Instant
    acknowledged_at: Instant | None = None
    contacted_at: Instant | None = None
    completed_at: Instant | None = None
    disputed: bool = False
    """An open dispute (退单) awaits a ruling."""
    dispute_reason: DisputeReason | None = None
    disputes: int = 0


class Clock(Record, frozen=True, kw_only=True):
    """One SLA clock of one department; due times already include pauses and extensions."""

    key: str
    kind: ClockKind
    department: str
    mode: ClockMode
    budget: timedelta
    started_at: Instant
    due_at: Instant
    paused_since: Instant | None = None
    paused_total: timedelta = timedelta(0)
    met_at: Instant | None = None
    breached_at: Instant | None = None
    escalation_level: int = 0
    """Ladder rungs fired since the breach."""
    generation: int = 0
    """Bumped when restarted or extended."""
    extension_requested_until: Instant | None = None

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


class Rung(Record, frozen=True, kw_only=True):
    """One step of the case's escalation ladder (a routed ``LadderRung``): fires ``after`` the
    breached clock's due time."""

    step: EscalationStep
    tier: Tier
    after: timedelta


class JointAction(Record, frozen=True, kw_only=True):
    """A scheduled 集结 and the departments that have reported in (报到) at it."""

    action_id: str
    at: Instant
    place: str
    departments: tuple[str, ...]
    round: int = 0
    """The case's reopen count when it was scheduled."""
    reported_in: dict[str, Instant] = {}
    """Department → when its liaison confirmed arrival."""


class Callback(Record, frozen=True, kw_only=True):
    """The resident's verdict at the latest callback (回访)."""

    at: Instant
    solved: bool
    satisfied: bool
    score: int
    fault: CallbackFault


class CaseState(Record, frozen=True, kw_only=True):
    """Everything ``decide`` needs about one case; JSON round-trips (stored in a Faust table)."""

    case_id: str
    seq: Annotated[int, msgspec.Meta(ge=0)]
    """Sequence number of the last applied event."""
    status: CaseStatus
    raised_at: Instant
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
    assignments: dict[str, Assignment] = {}
    clocks: dict[str, Clock] = {}
    rule_id: str | None = None
    rules_version: str | None = None
    policy: str | None = None
    escalation_ladder: tuple[Rung, ...] = ()
    escalation_tier: Tier | None = None
    escalations: int = 0
    joint_actions: tuple[JointAction, ...] = ()
    routed_at: Instant | None = None
    resolved_at: Instant | None = None
    outcome: ResolutionOutcome | None = None
    callbacks: int = 0
    last_callback: Callback | None = None
    reopen_count: int = 0
    published_at: Instant | None = None
    closed_at: Instant | None = None
    duplicate_of: str | None = None
    photos: dict[str, tuple[str, ...]] = {}
    """Photo stage (a department's progress apart) → the SHA-256 of the photos attached."""
    applied_command_ids: frozenset[str] = frozenset()

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


class StateDecodeError(ValueError):
    """Bytes that are not a valid case state."""


_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(CaseState)


def encode_state(state: CaseState) -> bytes:
    """Compact JSON of ``state``, defaults left out; the applied command ids sorted, so equal
    states encode to equal bytes in every process."""
    ids = sorted(state.applied_command_ids)
    return _ENCODER.encode(msgspec.structs.replace(state, applied_command_ids=ids))  # type: ignore[arg-type]


def decode_state(raw: bytes | str) -> CaseState:
    """The state in ``raw`` (as :func:`encode_state` or the pydantic model before it wrote it),
    every field's type checked; ``StateDecodeError`` if it is not one."""
    try:
        return _DECODER.decode(raw)
    except msgspec.DecodeError as exc:
        raise StateDecodeError(f"invalid case state: {exc}") from exc


def _plain(value: Any) -> Any:
    if isinstance(value, msgspec.Struct):
        return {name: _plain(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, frozenset):
        return sorted(value)
    return value


def state_document(state: CaseState) -> dict[str, Any]:
    """``state`` as a JSON-ready dict with every field, defaults included (the time-travel
    read): the same document the pydantic model's ``model_dump(mode="json")`` gave."""
    return to_jsonable_python(_plain(state))  # type: ignore[no-any-return]


def state_from_document(document: dict[str, Any]) -> CaseState:
    """The state a :func:`state_document` describes, every field's type checked."""
    try:
        return msgspec.convert(document, CaseState, strict=False)
    except msgspec.ValidationError as exc:
        raise StateDecodeError(f"invalid case state: {exc}") from exc

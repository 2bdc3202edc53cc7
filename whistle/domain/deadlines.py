"""Pending deadlines of a case for the stream's deadline tracker, and the commands they fire."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from whistle.domain.base import SYSTEM, Command, Frozen
from whistle.domain.commands import BreachClock, Escalate
from whistle.domain.fast import adopt, template_of
from whistle.domain.state import CaseState, Clock
from whistle.domain.types import EscalationStep, Tier

OPEN = frozenset({"routed", "in_progress"})


class Deadline(Frozen):
    """One timer: ``key`` is stable and unique within the case (``ack:urban_management``)."""

    case_id: str
    key: str
    due_at: datetime
    kind: Literal["breach", "escalate"]
    clock_key: str
    level: int | None = None
    step: EscalationStep | None = None
    tier: Tier | None = None


def _base_key(clock: Clock) -> str:
    """Clock key, suffixed by its generation once restarted or extended (keys never repeat)."""
    return clock.key if clock.generation == 0 else f"{clock.key}~{clock.generation}"


def pending_deadlines(state: CaseState) -> list[Deadline]:
    """Every timer the case needs now: unmet clocks' breaches and the next ladder rung.

    Called after every event by the deadline tracker, so built without re-validation.
    """
    if state.status not in OPEN:
        return []
    ladder = state.escalation_ladder
    case_id = state.case_id
    found: list[Deadline] = []
    for clock in state.clocks.values():
        if clock.met_at is not None or clock.paused_since is not None:
            continue
        base = _base_key(clock)
        if clock.breached_at is None:
            data = {
                "case_id": case_id,
                "key": base,
                "due_at": clock.due_at,
                "kind": "breach",
                "clock_key": clock.key,
                "level": None,
                "step": None,
                "tier": None,
            }
        elif clock.escalation_level < len(ladder):
            level = clock.escalation_level + 1
            rung = ladder[level - 1]
            data = {
                "case_id": case_id,
                "key": f"{base}:escalate:{level}",
                "due_at": clock.due_at + rung.after,
                "kind": "escalate",
                "clock_key": clock.key,
                "level": level,
                "step": rung.step,
                "tier": rung.tier,
            }
        else:
            continue
        found.append(adopt(Deadline, data, _DEADLINE_FIELDS))
    return found


_DEADLINE_FIELDS = template_of(Deadline)[1]
assert list(Deadline.model_fields) == [
    "case_id",
    "key",
    "due_at",
    "kind",
    "clock_key",
    "level",
    "step",
    "tier",
], "pending_deadlines builds Deadline fields in declaration order"


def deadline_command(state: CaseState, deadline: Deadline, fired_at: datetime) -> Command:
    """The system command a fired deadline sends to the decider (deterministic command id)."""
    command_id = f"deadline:{state.case_id}:{deadline.key}"
    if deadline.kind == "breach":
        return BreachClock(
            command_id=command_id,
            case_id=state.case_id,
            actor=SYSTEM,
            clock_key=deadline.clock_key,
            deadline_key=deadline.key,
            due_at=deadline.due_at,
            fired_at=fired_at,
        )
    assert deadline.step is not None and deadline.tier is not None
    return Escalate(
        command_id=command_id,
        case_id=state.case_id,
        actor=SYSTEM,
        step=deadline.step,
        tier=deadline.tier,
        clock_key=deadline.clock_key,
        level=deadline.level,
        deadline_key=deadline.key,
        due_at=deadline.due_at,
        fired_at=fired_at,
    )

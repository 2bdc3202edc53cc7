"""Pending deadlines of a case for the stream's deadline tracker, and the commands they fire."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Literal

import msgspec

from whistle.domain.base import SYSTEM, Command, Event, Rejection
from whistle.domain.commands import BreachClock, Escalate
from whistle.domain.decide import decide
from whistle.domain.evolve import evolve
from whistle.domain.prevalidated import builder
from whistle.domain.state import CaseState, Clock
from whistle.domain.types import EscalationStep, Tier

OPEN = frozenset({"routed", "in_progress"})
ESCALATE = ":escalate:"
"""Joins a clock's base key and a ladder level in a rung's deadline key."""


class Deadline(msgspec.Struct, frozen=True, kw_only=True):
    """One timer: ``key`` is stable and unique within the case (``ack:urban_management``).

    A plain frozen record (derived from the state, never decoded): one per pending timer.
    """

    case_id: str
    key: str
    due_at: datetime
    kind: Literal["breach", "escalate"]
    clock_key: str
    level: int | None = None
    step: EscalationStep | None = None
    tier: Tier | None = None


def _open_deadlines(state: CaseState) -> Iterator[tuple[Clock, int | None, datetime]]:
    """(clock, ladder level or None for the breach, due time) of every timer (its key is
    made by the caller, for the timers it keeps: ``_deadline_key``)."""
    if state.status not in OPEN:
        return
    ladder = state.escalation_ladder
    for clock in state.clocks.values():
        if clock.met_at is not None or clock.paused_since is not None:
            continue
        if clock.breached_at is None:
            yield clock, None, clock.due_at
        elif clock.escalation_level < len(ladder):
            level = clock.escalation_level + 1
            yield clock, level, clock.due_at + ladder[level - 1].after


def _deadline_key(clock: Clock, level: int | None) -> str:
    """A timer's key: for its breach the clock's key, suffixed by its generation once
    restarted or extended (keys never repeat); for a ladder rung that and the rung's level."""
    base = clock.key if clock.generation == 0 else f"{clock.key}~{clock.generation}"
    return base if level is None else f"{base}{ESCALATE}{level}"


def pending_deadlines(state: CaseState, due_by: datetime | None = None) -> list[Deadline]:
    """Every timer the case needs now: unmet clocks' breaches and the next ladder rung.

    With ``due_by``, only those due by then.
    """
    ladder = state.escalation_ladder
    case_id = state.case_id
    found: list[Deadline] = []
    for clock, level, due_at in _open_deadlines(state):
        if due_by is not None and due_at > due_by:
            continue
        key = _deadline_key(clock, level)
        if level is None:
            deadline = Deadline(
                case_id=case_id, key=key, due_at=due_at, kind="breach", clock_key=clock.key
            )
        else:
            rung = ladder[level - 1]
            deadline = Deadline(
                case_id=case_id,
                key=key,
                due_at=due_at,
                kind="escalate",
                clock_key=clock.key,
                level=level,
                step=rung.step,
                tier=rung.tier,
            )
        found.append(deadline)
    return found


def pending_times(state: CaseState) -> dict[str, float]:
    """Key → due time (epoch seconds) of every timer, as :func:`pending_deadlines` names them."""
    return {
        _deadline_key(clock, level): due_at.timestamp()
        for clock, level, due_at in _open_deadlines(state)
    }


def deadline_command(state: CaseState, deadline: Deadline, fired_at: datetime) -> Command:
    """The system command a fired deadline sends to the decider (deterministic command id)."""
    command_id = f"deadline:{state.case_id}:{deadline.key}"
    if deadline.kind == "breach":  # built from a validated state: no re-validation
        return _new_breach(
            {
                "command_id": command_id,
                "case_id": state.case_id,
                "actor": SYSTEM,
                "clock_key": deadline.clock_key,
                "deadline_key": deadline.key,
                "due_at": deadline.due_at,
                "fired_at": fired_at,
            }
        )
    assert deadline.step is not None and deadline.tier is not None
    return _new_escalate(
        {
            "command_id": command_id,
            "case_id": state.case_id,
            "actor": SYSTEM,
            "step": deadline.step,
            "tier": deadline.tier,
            "clock_key": deadline.clock_key,
            "level": deadline.level,
            "deadline_key": deadline.key,
            "due_at": deadline.due_at,
            "fired_at": fired_at,
        }
    )


_new_breach = builder(BreachClock)
_new_escalate = builder(Escalate)


def breach_command(case_id: str, key: str, due_at: float, fired_at: datetime) -> Command | None:
    """The tracker's :class:`BreachClock` for a breach deadline known only by key and due time.

    The deadline index holds (key → due epoch seconds) per case; a breach key is the clock's
    key, suffixed ``~generation`` once restarted or extended, so the command needs no decoded
    state. None for a ladder rung's key (:func:`deadline_command` builds those from the state).
    ``due_at`` is informative: the decision reads the clock's own due time.
    """
    if ESCALATE in key:
        return None
    return BreachClock(
        command_id=f"deadline:{case_id}:{key}",
        case_id=case_id,
        actor=SYSTEM,
        clock_key=key.split("~", 1)[0],
        deadline_key=key,
        due_at=datetime.fromtimestamp(due_at, tz=UTC),
        fired_at=fired_at,
    )


def fire_due(state: CaseState, now: datetime) -> tuple[CaseState, list[Event]]:
    """Decide every deadline of the case due by ``now``, and those their events bring due.

    The tracker's firings, each decided in turn as :func:`deadline_command` would send it at
    ``now`` (the breaches of clocks due together, then the ladder rungs that the breaches bring
    due: the first 催办 comes with its breach): the events, in order, and the state after them.
    Deterministic in (state, now), so a replay decides them identically; each deadline is tried
    once, and one whose decision changes nothing (met, moved, not yet due) is left alone.
    The result is what the tracker firing each of them at ``now`` would have caused.
    """
    tried: set[str] = set()
    events: list[Event] = []
    while True:
        due = sorted(
            (d for d in pending_deadlines(state, due_by=now) if d.key not in tried),
            key=lambda d: (d.due_at, d.key),
        )
        if not due:
            return state, events
        for deadline in due:
            tried.add(deadline.key)
            outcome = decide(state, deadline_command(state, deadline, now), now)
            if isinstance(outcome, Rejection):  # never for the system's own firings
                continue
            for event in outcome:
                state = evolve(state, event)
                events.append(event)

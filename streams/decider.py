"""The case decider: one writer per case, turning commands into events with the pure core.

``decide_batch`` is Faust-free: it reads states through a lookup function, calls the domain,
and returns what to publish and what to store. The agent in ``streams.app`` publishes the
events, waits until the broker has them, and only then stores the new states, so a crash can
repeat a decision (identically: time is the command record's timestamp) but never lose one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from streams.deadlines import Pending
from whistle.domain import (
    CaseState,
    Command,
    DecodeError,
    Event,
    Rejection,
    decide,
    encode,
    evolve,
    parse_command,
    pending_deadlines,
)
from whistle.logs import get_logger

log = get_logger()


@dataclass(frozen=True)
class CommandRecord:
    """One command record as read from Kafka."""

    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    partition: int = 0
    offset: int = 0
    origin: object = None
    """The transport's own handle of the record (a Faust event), handed back per case."""


@dataclass
class BatchResult:
    """Everything a batch of decisions wants published and stored."""

    events: list[tuple[str, bytes]] = field(default_factory=list)
    replies: list[tuple[str, bytes]] = field(default_factory=list)
    dead_letters: list[tuple[bytes | None, bytes | None, str]] = field(default_factory=list)
    states: dict[str, bytes] = field(default_factory=dict)
    deadlines: dict[str, Pending] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    origins: dict[str, object] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        """Tally one outcome for the metrics."""
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


def encode_state(state: CaseState) -> bytes:
    """Table value of a case state."""
    return state.model_dump_json().encode()


def decode_state(raw: bytes | None) -> CaseState | None:
    """Inverse of :func:`encode_state`."""
    return CaseState.model_validate_json(raw) if raw else None


def pending_of(state: CaseState) -> Pending:
    """The case's pending deadlines as (key → due epoch seconds)."""
    return {d.key: d.due_at.timestamp() for d in pending_deadlines(state)}


def reply(command: Command, status: str, **extra: object) -> tuple[str, bytes]:
    """A reply record for the API: key = command id."""
    body: dict[str, object] = {"command_id": command.command_id, "case_id": command.case_id}
    body["status"] = status
    body.update(extra)
    return command.command_id, json.dumps(body, ensure_ascii=False, default=str).encode()


def decide_batch(
    records: list[CommandRecord], load: Callable[[str], CaseState | None]
) -> BatchResult:
    """Decide a batch of commands in order; states chain within the batch."""
    result = BatchResult()
    states: dict[str, CaseState | None] = {}
    for record in records:
        try:
            command = parse_command(record.value or b"")
        except DecodeError as exc:
            result.dead_letters.append((record.key, record.value, str(exc)))
            result.count("dead_letter")
            continue
        case_id = command.case_id
        state = states[case_id] if case_id in states else load(case_id)
        now = datetime.fromtimestamp(record.timestamp_ms / 1000, tz=UTC)
        outcome = decide(state, command, now)
        if isinstance(outcome, Rejection):
            result.replies.append(
                reply(command, "rejected", code=outcome.code, message=outcome.message)
            )
            result.count("rejected")
            log.info("command_rejected", case_id=case_id, code=outcome.code, type=command.type)
            continue
        if not outcome:
            result.replies.append(reply(command, "duplicate"))
            result.count("duplicate")
            continue
        state = _apply(state, outcome, result)
        states[case_id] = state
        result.states[case_id] = encode_state(state)
        result.origins[case_id] = record.origin
        result.deadlines[case_id] = pending_of(state)
        result.replies.append(
            reply(command, "accepted", events=[e.model_dump(mode="json") for e in outcome])
        )
        result.count("accepted")
    return result


def _apply(state: CaseState | None, events: list[Event], result: BatchResult) -> CaseState:
    """Fold the new events into the state and queue them for the log."""
    for event in events:
        state = evolve(state, event)
        result.events.append((event.case_id, encode(event)))
    assert state is not None
    return state

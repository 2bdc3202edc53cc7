"""``decide``: the one place that turns a command on a case into events or a rejection.

Pure: time is passed in; the only data read are the packaged registries and calendar. The
deciders of each lifecycle phase live in ``whistle.domain.decisions``.
"""

from __future__ import annotations

from datetime import datetime

from whistle.domain.authz import authorize
from whistle.domain.base import Command, Event, Rejection
from whistle.domain.decisions import DECIDERS, Ctx
from whistle.domain.state import CaseState


def decide(state: CaseState | None, command: Command, now: datetime) -> list[Event] | Rejection:
    """The events ``command`` causes on ``state`` at ``now``, or why it is refused.

    A command whose ``command_id`` was already applied yields ``[]`` (the retry no-op).
    """
    if now.tzinfo is None:
        raise ValueError("decide needs a timezone-aware 'now'")
    if state is not None:
        if command.command_id in state.applied_command_ids:
            return []
        if command.case_id != state.case_id:
            return Ctx(state, command, now).reject(
                "wrong_case", case_id=command.case_id, state_case_id=state.case_id
            )
    kind = command.type
    decider = DECIDERS.get(kind)
    if decider is None:
        return Ctx(state, command, now).reject("unknown_command", command=kind)
    if state is None and kind != "RaiseWhistle":
        return Ctx(state, command, now).reject("case_not_found", case_id=command.case_id)
    denied = authorize(state, command)
    if denied is not None:
        return denied
    return decider(Ctx(state, command, now), state, command)

"""A case's event log as the stream worker writes it, for the what-if's unit tests.

Each human command goes through the worker's own ``decide_batch`` (with the router of the
version in force); before it, the deadlines come due are fired as the deadline tracker fires
them (``breach_command``/``deadline_command`` at due + ``lateness``, one record per case,
decided by ``decide_batch`` as a fired record). Nothing here is the what-if's code.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson

from streams.decider import CommandRecord, decide_batch, decode_state
from whistle.config.versions import ConfigVersion
from whistle.domain import Command, breach_command, deadline_command, encode, pending_deadlines
from whistle.whatif.replay import Proposed


class LiveCase:
    """One case decided by the worker's code; ``events`` is its log (dicts, as read off it)."""

    def __init__(self, version: ConfigVersion, lateness: timedelta = timedelta(0)) -> None:
        self.router = Proposed(version)
        self.lateness = lateness
        self.value: bytes | None = None
        self.events: list[dict[str, Any]] = []

    def _decide(self, command: Command, at: datetime, fired: bool) -> None:
        self.router.enter()
        record = CommandRecord(
            key=command.case_id.encode(),
            value=encode(command),
            timestamp_ms=round(at.timestamp() * 1000),
            fired=fired,
        )
        result = decide_batch([record], lambda _case, _p: self.value, self.router.route)
        self.events += [orjson.loads(body) for _, body in result.events]
        self.value = result.states.get(command.case_id, self.value)

    def fire_until(self, limit: datetime) -> None:
        """Fire, as the tracker does, every deadline whose firing time is before ``limit``."""
        while True:
            state = decode_state(self.value)
            if state is None:
                return
            pending = sorted(pending_deadlines(state), key=lambda d: d.due_at)
            if not pending or pending[0].due_at + self.lateness >= limit:
                return
            first = pending[0]
            when = first.due_at + self.lateness
            command = breach_command(state.case_id, first.key, first.due_at.timestamp(), when)
            if command is None:
                command = deadline_command(state, first, when)
            before = len(self.events)
            self._decide(command, when, fired=True)
            if len(self.events) == before:
                return

    def do(self, command: Command, at: datetime) -> None:
        """A person's command at ``at``, after the deadlines due before it."""
        self.fire_until(at)
        self._decide(command, at, fired=False)


def live_log(
    version: ConfigVersion,
    script: list[tuple[Command, datetime]],
    horizon: datetime,
    lateness: timedelta = timedelta(0),
) -> list[dict[str, Any]]:
    """The log of one case: ``script`` decided by the worker, deadlines fired up to ``horizon``."""
    case = LiveCase(version, lateness)
    for command, at in script:
        case.do(command, at)
    case.fire_until(horizon + timedelta(microseconds=1))
    return case.events

"""Cross-case reactions (process managers): an event on one case sends commands to others.

The decider holds one case, so a step that changes two cases decides the part that can be
refused on its own case, and declares here what follows on the other one. A reaction is a pure
function of the event; the commands it returns carry ids derived from the event id, so a
replayed decision sends the same commands again and their deciders see duplicates. The worker
(``streams.decider``) sends them to the commands topic with the events, before it stores the
new state: a crash repeats them, never loses them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

from whistle.domain.base import Command, Event

Reaction = Callable[[Any], list[Command]]

REACTIONS: dict[str, Reaction] = {}
"""Event type → the commands it sends to other cases, filled by ``@reacts_to``."""

REACTION_NAMESPACE = uuid.UUID("3d0f6a8e-51c2-4b7a-9e0d-7c2a4f1b6e35")


def reacts_to(event: type[Event]) -> Callable[[Reaction], Reaction]:
    """Register the decorated function as the reaction to ``event`` (one per event type)."""
    name = event.__name__

    def register(fn: Reaction) -> Reaction:
        if name in REACTIONS:
            raise TypeError(f"{name} has two reactions: {REACTIONS[name].__name__}, {fn.__name__}")
        REACTIONS[name] = fn
        return fn

    return register


def reaction_command_id(event: Event, command: type[Command]) -> str:
    """The id of ``command`` sent in reaction to ``event``: the same on every replay."""
    return str(uuid.uuid5(REACTION_NAMESPACE, f"{event.event_id}:{command.__name__}"))


def follow_ups(events: Iterable[Event]) -> list[Command]:
    """The commands ``events`` send to other cases, in order."""
    commands: list[Command] = []
    for event in events:
        reaction = REACTIONS.get(event.type)
        if reaction is not None:
            commands.extend(reaction(event))
    return commands

"""The interface every channel implements, and where a message goes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from whistle.delivery.attempt import AttemptResult
from whistle.notify.message import Message


@dataclass(frozen=True)
class Destination:
    """A recipient's address on one channel: an e-mail address, a robot's webhook URL (with
    its signing secret, when the robot signs), or a phone number."""

    target: str
    secret: str | None = None

    def __repr__(self) -> str:  # never print a robot's secret or the whole webhook token
        return (
            f"Destination(target={_redact(self.target)!r}, secret={'***' if self.secret else None})"
        )


def _redact(target: str) -> str:
    head, sep, _ = target.partition("?")
    return f"{head}{sep}***" if sep else target


class Channel(Protocol):
    """Sends one message to one destination, once; never raises for a failure of the
    receiver or the network: the result says what happened, and the shared
    :func:`whistle.delivery.attempt.judge` decides between delivered, retry, dead and gone."""

    name: str

    async def send(self, message: Message, to: Destination) -> AttemptResult:
        """One attempt."""
        ...

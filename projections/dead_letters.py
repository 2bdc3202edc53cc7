"""Records of the event log the projector cannot read go to the dead-letter topic.

The stream worker no longer reads the event log (it routes in the decider's own step), so the
projector, the log's main reader, is where a malformed event or an unknown schema version is
caught: it is produced to ``<prefix>.dead-letters`` with the reason and the original bytes
before the batch's checkpoint moves past it, and the projection goes on.
"""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaProducer

from whistle.domain import DecodeError, parse_event
from whistle.logs import get_logger
from whistle.topics import CASE_EVENTS, DEAD_LETTERS

log = get_logger()


def dead_letter_topic(events_topic: str) -> str | None:
    """``<prefix>.dead-letters`` beside ``<prefix>.case-events`` (None for another name)."""
    prefix, dot, name = events_topic.rpartition(".")
    return f"{prefix}{dot}{DEAD_LETTERS.name}" if name == CASE_EVENTS.name else None


def reason(value: bytes | None) -> str:
    """Why a record is not a readable case event, in the domain decoder's words."""
    try:
        parse_event(value or b"")
    except DecodeError as exc:
        return str(exc)
    return "not a case event this projector can apply"


class DeadLetters:
    """A producer started on first use; ``send`` returns once the broker has the records."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self._producer: AIOKafkaProducer | None = None

    async def send(self, records: list[Any], source: str) -> None:
        """Dead-letter these consumer records (key, value and a reason header each)."""
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap, enable_idempotence=True, acks="all"
            )
            await producer.start()
            self._producer = producer
        futures = []
        for rec in records:
            why = reason(rec.value)
            log.warning("dead_letter", source=source, reason=why[:200], offset=rec.offset)
            headers = [("reason", why.encode()[:1000]), ("source-topic", source.encode())]
            futures.append(
                await self._producer.send(self.topic, rec.value, key=rec.key, headers=headers)
            )
        for future in futures:
            await future

    async def stop(self) -> None:
        """Flush and close the producer, if it was started."""
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

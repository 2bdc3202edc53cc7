"""The decider's output, published in the order that makes a crash repeat a decision, never
lose one.

A decided batch (``streams.decider.BatchResult``) is published in four steps, each waiting
until the broker has the previous one's records: the events are appended to the case log,
the follow-up commands to other cases (``whistle.domain.reactions``) and the dead letters
sent; then the new states are stored (``streams.state_store``: changelog,
then local); then the replies are queued, best effort and without waiting (the API falls back
to 202 without a reply). The batch's records are acknowledged only after this, so a crash
anywhere repeats the decision (identically: time is the command record's timestamp), and the
local store is never ahead of the case log. A case's events go to its commands' partition
(co-partitioned topics, the partition its key would choose) without hashing the key again.

Its ports are a producer (:class:`Producer`, the worker's ``LazyProducer``) and the store's
``write``; the unit tests give it fakes that record the order of what was sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol

from streams import worker_metrics
from streams.decider import BatchResult
from streams.producer import Keyed, partition_of
from whistle.logs import get_logger
from whistle.topics import CASE_COMMANDS, CASE_EVENTS, CASE_REPLIES, DEAD_LETTERS, TopicSpec

log = get_logger()


class Producer(Protocol):
    """What the publisher needs of the worker's producer (``streams.producer.LazyProducer``)."""

    async def start_once(self) -> Any:
        """The started producer."""
        ...

    async def send(
        self, topic: str, value: bytes | None, key: bytes | None, headers: Any = None
    ) -> Awaitable[Any]:
        """Queue one record; the returned future resolves when the broker has it."""
        ...

    async def send_batched(
        self,
        topic: str,
        records: Iterable[Keyed],
        partitions: Iterable[int],
        headers: list[tuple[str, bytes]] | None = None,
    ) -> list[tuple[asyncio.Future[Any], int]]:
        """Queue records as one batch per partition; (future, records) per batch."""
        ...


class Publisher:
    """Publishes decided batches, and the deadline tracker's commands, on the worker's topics."""

    def __init__(
        self,
        producer: Producer,
        store: Callable[[BatchResult], Awaitable[None]],
        topic: Callable[[str], str],
        partitions: int,
    ) -> None:
        self.producer = producer
        self.store = store
        """Stores a batch's new states (changelog, then local), returning once stored."""
        self.topic = topic
        """The full name of a topic (the settings' prefix)."""
        self.partitions = partitions

    async def publish(self, result: BatchResult) -> None:
        """Events and dead letters, then the states, then the replies (see the module)."""
        events = [(case_id.encode(), body) for case_id, body in result.events]
        sent = [self.dead_letter(k, v, why, CASE_COMMANDS) for k, v, why in result.dead_letters]
        partitions = [result.partitions[case_id] for case_id, _ in result.events]
        batches = await self.send_batched(CASE_EVENTS, events, partitions)
        # Commands to other cases (whistle.domain.reactions), keyed by their case id as the
        # API keys them: before the state is stored, so a crash repeats them (their ids are
        # deterministic), never loses them.
        follow_ups = [(case_id.encode(), body) for case_id, body in result.follow_ups]
        batches += await self.send_batched(CASE_COMMANDS, follow_ups)
        await self.delivered(sent)
        for future, _ in batches:
            await future
        if result.states:
            await self.store(result)
        # Best effort, queued without waiting: the API falls back to 202 without a reply.
        replies = [(command_id.encode(), body) for command_id, body in result.replies]
        await self.send_batched(CASE_REPLIES, replies)
        worker_metrics.EVENTS_APPENDED.inc(len(result.events))
        for outcome, n in result.outcomes.items():
            worker_metrics.COMMANDS.labels(outcome).inc(n)

    async def send_batched(
        self,
        spec: TopicSpec,
        records: Sequence[Keyed],
        partitions: Sequence[int] | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> list[Any]:
        """Queue keyed records, one batch per partition; await each future for delivery.

        Without ``partitions``, each record goes to its key's default partition over the
        configured count (every topic has it: ``whistle.topics``), as ``send`` would choose.
        """
        if not records:
            return []
        if partitions is None:
            n = self.partitions
            partitions = [partition_of(key, n) for key, _ in records]
        return await self.producer.send_batched(self.topic(spec.name), records, partitions, headers)

    async def delivered(self, sends: list[Awaitable[Any]]) -> None:
        """Wait until the broker acknowledged every queued record."""
        await self.producer.start_once()
        futures = [await s for s in sends]  # all queued before the first wait
        for future in futures:
            await future

    def dead_letter(
        self, key: bytes | None, value: bytes | None, reason: str, source: TopicSpec
    ) -> Awaitable[Any]:
        """Queue a record no decision could be made of on the dead-letter topic."""
        log.warning("dead_letter", source=source.name, reason=reason[:200])
        headers = [("reason", reason.encode()[:1000]), ("source-topic", source.name.encode())]
        return self.producer.send(self.topic(DEAD_LETTERS.name), value, key, headers=headers)

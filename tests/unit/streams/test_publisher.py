"""A decided batch is published events first, then states, then replies."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import Any

from streams.decider import BatchResult
from streams.producer import Keyed, partition_of
from streams.publisher import Publisher
from whistle.topics import CASE_COMMANDS


class FakeProducer:
    """Logs what is queued and when the broker acknowledges it (on the next loop turn)."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.records: dict[str, list[tuple[bytes | None, bytes | None, int | None, Any]]] = {}

    def _queued(self, topic: str, what: str) -> asyncio.Future[Any]:
        self.log.append(f"queued {what} on {topic}")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def ack() -> None:
            self.log.append(f"acked {what} on {topic}")
            future.set_result(None)

        asyncio.get_running_loop().call_soon(ack)
        return future

    async def start_once(self) -> Any:
        return self

    async def send(
        self, topic: str, value: bytes | None, key: bytes | None, headers: Any = None
    ) -> Awaitable[Any]:
        self.records.setdefault(topic, []).append((key, value, None, headers))
        return self._queued(topic, (key or b"").decode())

    async def send_batched(
        self,
        topic: str,
        records: Iterable[Keyed],
        partitions: Iterable[int],
        headers: list[tuple[str, bytes]] | None = None,
    ) -> list[tuple[asyncio.Future[Any], int]]:
        out = []
        for (key, value), partition in zip(records, partitions, strict=True):
            self.records.setdefault(topic, []).append((key, value, partition, headers))
            out.append((self._queued(topic, key.decode()), 1))
        return out


def publisher(producer: FakeProducer) -> Publisher:
    async def store(result: BatchResult) -> None:
        producer.log.append(f"stored {sorted(result.states)}")

    return Publisher(producer, store, lambda name: f"t-{name}", partitions=4)


def decided() -> BatchResult:
    result = BatchResult()
    result.events = [("case-1", b'{"seq": 1}')]
    result.replies = [("cmd-1", b'{"status": "accepted"}')]
    result.dead_letters = [(b"bad", b"not json", "does not parse")]
    result.states = {"case-1": b"state"}
    result.partitions = {"case-1": 3}
    return result


async def test_events_and_dead_letters_are_acknowledged_before_states_then_replies() -> None:
    producer = FakeProducer()
    await publisher(producer).publish(decided())
    assert producer.log == [
        "queued case-1 on t-case-events",
        "queued bad on t-dead-letters",
        "acked case-1 on t-case-events",
        "acked bad on t-dead-letters",
        "stored ['case-1']",
        "queued cmd-1 on t-case-replies",  # not waited for
    ]
    assert producer.records["t-case-events"] == [(b"case-1", b'{"seq": 1}', 3, None)]
    key, value, _, headers = producer.records["t-dead-letters"][0]
    assert (key, value) == (b"bad", b"not json")
    assert headers == [("reason", b"does not parse"), ("source-topic", b"case-commands")]


async def test_follow_up_commands_reach_the_broker_before_the_state_is_stored() -> None:
    """A reaction's command to another case (a merge recorded on the original) is on the
    commands topic, in its own case's partition, before the deciding case's state is stored."""
    producer = FakeProducer()
    result = decided()
    result.follow_ups = [("case-9", b'{"type": "RecordMerge"}')]
    await publisher(producer).publish(result)
    log = producer.log
    assert log.index("acked case-9 on t-case-commands") < log.index("stored ['case-1']")
    assert producer.records["t-case-commands"] == [
        (b"case-9", b'{"type": "RecordMerge"}', partition_of(b"case-9", 4), None)
    ]


async def test_a_batch_without_new_states_stores_nothing() -> None:
    producer = FakeProducer()
    result = BatchResult(replies=[("cmd-2", b'{"status": "duplicate"}')])
    await publisher(producer).publish(result)
    assert not any(line.startswith("stored") for line in producer.log)


async def test_records_without_partitions_go_to_their_keys_partition() -> None:
    producer = FakeProducer()
    records = [(f"case-{i}".encode(), b"x") for i in range(8)]
    await publisher(producer).send_batched(CASE_COMMANDS, records, headers=[("h", b"1")])
    sent = producer.records["t-case-commands"]
    assert [p for _, _, p, _ in sent] == [partition_of(k, 4) for k, _ in records]
    assert all(h == [("h", b"1")] for _, _, _, h in sent)
    assert await publisher(producer).send_batched(CASE_COMMANDS, []) == []

"""The case store writes the changelog before the local database, and reads what it wrote."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
import pytest

from streams.deadlines import encode_pending
from streams.decider import VALUE_V1, BatchResult, pending_in
from streams.producer import Keyed, partition_of
from streams.state_store import CaseStore, FaustTableStorage

CHANGELOG = "t-streams-cases-changelog"


class DictStorage:
    """A table's storage as plain dictionaries, one per partition; logs what it is asked."""

    changelog_topic = CHANGELOG

    def __init__(self, log: list[str]) -> None:
        self.dbs: dict[int, dict[bytes, bytes]] = {}
        self.persisted: dict[int, int] = {}
        self.log = log

    def db(self, partition: int) -> Any:
        storage = self

        class DB:
            def get(self, key: bytes) -> bytes | None:
                return storage.dbs.get(partition, {}).get(key)

            def put(self, key: bytes, value: bytes) -> None:
                storage.log.append(f"put {key.decode()}@{partition}")
                storage.dbs.setdefault(partition, {})[key] = value

        return DB()

    def items(self, partition: int) -> Iterator[tuple[bytes, bytes]]:
        return iter(sorted(self.dbs.get(partition, {}).items()))

    def set_persisted_offset(self, partition: int, offset: int) -> None:
        self.log.append(f"persisted {offset}@{partition}")
        self.persisted[partition] = offset


@dataclass
class Meta:
    partition: int
    offset: int


class FakeChangelog:
    """A producer whose batches are acknowledged once the test lets them through."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.next_offset: dict[int, int] = {}
        self.sent: list[tuple[str, list[Keyed], list[int]]] = []

    async def send_batched(
        self, topic: str, records: Iterable[Keyed], partitions: Iterable[int]
    ) -> list[tuple[asyncio.Future[Any], int]]:
        records, partitions = list(records), list(partitions)
        self.sent.append((topic, records, partitions))
        loop = asyncio.get_running_loop()
        out = []
        for partition in sorted(set(partitions)):
            count = partitions.count(partition)
            first = self.next_offset.get(partition, 0)
            self.next_offset[partition] = first + count
            future: asyncio.Future[Any] = loop.create_future()
            loop.call_soon(self._ack, future, partition, first)
            out.append((future, count))
        return out

    def _ack(self, future: asyncio.Future[Any], partition: int, first: int) -> None:
        self.log.append(f"changelog acked @{partition}")
        future.set_result(Meta(partition, first))


def state(case_id: str, due: float | None = None) -> bytes:
    """A table value as the decider writes it (``encode_value``); the store never decodes
    the state part, only the pending deadlines before it."""
    pending = encode_pending({} if due is None else {"ack:x": due})
    return b"".join((VALUE_V1, pending, b"\n", b'{"case_id": "%s"}' % case_id.encode()))


def batch(states: dict[str, tuple[int, bytes]]) -> BatchResult:
    result = BatchResult()
    for case_id, (partition, value) in states.items():
        result.states[case_id] = value
        result.partitions[case_id] = partition
    return result


async def test_the_changelog_has_a_state_before_the_local_store_and_offsets() -> None:
    log: list[str] = []
    storage, producer = DictStorage(log), FakeChangelog(log)
    store = CaseStore(storage, producer, partitions=4)
    a, b, c = state("a"), state("b"), state("c")
    await store.write(batch({"a": (1, a), "b": (1, b), "c": (3, c)}))
    assert producer.sent == [(CHANGELOG, [(b"a", a), (b"b", b), (b"c", c)], [1, 1, 3])]
    assert log == [
        "changelog acked @1",
        "changelog acked @3",
        "put a@1",
        "put b@1",
        "put c@3",
        "persisted 1@1",  # the last record of the batch of two
        "persisted 0@3",
    ]
    assert store.load("a", 1) == a and store.load("c", 3) == c
    await store.write(batch({"a": (1, state("a", 5.0))}))
    assert storage.persisted == {1: 2, 3: 0}


async def test_a_batch_without_states_writes_nothing() -> None:
    log: list[str] = []
    producer = FakeChangelog(log)
    await CaseStore(DictStorage(log), producer, partitions=4).write(BatchResult())
    assert producer.sent == [] and log == []


def test_a_case_without_its_partition_is_read_from_its_keys_partition() -> None:
    storage = DictStorage([])
    store = CaseStore(storage, FakeChangelog([]), partitions=4)
    partition = partition_of(b"case-7", 4)
    storage.dbs[partition] = {b"case-7": state("case-7", 9.0)}
    assert store.load("case-7") == storage.dbs[partition][b"case-7"]
    assert store.pending("case-7") == {"ack:x": 9.0}
    assert store.load("nobody") is None and store.pending("nobody") == {}


def test_rows_are_the_owned_partitions_cases_with_deadlines() -> None:
    storage = DictStorage([])
    storage.dbs = {
        0: {b"a": state("a", 1.0), b"idle": state("idle")},
        1: {b"b": state("b", 2.0)},
        2: {b"c": state("c", 3.0)},
    }
    store = CaseStore(storage, FakeChangelog([]), partitions=4)
    assert list(store.rows({1, 0})) == [("a", {"ack:x": 1.0}), ("b", {"ack:x": 2.0})]


@pytest.fixture
def faust_table(tmp_path: Path) -> Any:
    app = faust.App("t", broker="kafka://127.0.0.1:1", store="rocksdb://", datadir=str(tmp_path))
    return app.Table("cases", partitions=4, key_type=bytes, value_type=bytes)


async def test_faust_rocksdb_storage_round_trip(faust_table: Any) -> None:
    storage = FaustTableStorage(faust_table)
    assert storage.changelog_topic == "t-cases-changelog"
    store = CaseStore(storage, FakeChangelog([]), partitions=4)
    value = state("a", 4.0)
    await store.write(batch({"a": (2, value), "idle": (2, state("idle"))}))
    assert store.load("a", 2) == value
    assert list(store.rows({0, 1, 2, 3})) == [("a", {"ack:x": 4.0})]  # no offset key row
    persisted = faust_table.data.persisted_offset(faust.types.TP(storage.changelog_topic, 2))
    assert persisted == 1
    assert pending_in(store.load("idle", 2)) == {}

"""The case state store: the ``cases`` table's local RocksDB and its changelog, kept in step.

Each case's value (its pending deadlines, then its state: ``streams.decider.encode_value``)
lives in the RocksDB database of its commands' partition, and every write goes first to the
table's changelog topic, the record another worker recovers the partition from. The store
writes a batch's states to the changelog with the worker's own producer (Faust's per-record
path cost ~0.2 ms each), waits until the broker has them, then writes them locally, then stores
the changelog offsets it reached once per partition, as Faust's recovery expects: the local
store is never ahead of the changelog. Reads go straight to a partition's database (Faust's
mapping interface cost two lookups and several wrappers a read, ~7 % of the worker's CPU).

The store reaches the table through :class:`TableStorage` (Faust's, below:
:class:`FaustTableStorage`) and the changelog through :class:`ChangelogProducer`, so it runs
without a broker against plain dictionaries in the unit tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from faust.types import TP

from streams.deadlines import Pending
from streams.decider import BatchResult, pending_in
from streams.faust_adapter import partition_db, partition_dbs, visible_items
from streams.producer import Keyed, partition_of


class PartitionDB(Protocol):
    """One partition's key-value database (rocksdict's ``Rdict``)."""

    def get(self, key: bytes) -> bytes | None: ...

    def put(self, key: bytes, value: bytes) -> None: ...


class TableStorage(Protocol):
    """A table's local storage, one database per partition, and its changelog's name."""

    changelog_topic: str

    def db(self, partition: int) -> PartitionDB:
        """The database of ``partition`` (opened on first use)."""
        ...

    def items(self, partition: int) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) the partition holds."""
        ...

    def set_persisted_offset(self, partition: int, offset: int) -> None:
        """Remember the changelog offset the partition's local data has reached."""
        ...


class ChangelogProducer(Protocol):
    """What the store needs of the producer (``streams.producer.LazyProducer``)."""

    async def send_batched(
        self, topic: str, records: Iterable[Keyed], partitions: Iterable[int]
    ) -> list[tuple[asyncio.Future[Any], int]]:
        """Queue records, one batch per partition: (future of the first record's metadata,
        records in the batch) per batch."""
        ...


class FaustTableStorage:
    """:class:`TableStorage` over a Faust RocksDB table (``store="rocksdb://"``)."""

    def __init__(self, table: Any) -> None:
        self._store = table.data
        self.changelog_topic: str = table.changelog_topic.get_topic_name()
        self.db: Callable[[int], Any] = partition_dbs(self._store)

    def items(self, partition: int) -> Iterator[tuple[bytes, bytes]]:
        return visible_items(self._store, partition_db(self._store, partition))

    def set_persisted_offset(self, partition: int, offset: int) -> None:
        self._store.set_persisted_offset(TP(self.changelog_topic, partition), offset)


class CaseStore:
    """The cases' table values: read by case, written a batch at a time, changelog first."""

    def __init__(self, storage: TableStorage, producer: ChangelogProducer, partitions: int) -> None:
        self.storage = storage
        self.producer = producer
        self.partitions = partitions
        """The commands topic's partition count (a key's partition when none is given)."""
        self._db = storage.db

    def load(self, case_id: str, partition: int | None = None) -> bytes | None:
        """A case's table value, read straight from its partition's database.

        The partition is the command record's, or the key's by Kafka's default partitioner
        (the API keys commands by case id).
        """
        key = case_id.encode()
        if partition is None:
            partition = partition_of(key, self.partitions)
        return self._db(partition).get(key)

    def pending(self, case_id: str) -> Pending:
        """A case's pending deadlines as the table holds them now."""
        return pending_in(self.load(case_id))

    async def write(self, result: BatchResult) -> None:
        """Changelog first, then the local databases, then the persisted offsets."""
        if not result.states:
            return
        changelog = self.storage.changelog_topic
        records = [(case_id.encode(), value) for case_id, value in result.states.items()]
        partitions: Sequence[int] = [result.partitions[case_id] for case_id in result.states]
        persisted: dict[int, int] = {}
        for future, count in await self.producer.send_batched(changelog, records, partitions):
            meta = await future  # the batch's first record; its others follow it
            last = meta.offset + count - 1
            persisted[meta.partition] = max(last, persisted.get(meta.partition, -1))
        for case_id, value in result.states.items():
            self._db(result.partitions[case_id]).put(case_id.encode(), value)
        for partition, offset in persisted.items():
            self.storage.set_persisted_offset(partition, offset)

    def rows(self, owned: Iterable[int]) -> Iterator[tuple[str, Pending]]:
        """(case id, pending deadlines) of every case of the ``owned`` partitions that has any.

        Read straight from each partition's database: the table's mapping view hashed every
        key to find its partition and wrapped every item (~2/3 of a million-case rebuild).
        """
        for partition in sorted(owned):
            for key, raw in self.storage.items(partition):
                pending = pending_in(raw)
                if pending:
                    yield key.decode(), pending

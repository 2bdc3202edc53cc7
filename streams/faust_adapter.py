"""Every use of faust-streaming's (and mode's) private or untyped state, in one place.

Checked against faust-streaming 0.15.3 (mode-streaming 0.7.1). The worker relies on these to go
faster than Faust's public paths or to see what Faust does not expose; each is named here, with
why, and tests/unit/streams/test_library_adapters.py fails loudly when an upgrade removes one.
Nothing else in the code base touches an underscore attribute of Faust.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from streams.recovery_watchdog import RecoveryProgress

FAUST_VERSION = "0.15.3"
MODE_VERSION = "0.7.1"
"""The versions the attributes below were checked against (``pyproject.toml`` allows the
same minor versions)."""


def committed_offsets(consumer: Any) -> Mapping[TP, int | None]:
    """The offsets the consumer has committed (or found committed), per partition.

    ``Consumer._committed_offset``: Faust keeps them, with no public view; the skip guard
    needs the first offset a partition hands the decider after it was assigned.
    """
    committed: Mapping[TP, int | None] = consumer._committed_offset
    return committed


def partition_db(store: Any, partition: int) -> Any:
    """The RocksDB database (rocksdict ``Rdict``) of one partition of a table's store.

    ``rocksdb.Store._db_for_partition``: the table's mapping interface costs two lookups and
    several wrappers a read (~7 % of the worker's CPU); the partition is known already. Opened
    on first use, then kept by the store (closed when the partition is revoked).
    """
    return store._db_for_partition(partition)


def partition_dbs(store: Any) -> Callable[[int], Any]:
    """:func:`partition_db` of ``store`` as one function of the partition (the decider's
    per-read path: no call in between)."""
    opener: Callable[[int], Any] = store._db_for_partition
    return opener


def visible_items(store: Any, db: Any) -> Iterator[tuple[bytes, bytes]]:
    """A partition database's (key, value) pairs without the store's offset key.

    ``rocksdb.Store._visible_items``: the mapping view hashes every key to find its partition
    and wraps every item (~2/3 of a million-case deadline index rebuild).
    """
    items: Iterator[tuple[bytes, bytes]] = store._visible_items(db)
    return items


def recovery_completed(app: Any) -> bool:
    """Whether the tables' recovery has completed (``app.tables.recovery.completed``).

    Public in Faust's code but absent from its ``TableManagerT`` type, hence here.
    """
    return bool(app.tables.recovery.completed.is_set())


def recovery_progress(app: Any) -> RecoveryProgress | None:
    """Where the tables' recovery of the worker's own (active) partitions is, or None when no
    recovery is in progress.

    ``Recovery.in_recovery``, ``Recovery.active_offsets`` (the last changelog offset applied,
    per partition, updated as each record is read) and ``Recovery.active_highwaters`` (the
    offset it reads up to): public attributes of Faust's recovery service, but neither typed
    nor documented; the recovery watchdog (``streams.recovery_watchdog``) needs them to tell a
    stalled recovery from a slow one. Copies: Faust goes on changing its own.
    """
    recovery = app.tables.recovery
    if not recovery.in_recovery:
        return None
    return RecoveryProgress(dict(recovery.active_offsets), dict(recovery.active_highwaters))


def enable_passive(stream: Any, channel: Any) -> None:
    """Let a stream's processors run as records arrive, with no consumer iterating it.

    ``Stream._enable_passive``: the way Faust's own ``take_events`` buffers a batch;
    ``streams.batching.take_ready`` does the same with another rule for when a batch ends.
    """
    stream._enable_passive(channel)


def transport_configuring_consumer(configure: Callable[[Any], None]) -> type[Any]:
    """Faust's aiokafka transport whose worker consumer ``configure`` adjusts once created.

    Overrides ``AIOKafkaConsumerThread._create_worker_consumer`` and
    ``Consumer._new_consumer_thread``: Faust builds the worker's ``AIOKafkaConsumer`` with
    settings written into that method (``fetch_max_wait_ms=1500``), with no option.
    """

    class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> Any:
            consumer = super()._create_worker_consumer(transport)
            configure(consumer)
            return consumer

    class Consumer(faust_aiokafka.Consumer):
        def _new_consumer_thread(self) -> Any:
            return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    class Transport(faust_aiokafka.Transport):
        pass

    Transport.Consumer = Consumer
    return Transport

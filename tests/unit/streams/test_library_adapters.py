"""The private Faust, mode and aiokafka state the worker uses is still there, and still does
what ``streams.faust_adapter`` and ``streams.aiokafka_adapter`` say it does.

When one of these fails after an upgrade, re-check every attribute of the adapter against the
new version (its docstrings say what each is for), then update the version it names.
"""

from __future__ import annotations

import inspect
from collections.abc import MutableMapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

import faust
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.client import AIOKafkaClient
from faust.tables.recovery import Recovery
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from streams import aiokafka_adapter, faust_adapter
from streams.recovery_watchdog import RecoveryProgress
from streams.transport import FETCH_MAX_WAIT_MS, use_short_fetch_wait


def test_the_installed_versions_are_the_ones_checked() -> None:
    assert version("faust-streaming") == faust_adapter.FAUST_VERSION, (
        "faust-streaming changed: re-check streams/faust_adapter.py, then update FAUST_VERSION"
    )
    assert version("mode-streaming") == faust_adapter.MODE_VERSION, (
        "mode-streaming changed: re-check streams/faust_adapter.py, then update MODE_VERSION"
    )
    assert version("aiokafka") == aiokafka_adapter.AIOKAFKA_VERSION, (
        "aiokafka changed: re-check streams/aiokafka_adapter.py, then update AIOKAFKA_VERSION"
    )


@pytest.fixture
def app(tmp_path: Path) -> faust.App:
    """A Faust app as the worker configures it, never started (no broker needed)."""
    app = faust.App(
        "adapter-test",
        broker="kafka://127.0.0.1:1",
        store="rocksdb://",
        datadir=str(tmp_path),
        topic_partitions=4,
    )
    use_short_fetch_wait(app)
    return app


def table(app: faust.App) -> Any:
    return app.Table("cases", partitions=4, key_type=bytes, value_type=bytes)


def test_committed_offsets_are_the_consumers_mapping(app: faust.App) -> None:
    assert isinstance(app.consumer._committed_offset, MutableMapping)
    tp = TP("commands", 2)
    app.consumer._committed_offset[tp] = 41
    assert faust_adapter.committed_offsets(app.consumer)[tp] == 41
    # Faust still keeps it up to date itself.
    source = inspect.getsource(faust.transport.consumer.Consumer)
    assert "self._committed_offset.update(" in source


def test_a_partition_database_reads_what_the_store_holds(app: faust.App) -> None:
    store = table(app).data
    db = faust_adapter.partition_db(store, 1)
    assert db is faust_adapter.partition_db(store, 1)  # opened once, then kept
    assert faust_adapter.partition_dbs(store)(1) is db
    db.put(b"case-1", b"value")
    store.set_persisted_offset(TP("changelog", 1), 7)  # written into the same database
    assert store.persisted_offset(TP("changelog", 1)) == 7
    assert list(faust_adapter.visible_items(store, db)) == [(b"case-1", b"value")]
    assert list(faust_adapter.visible_items(store, faust_adapter.partition_db(store, 0))) == []


def test_recovery_completed_is_the_table_managers_event(app: faust.App) -> None:
    table(app)
    assert faust_adapter.recovery_completed(app) is False
    app.tables.recovery.completed.set()
    assert faust_adapter.recovery_completed(app) is True


def test_recovery_progress_is_the_recovery_services_offsets(app: faust.App) -> None:
    cases = table(app)
    recovery = app.tables.recovery
    assert recovery.in_recovery is False
    assert faust_adapter.recovery_progress(app) is None
    changelog = TP(cases.changelog_topic.get_topic_name(), 2)
    recovery.add_active(cases, changelog)
    recovery.active_highwaters[changelog] = 8
    recovery.in_recovery = True  # as Recovery._set_recovery_started sets it
    progress = faust_adapter.recovery_progress(app)
    assert progress is not None
    assert progress.offsets == {changelog: None} and progress.highwaters == {changelog: 8}
    recovery.active_offsets[changelog] = 3
    assert progress.offsets == {changelog: None}  # a copy
    assert faust_adapter.recovery_progress(app) == RecoveryProgress({changelog: 3}, {changelog: 8})
    # Faust still keeps them as it reads: the offset of each record applied, the highwaters
    # it reads up to, and the flag while it recovers.
    assert "offsets[tp] = offset" in inspect.getsource(Recovery._slurp_changelogs.fun)
    assert "destination.update(highwaters)" in inspect.getsource(Recovery._build_highwaters)
    assert "active_highwaters" in inspect.getsource(Recovery._restart_recovery.fun)
    assert "self.in_recovery = True" in inspect.getsource(Recovery._set_recovery_started)
    assert "self.in_recovery = False" in inspect.getsource(Recovery._set_recovery_ended)


def test_streams_still_have_a_passive_mode() -> None:
    params = inspect.signature(faust.Stream._enable_passive).parameters
    assert list(params)[:2] == ["self", "channel"]


async def test_the_worker_consumer_gets_the_short_fetch_wait(app: faust.App) -> None:
    assert "_create_worker_consumer" in vars(faust_aiokafka.AIOKafkaConsumerThread)
    assert "_new_consumer_thread" in vars(faust_aiokafka.Consumer)
    consumer = app.consumer
    assert isinstance(consumer, faust_aiokafka.Consumer)
    thread = consumer._new_consumer_thread()
    assert isinstance(thread, faust_aiokafka.AIOKafkaConsumerThread)
    worker_consumer = thread._create_worker_consumer(app.transport)
    assert isinstance(worker_consumer, AIOKafkaConsumer)
    assert worker_consumer._fetch_max_wait_ms == FETCH_MAX_WAIT_MS
    await worker_consumer.stop()


async def test_the_fetch_wait_is_read_when_the_consumer_starts() -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1", fetch_max_wait_ms=1500)
    assert consumer._fetch_max_wait_ms == 1500
    aiokafka_adapter.set_fetch_max_wait_ms(consumer, 100)
    assert consumer._fetch_max_wait_ms == 100
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in inspect.getsource(AIOKafkaConsumer.start)


async def test_a_consumer_still_has_its_client() -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1")
    client = aiokafka_adapter.consumer_client(consumer)
    assert isinstance(client, AIOKafkaClient)
    assert callable(client.force_metadata_update)
    await consumer.stop()


def test_the_client_still_waits_on_a_topics_metadata() -> None:
    wait = AIOKafkaClient._wait_on_metadata
    assert inspect.iscoroutinefunction(wait)
    assert list(inspect.signature(wait).parameters) == ["self", "topic"]

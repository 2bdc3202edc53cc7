"""The Faust glue: the stream worker's Faust app, its topic and table, and what it asks Faust.

Everything Faust-specific about the worker is here and nowhere else in its parts: the app and
its configuration (RocksDB store, static membership, the short fetch wait of
``streams.transport``), the raw-bytes commands topic and ``cases`` table, the registration of
the decider agent, the timers, the ``/metrics`` page and the signal handlers, and the few
questions the other parts ask the consumer (is the worker ready, which partitions it owns,
the committed offsets, seek, high watermark, where table recovery is), plus the translation of
a Faust event into the decider's ``CommandRecord``. The parts themselves (``streams.skip_guard``,
``streams.state_store``, ``streams.deadline_tracker``, ``streams.publisher``) see only plain
values and small interfaces, so they are tested without a broker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import faust
from faust.types import TP
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams import worker_metrics
from streams.decider import FIRED_HEADER, CommandRecord
from streams.faust_adapter import committed_offsets, recovery_completed, recovery_progress
from streams.recovery_watchdog import RecoveryProgress
from streams.transport import use_short_fetch_wait
from whistle.settings import Settings
from whistle.topics import CASE_COMMANDS

TICK_S = 0.1
"""How often the deadline tracker scans its index."""
LAG_EVERY_S = 5.0
ROCKSDB_OPTIONS = {
    "block_cache_size": 64 * 1024**2,  # default is 2 GiB per DB; 12 partitions × 2 tables
    "write_buffer_size": 8 * 1024**2,
    "max_write_buffer_number": 2,
    "max_open_files": 256,
}


class FaustGlue:
    """The Faust app of one worker, with the commands topic and the ``cases`` table."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        datadir = settings.state_dir / "workers" / settings.worker_id
        datadir.mkdir(parents=True, exist_ok=True)
        self.app = faust.App(
            f"{settings.topic_prefix}-streams",
            broker=[f"kafka://{host}" for host in settings.bootstrap.split(",")],
            store="rocksdb://",
            datadir=str(datadir),
            topic_partitions=settings.partitions,
            topic_replication_factor=settings.replication_factor,
            consumer_auto_offset_reset="earliest",
            producer_acks=-1,
            producer_linger_ms=5,
            web_host="127.0.0.1",
            web_port=settings.worker_web_port,
            web_in_thread=False,
            table_cleanup_interval=3600.0,
            # Static membership: a restarted worker takes its partitions back at once.
            consumer_group_instance_id=f"{settings.topic_prefix}-{settings.worker_id}",
            broker_session_timeout=settings.session_timeout_s,
            broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 4),
            broker_rebalance_timeout=2 * settings.session_timeout_s,
        )
        use_short_fetch_wait(self.app)
        self.commands = self._raw_topic(CASE_COMMANDS.name)
        self.commands_topic: str = self.commands.get_topic_name()
        # Raw byte keys; each write is made in the context of the command record it comes
        # from, so the state lands in the partition of the case's commands (co-partitioned).
        # A value holds the case's pending deadlines, then its state (streams.decider).
        self.cases = self._raw_table("cases")

    def _raw_topic(self, name: str) -> Any:
        """A topic of raw bytes keys and values (the domain does its own decoding)."""
        return self.app.topic(
            self.settings.topic(name),
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
        )

    def _raw_table(self, name: str) -> Any:
        """A RocksDB table of raw bytes, partitioned like the commands."""
        return self.app.Table(
            name,
            partitions=self.settings.partitions,
            key_type=bytes,
            value_type=bytes,
            options=ROCKSDB_OPTIONS,
        )

    def register(
        self,
        decider: Callable[[Any], Awaitable[None]],
        scan: Callable[[], Awaitable[None]],
        lag: Callable[[], Awaitable[None]],
        stopping: Callable[[], Awaitable[None]],
        revoked: Callable[[set[TP]], None],
    ) -> None:
        """Run ``decider`` on the commands stream (one at a time), ``scan`` every tick and
        ``lag`` every few seconds; call ``stopping`` once the agents have stopped (before
        Faust closes its own producer) and ``revoked`` with the partitions a rebalance took."""
        self.app.agent(self.commands, name="decider", concurrency=1)(decider)
        self.app.timer(TICK_S, name="deadline-scanner")(scan)
        self.app.timer(LAG_EVERY_S, name="lag-gauge")(lag)
        self.app.page("/metrics")(metrics_page)

        async def on_before_shutdown(*_: Any, **__: Any) -> None:
            await stopping()

        async def on_partitions_revoked(*args: Any, **__: Any) -> None:
            revoked(set(args[1] if len(args) > 1 else ()))  # (sender, revoked)

        self.app.on_before_shutdown.connect(on_before_shutdown)
        self.app.on_partitions_revoked.connect(on_partitions_revoked)

    # ---- what the parts ask the consumer ----------------------------------------------------
    def ready(self) -> bool:
        """Neither rebalancing nor recovering the tables."""
        app = self.app
        return not (app.rebalancing or app.in_recovery) and recovery_completed(app)

    def recovery(self) -> RecoveryProgress | None:
        """Where the tables' recovery is (None: not recovering)."""
        return recovery_progress(self.app)

    def owned_partitions(self) -> frozenset[int]:
        """The commands topic's partitions assigned to this worker."""
        topic = self.commands_topic
        return frozenset(tp.partition for tp in self.app.consumer.assignment() if tp.topic == topic)

    def committed(self) -> Mapping[TP, int | None]:
        """The consumer's committed offsets."""
        return committed_offsets(self.app.consumer)

    async def seek(self, tp: TP, offset: int) -> None:
        """Have the consumer fetch ``tp`` again from ``offset``."""
        await self.app.consumer.seek(tp, offset)

    def lag(self, done: Mapping[TP, int]) -> int | None:
        """Records of the owned commands partitions past the last ``done`` offset of each
        (None: no partition assigned)."""
        total: int | None = None
        for tp in self.app.consumer.assignment():
            if tp.topic != self.commands_topic:
                continue
            try:
                high = self.app.consumer.highwater(tp)
            except Exception:
                continue
            total = (total or 0) + max(0, (high or 0) - (done.get(tp, -1) + 1))
        return total


def command_record(event: Any) -> CommandRecord:
    """The decider's view of a Faust event on the commands topic."""
    message = event.message
    return CommandRecord(
        message.key,
        message.value,
        round(message.timestamp * 1000),  # Faust gives seconds
        message.partition,
        message.offset,
        fired(message.headers),
    )


def fired(headers: Any) -> bool:
    """Whether a command record carries the deadline tracker's header."""
    if not headers:
        return False
    items = headers.items() if isinstance(headers, Mapping) else headers
    return any(key == FIRED_HEADER for key, _ in items)


async def metrics_page(web: Any, request: Any) -> Any:
    """Prometheus exposition of this worker's metrics."""
    # aiohttp refuses a charset inside content_type; the exposition format is UTF-8 anyway.
    content_type = CONTENT_TYPE_LATEST.split("; charset")[0]
    return web.bytes(generate_latest(worker_metrics.REGISTRY), content_type=content_type)

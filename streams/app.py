"""The stream worker: its parts, composed on one Faust app.

* ``streams.glue`` — the Faust glue: the app, the commands topic, the ``cases`` table, the
  agent, timers, page and signals, and what the parts ask the consumer.
* ``streams.decider`` — the pure decision of a batch of commands (``decide_batch``).
* ``streams.publisher`` — a decided batch published in a crash-safe order.
* ``streams.state_store`` — the case states: local RocksDB and changelog, kept in step.
* ``streams.skip_guard`` — the re-read of command records Faust skipped.
* ``streams.deadline_tracker`` — the index of the owned deadlines and their firing.
* ``streams.recovery_watchdog`` — when the tables' recovery has stopped making progress.

:class:`Streams` only connects them: each batch of commands the agent takes is checked by the
guard, decided, published, and its new deadlines indexed; the tracker's firings go to the
commands topic through the same publisher.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from faust.types import TP

from streams import worker_metrics
from streams.batching import take_ready
from streams.deadline_tracker import DeadlineTracker
from streams.decider import FIRED_HEADER, BatchResult, by_urgency, decide_batch
from streams.glue import FaustGlue, command_record
from streams.producer import Keyed, LazyProducer
from streams.publisher import Publisher
from streams.recovery_watchdog import RecoveryWatchdog, Stall
from streams.skip_guard import SkipGuard
from streams.state_store import CaseStore, FaustTableStorage
from whistle.config.follower import ConfigFollower
from whistle.config.seed import configured_seed
from whistle.domain import route
from whistle.domain.areas import use_areas
from whistle.domain.calendar import use_calendar
from whistle.domain.commands import RouteCase
from whistle.domain.events import WhistleRaised
from whistle.logs import get_logger
from whistle.settings import Settings
from whistle.topics import CASE_COMMANDS

log = get_logger()

BATCH_QUIET_S = 0.005
BATCH_EAGER_BELOW = 200
"""A batch of fewer commands than this, or any batch while deadline firings are in flight, is
decided once no new command has arrived for ``BATCH_QUIET_S``; a larger one gathers for the
batch window (``streams.batching``)."""
FIRED = [(FIRED_HEADER, b"1")]


class Streams:
    """The worker's parts on one Faust app: decider, router, state store and deadline tracker."""

    def __init__(self, settings: Settings, on_stall: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self.glue = FaustGlue(settings)
        self.app = self.glue.app
        self.producer = LazyProducer(settings.bootstrap)
        self.store = CaseStore(
            FaustTableStorage(self.glue.cases), self.producer, settings.partitions
        )
        self.publisher = Publisher(self.producer, self._store, settings.topic, settings.partitions)
        self.guard = SkipGuard(self.glue.committed)
        self.tracker = DeadlineTracker(self.glue, self.store, self._fire, settings.deadline_queue_s)
        # The configuration versions: every whistle is routed with the version in force at
        # its own instant (its command record's time), never with one not yet read.
        self.config = ConfigFollower(settings, seed=configured_seed(settings))
        self._batch_max = settings.batch_max
        self._batch_window = settings.batch_window_ms / 1000
        self._last_offsets: dict[TP, int] = {}
        self.watchdog = RecoveryWatchdog(settings.worker_recovery_stall_s)
        self.stalled: Stall | None = None
        """The stalled recovery the watchdog found, once it found one."""
        self._on_stall = on_stall
        self.glue.register(
            decider=self._decider,
            scan=self.tracker.scan,
            lag=self._measure_lag,
            stopping=self._stopping,
            revoked=self.guard.forget,
        )

    async def _stopping(self) -> None:
        """Close our producer (Faust closes its own) and stop following the configuration."""
        await self.producer.stop()
        await self.config.stop()

    async def _decider(self, stream: Any) -> None:
        """The agent: batches of commands, checked, decided, published, then acknowledged."""
        await self._follow_configuration()  # every version read before the first decision
        batches = take_ready(
            stream, self._batch_max, self._batch_window, BATCH_QUIET_S, self._eager
        )
        async for batch in batches:
            records = [command_record(e) for e in batch]
            # The next round is fired, and on its way, before this one is decided.
            await self.tracker.taken(sum(r.fired for r in records))
            skipped = self.guard.check((e.message.tp, e.message.offset) for e in batch)
            if records:  # each command is decided at its record's time: know its version
                await self.config.ensure(max(r.timestamp_ms for r in records) / 1000)
            for part in by_urgency(records):  # whistles first, then the tracker's firings
                started = time.perf_counter()
                result = decide_batch(part, self.store.load, self._route, self._in_force)
                await self.publisher.publish(result)
                self.tracker.measured(result, time.perf_counter() - started, len(part))
            for tp, offset in skipped.items():  # before the batch is acknowledged
                await self.glue.seek(tp, offset)
            for e in batch:
                self._last_offsets[e.message.tp] = e.message.offset
            worker_metrics.AGENT_MESSAGES.labels("decider").inc(len(batch))

    async def _follow_configuration(self) -> None:
        """Start following the configuration topic, retrying while the broker is away."""
        backoff = 1.0
        while True:
            try:
                await self.config.start()
                return
            except Exception as exc:
                log.warning("configuration_unavailable", error=str(exc)[:200], retry_s=backoff)
                await asyncio.sleep(backoff)
                backoff = min(30.0, backoff * 2)

    def _eager(self, gathered: int) -> bool:
        """Whether a batch ends once commands stop arriving for ``BATCH_QUIET_S``."""
        return gathered < BATCH_EAGER_BELOW or self.tracker.in_flight > 0

    def _in_force(self, now: datetime) -> None:
        """The version in force at ``now`` is what the domain checks areas, departments and
        working time against while it decides a command of that instant."""
        version = self.config.at(now)
        config = version.document
        use_areas(config.areas, config.departments)
        use_calendar(version.calendar)

    def _route(self, event: WhistleRaised) -> RouteCase:
        """The router: the version in force at the whistle's instant routes it."""
        worker_metrics.ROUTED.inc()
        version = self.config.at(event.occurred_at)
        config = version.document
        return route(
            config.routing,
            event,
            event.occurred_at,
            policies=config.policies,
            calendar=version.calendar,
            policy_version=version.policy_version,
        )

    async def _store(self, result: BatchResult) -> None:
        """Store a batch's states, then index their deadlines."""
        await self.store.write(result)
        self.tracker.stored(result)

    async def _fire(self, records: list[Keyed]) -> None:
        """The tracker's deadline commands, on the commands topic once the broker has them."""
        for future, _ in await self.publisher.send_batched(CASE_COMMANDS, records, headers=FIRED):
            await future

    async def watch_recovery(self) -> None:
        """Once the tables' recovery has read nothing new for the set time: say so, with what
        it waits for, and call ``on_stall`` (once). Called every second by the worker
        (``streams.worker.Worker``): Faust's own timers start only after the first recovery."""
        if self.stalled is not None:
            return
        stall = self.watchdog.check(time.monotonic(), self.glue.recovery())
        if stall is None:
            return
        self.stalled = stall
        log.error(
            "table_recovery_stalled",
            worker_id=self.settings.worker_id,
            stalled_s=round(stall.seconds, 1),
            limit_s=self.watchdog.stall_after_s,
            behind=stall.described(),
            action="restart" if self._on_stall is not None else "none",
        )
        if self._on_stall is not None:
            self._on_stall()

    async def _measure_lag(self) -> None:
        lag = self.glue.lag(self._last_offsets)
        if lag is not None:
            worker_metrics.CONSUMER_LAG.labels(self.glue.commands_topic).set(lag)

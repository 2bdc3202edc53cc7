"""Following the configuration topic (every process) and appending versions to it (the API).

Each process keeps the versions in a ``History`` and a *watermark*: a wall-clock instant such
that every version in force at an instant before it is already known. The watermark is the
time at which the follower asked the broker for the topic's end offset, once it has read up
to that offset. Why this is enough: a version appended after that question was appended after
the watermark (broker time), and followers ignore a version that takes effect less than
``APPEND_MARGIN`` after its append time (``versions.acceptance``), so any version still unread
takes effect after the watermark, as long as the broker's and this host's clocks differ by
less than the margin. A decider asks ``ensure(t)`` before it decides commands stamped ``t``;
below the watermark that costs nothing, above it one end-offset round trip.

aiokafka is used through its public API only (a consumer without a group, one partition).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from whistle.config.versions import (
    ConfigVersion,
    History,
    Refusal,
    decode_version,
    encode_version,
    seed_version,
)
from whistle.domain.configuration import Configuration
from whistle.logs import get_logger
from whistle.settings import Settings
from whistle.topics import CONFIGURATION, ensure_topics

log = get_logger()

POLL_S = 0.5
"""How often the follower looks for new versions without being asked."""
ENSURE_WAIT_S = 5.0
"""How long ``ensure`` waits for this host's clock to pass an instant stamped ahead of it."""

Listener = Callable[[ConfigVersion], Awaitable[None] | None]


class PublishRefused(Exception):
    """The appended record was not taken as the next version (``reason``: why)."""

    def __init__(self, reason: Refusal | str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConfigFollower:
    """The versions on the configuration topic, followed live."""

    def __init__(
        self,
        settings: Settings,
        seed: Configuration | None = None,
        listeners: list[Listener] | None = None,
        poll_s: float = POLL_S,
    ) -> None:
        self.settings = settings
        self.topic = settings.topic(CONFIGURATION.name)
        self.tp = TopicPartition(self.topic, 0)
        self.history = History()
        self.watermark = 0.0
        self.listeners = list(listeners or [])
        self._seed = seed
        self._poll_s = poll_s
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._started = False

    # ---- life -------------------------------------------------------------------------
    async def start(self) -> None:
        """Read every published version (seeding version 1 on an empty topic), then follow.

        On failure (the broker unreachable) the clients are closed again: call it again.
        """
        if self._started:
            return
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise
        self._started = True
        self._task = asyncio.ensure_future(self._follow())
        last = self.history.last
        assert last is not None
        log.info("configuration_followed", topic=self.topic, version=last.version)

    async def _start(self) -> None:
        await ensure_topics(self.settings, (CONFIGURATION,))
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=50,
        )
        self._consumer = consumer
        await consumer.start()
        consumer.assign([self.tp])
        await consumer.seek_to_beginning(self.tp)
        await self.refresh()
        if self.history.last is None:
            if self._seed is None:
                raise RuntimeError(f"{self.topic} holds no version and there is no seed")
            await self._append(seed_version(self._seed))
            await self.refresh()

    async def stop(self) -> None:
        """Stop following; close the clients."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
        self._task = None
        self._started = False

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(self._poll_s)
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker restarting: try again at the next poll
                log.warning("configuration_follow_failed", error=str(exc)[:200])

    # ---- reading ----------------------------------------------------------------------
    async def refresh(self) -> None:
        """Read up to the end offset the broker has now; move the watermark to now."""
        consumer = self._consumer
        assert consumer is not None, "start() first"
        async with self._lock:
            asked = time.time()
            end = (await consumer.end_offsets([self.tp]))[self.tp]
            while await consumer.position(self.tp) < end:
                batches = await consumer.getmany(self.tp, timeout_ms=1000)
                for record in batches.get(self.tp, []):
                    await self._offer(record)
            self.watermark = max(self.watermark, asked)

    async def _offer(self, record: Any) -> None:
        try:
            version = decode_version(record.value)
        except ValueError as exc:
            log.error(
                "configuration_record_undecodable", offset=record.offset, error=str(exc)[:200]
            )
            return
        appended = datetime.fromtimestamp(record.timestamp / 1000, tz=UTC)
        why = self.history.offer(version, appended)
        if why is None:
            log.info(
                "configuration_version",
                version=version.version,
                kinds=list(version.kinds),
                effective_from=version.effective_from.isoformat(),
            )
            for listener in self.listeners:
                done = listener(version)
                if done is not None:
                    await done
        elif why != "duplicate":
            log.warning("configuration_version_ignored", version=version.version, reason=why)

    async def ensure(self, instant: float) -> None:
        """Return once every version in force at ``instant`` (epoch seconds) is known."""
        if instant < self.watermark:
            return
        deadline = time.monotonic() + ENSURE_WAIT_S
        while True:
            await self.refresh()
            if instant < self.watermark or time.monotonic() > deadline:
                return
            await asyncio.sleep(min(0.05, instant - self.watermark + 0.001))

    def at(self, instant: datetime) -> ConfigVersion:
        """The version in force at ``instant`` (``ensure`` it first)."""
        return self.history.at(instant)

    def current(self) -> ConfigVersion:
        """The version in force now, by this host's clock."""
        return self.history.at(datetime.now(UTC))

    # ---- writing ----------------------------------------------------------------------
    async def publish(self, version: ConfigVersion) -> ConfigVersion:
        """Append ``version`` and read it back; ``PublishRefused`` when it was not taken.

        The caller serialises publishes (``whistle.config.version_table``): this only appends.
        """
        await self._append(version)
        await self.refresh()
        taken = self.history.get(version.version)
        if taken is None or taken.published_at != version.published_at:
            refused = [why for n, why in self.history.refused if n == version.version]
            raise PublishRefused(refused[-1] if refused else "duplicate")
        return taken

    async def _append(self, version: ConfigVersion) -> None:
        if self._producer is None:
            self._producer = AIOKafkaProducer(
                bootstrap_servers=self.settings.bootstrap, acks="all", enable_idempotence=True
            )
            await self._producer.start()
        # A key of its own per record: compaction never drops one, so a reader that starts
        # after a compaction reads the same records in the same order as one that followed
        # live (with the version number as key, a second seed of version 1 appended after
        # version 2 would survive in version 1's place, after version 2).
        key = f"{version.version}/{uuid.uuid4().hex}".encode()
        await self._producer.send_and_wait(
            self.topic, encode_version(version), key=key, partition=0
        )

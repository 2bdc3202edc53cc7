"""The command bus: send a command to the decider and wait, boundedly, for its decision."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import BaseModel

from whistle.logs import get_logger
from whistle.settings import Settings
from whistle.topics import CASE_COMMANDS, CASE_REPLIES, ensure_topics

log = get_logger()


class Decision(BaseModel):
    """The decider's outcome of one command, as published on the replies topic."""

    command_id: str
    case_id: str
    status: Literal["accepted", "rejected", "duplicate"]
    events: list[dict[str, Any]] = []
    code: str | None = None
    params: dict[str, str] = {}
    """What a rejection's message names; people read it rendered from ``code`` and these."""
    message: str | None = None
    """A rejection's message in English (logs); people read ``code`` + ``params`` rendered."""


class DecisionTimeout(Exception):
    """No decision arrived within the bounded wait; the command may still be applied later."""


class CommandBus:
    """Produces commands keyed by case id and resolves each caller's future from the replies."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap,
            enable_idempotence=True,
            linger_ms=2,
        )
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="latest",
        )
        self._waiting: dict[str, asyncio.Future[Decision]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Make the topics if missing, connect, and read replies from the current end.

        Topics first: a consumer or producer naming a missing topic makes a broker that
        auto-creates topics create it with one partition, whichever component starts first.
        """
        await ensure_topics(self._settings)
        await self._producer.start()
        await self._consumer.start()
        topic = self._settings.topic(CASE_REPLIES.name)
        parts = self._consumer.partitions_for_topic(topic) or set()
        if not parts:
            parts = set(range(self._settings.partitions))
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        self._consumer.assign(tps)
        await self._consumer.seek_to_end(*tps)
        for tp in tps:  # resolve the end offsets now, so no reply after start() is missed
            await self._consumer.position(tp)
        self._reader = asyncio.create_task(self._read_replies())

    async def stop(self) -> None:
        """Stop reading and flush what was sent."""
        if self._reader:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._consumer.stop()
        await self._producer.stop()

    async def send(self, command: BaseModel, case_id: str) -> None:
        """Append a command to the commands topic without waiting for its decision."""
        await self._producer.send_and_wait(
            self._settings.topic(CASE_COMMANDS.name),
            key=case_id.encode(),
            value=command.model_dump_json().encode(),
        )

    async def submit(self, command: BaseModel, case_id: str, command_id: str) -> Decision:
        """Send a command and wait for the decider's outcome (raises DecisionTimeout)."""
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self._waiting[command_id] = future
        try:
            await self.send(command, case_id)
            return await asyncio.wait_for(future, self._settings.reply_timeout_s)
        except TimeoutError as exc:
            raise DecisionTimeout(command_id) from exc
        finally:
            self._waiting.pop(command_id, None)

    async def _read_replies(self) -> None:
        async for record in self._consumer:
            try:
                decision = Decision.model_validate(json.loads(record.value or b"{}"))
            except ValueError:
                log.warning("bad_reply", offset=record.offset, partition=record.partition)
                continue
            future = self._waiting.get(decision.command_id)
            if future is not None and not future.done():
                future.set_result(decision)

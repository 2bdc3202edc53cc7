"""A notifier over a real topic, database, SMTP server (aiosmtpd) and robot receivers."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiosmtpd.controller import Controller

from tests.integration.notify.receivers import Platforms
from tests.service_fixtures import restartable_port
from whistle.api.account_store import PgUsers, migrate_api
from whistle.domain.base import SYSTEM, Actor, event_id_for
from whistle.domain.codec import encode
from whistle.domain.events import CaseRouted, ClockBreached, WhistleRaised
from whistle.domain.values import ClockPlan
from whistle.notify.inbox import ensure_schema
from whistle.notify.notifier_store import NotifierStore
from whistle.notify.preferences import Preferences, Robot
from whistle.notify.worker import Notifier
from whistle.settings import Settings
from whistle.topics import CASE_EVENTS
from whistle.webhooks.secretbox import SecretBox

SMTP_PORT, ROBOT_PORT, SMS_PORT = (restartable_port() for _ in range(3))
JINHAI = "tongan.datong.jinhai"
URBAN = "urban_management"
SECRETARY = Actor(user_id="sec-jinhai", role="secretary", area=JINHAI)


@dataclass
class Sink:
    """An SMTP server's mailbox: each accepted message, parsed."""

    messages: list[email.message.EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 2.0.0 queued"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


@contextmanager
def smtp_sink(port: int = SMTP_PORT) -> Iterator[Sink]:
    """A plain SMTP server on 127.0.0.1 (the notifier's ``security = none``)."""
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


def raised(case_id: str, urgency: str = "general") -> WhistleRaised:
    return WhistleRaised(
        event_id=event_id_for(f"{case_id}-raise", 1), case_id=case_id, seq=1,
        occurred_at=datetime.now(UTC), actor=SECRETARY, command_id=f"{case_id}-raise",
        community=JINHAI, category="parking", title="滨海步道违停 13912345678",
        urgency=urgency, channel="whistle",  # type: ignore[arg-type]
    )  # fmt: skip


def routed(case_id: str, ack_in: timedelta = timedelta(hours=2)) -> CaseRouted:
    now = datetime.now(UTC)
    clock = ClockPlan(kind="ack", department=URBAN, mode="calendar", budget=ack_in,
                      started_at=now, due_at=now + ack_in)  # fmt: skip
    return CaseRouted(
        event_id=event_id_for(f"{case_id}-route", 2), case_id=case_id, seq=2, occurred_at=now,
        actor=SYSTEM, command_id=f"{case_id}-route", lead=URBAN, rule_id="parking",
        rules_version="test", policy="default", clocks=(clock,),
    )  # fmt: skip


def breached(case_id: str, seq: int = 3) -> ClockBreached:
    now = datetime.now(UTC)
    return ClockBreached(
        event_id=event_id_for(f"{case_id}-breach", seq), case_id=case_id, seq=seq,
        occurred_at=now, actor=SYSTEM, command_id=f"{case_id}-breach",
        clock_key=f"ack:{URBAN}", kind="ack", department=URBAN, due_at=now,
        lateness=timedelta(seconds=1),
    )  # fmt: skip


@dataclass
class Rig:
    settings: Settings
    store: NotifierStore
    producer: AIOKafkaProducer
    users: PgUsers

    async def publish(self, *events: Any) -> None:
        for event in events:
            await self.producer.send_and_wait(
                self.settings.topic(CASE_EVENTS.name), key=event.case_id.encode(),
                value=encode(event),
            )  # fmt: skip

    async def prefer(self, user_id: str, **kw: Any) -> None:
        await self.store.preferences.put(Preferences(user_id, **kw), actor="test")

    async def group_robot(self, owner: str, robot: Robot) -> None:
        await self.store.preferences.put_group_robot(owner, robot, actor="test")

    async def deliveries(self, **where: str) -> list[asyncpg.Record]:
        rows = await self.store.pool.fetch("SELECT * FROM notify.deliveries ORDER BY 1")
        return [r for r in rows if all(r[k] == v for k, v in where.items())]


async def open_rig(settings: Settings) -> tuple[Rig, asyncpg.Pool]:
    pool = await asyncpg.create_pool(settings.dsn, min_size=1, max_size=10)
    async with pool.acquire() as conn:
        await migrate_api(conn)
        await ensure_schema(conn)
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap)
    await producer.start()
    store = NotifierStore(pool, SecretBox("test-key"))
    return Rig(settings, store, producer, PgUsers(pool, 0.0)), pool


@asynccontextmanager
async def notifier(rig: Rig, delays: tuple[int, ...] = (0, 1)) -> AsyncIterator[Notifier]:
    stop = asyncio.Event()
    running = Notifier(rig.settings, rig.store, delays=delays)
    running.ctx.ttl_s = 0.0
    task = asyncio.create_task(running.run(stop))
    try:
        yield running
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def eventually(check: Any, timeout_s: float = 20.0) -> Any:
    for _ in range(int(timeout_s / 0.1)):
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


def robots(p: Platforms) -> dict[str, Robot]:
    return {
        "wecom": Robot("wecom", p.wecom_url),
        "dingtalk": Robot("dingtalk", p.dingtalk_url, p.dingtalk_secret),
        "feishu": Robot("feishu", p.feishu_url, p.feishu_secret),
    }

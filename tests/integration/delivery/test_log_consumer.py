"""The shared log consumer's sending half over a real outbox (no broker: ``consume=False``):
sends within the concurrency, each attempt recorded once and before what follows it, sends in
flight finished and recorded on stop, a start again after a lost connection, an end on any
other error, and a wake-up by the outbox's NOTIFY."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import aiohttp
import asyncpg
import pytest

from tests.integration.notify.notifier_rig import eventually
from whistle.delivery.log_consumer import LogConsumer, LogRecord
from whistle.delivery.outbox import Attempt, Outbox
from whistle.settings import Settings

pytestmark = pytest.mark.integration

CLAIM = """
UPDATE outbox_demo.deliveries SET next_attempt_at = now() + interval '60 seconds'
 WHERE delivery_id IN (SELECT delivery_id FROM outbox_demo.deliveries
                        WHERE status = 'pending' AND next_attempt_at <= now()
                        ORDER BY delivery_id LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING delivery_id, attempts
"""

Due = tuple[int, int]  # delivery id, attempts before


class Demo:
    """A deliverer over ``outbox_demo``: leases due rows, and each send waits for ``gate``
    (opened by itself once ``concurrency`` sends are in flight) and one database round trip."""

    def __init__(self, pool: asyncpg.Pool, concurrency: int) -> None:
        self.pool = pool
        self.concurrency = concurrency
        self.consumer = LogConsumer(
            Settings(), Outbox(pool, "outbox_demo", "outbox_demo_wake"), self, "demo",
            concurrency, "demo", consume=False,
        )  # fmt: skip
        self.gate = asyncio.Event()
        self.open_when_full = True
        self.in_flight = 0
        self.most = 0
        self.sessions = 0
        self.notified = False
        self.fail: BaseException | None = None
        self.statuses_after_record: list[str] = []

    def session(self) -> aiohttp.ClientSession:
        self.sessions += 1
        return aiohttp.ClientSession()

    async def intake(self, conn: asyncpg.Connection, records: Sequence[LogRecord]) -> bool:
        raise AssertionError("consume=False reads no log")

    async def due(self, free: int, notified: bool) -> list[Due]:
        if self.fail is not None:
            failure, self.fail = self.fail, None
            raise failure
        self.notified |= notified
        rows = await self.pool.fetch(CLAIM, free) if free > 0 else []
        return [(r["delivery_id"], r["attempts"]) for r in rows]

    async def send(self, due: Due) -> None:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        if self.open_when_full and self.in_flight == self.concurrency:
            self.gate.set()
        try:
            await self.gate.wait()
            await self.pool.execute("SELECT pg_sleep(0.005)")
        finally:
            self.in_flight -= 1
        now = datetime.now(UTC)
        self.consumer.record(Attempt(due[0], due[1], now, 5.0, 200, None, "delivered"), due)

    async def recorded(self, batch: Sequence[tuple[Attempt, Due]]) -> None:
        rows = await self.pool.fetch(
            "SELECT status FROM outbox_demo.deliveries WHERE delivery_id = ANY($1::bigint[])",
            [due[0] for _, due in batch],
        )
        self.statuses_after_record += [r["status"] for r in rows]


async def queue(pool: asyncpg.Pool, count: int) -> list[int]:
    """``count`` deliveries due now."""
    rows = await pool.fetch(
        "INSERT INTO outbox_demo.deliveries (recipient, channel, event_id)"
        " SELECT 'u' || n, 'demo', 'ev' FROM generate_series(1, $1) AS n RETURNING delivery_id",
        count,
    )
    return [r["delivery_id"] for r in rows]


async def statuses(pool: asyncpg.Pool) -> dict[str, int]:
    rows = await pool.fetch("SELECT status, count(*) AS n FROM outbox_demo.deliveries GROUP BY 1")
    return {r["status"]: r["n"] for r in rows}


async def attempt_numbers(pool: asyncpg.Pool) -> list[int]:
    return [r[0] for r in await pool.fetch("SELECT attempt FROM outbox_demo.attempts")]


async def test_sends_stay_within_the_concurrency_and_each_is_recorded_once_before_what_follows(
    pool: asyncpg.Pool,
) -> None:
    await queue(pool, 10)
    demo = Demo(pool, concurrency=3)
    stop = asyncio.Event()
    running = asyncio.create_task(demo.consumer.run(stop))
    await eventually(lambda: _all(pool, "delivered", 10))
    stop.set()
    await asyncio.wait_for(running, 30)
    assert demo.most == 3  # the bound was reached, never passed
    assert sorted(await attempt_numbers(pool)) == [1] * 10
    assert demo.statuses_after_record == ["delivered"] * 10  # written before ``recorded``


async def test_on_stop_the_sends_in_flight_finish_and_are_recorded(pool: asyncpg.Pool) -> None:
    await queue(pool, 5)
    demo = Demo(pool, concurrency=2)
    demo.open_when_full = False
    stop = asyncio.Event()
    running = asyncio.create_task(demo.consumer.run(stop))
    await eventually(lambda: _true(demo.in_flight == 2))
    stop.set()
    demo.gate.set()
    await asyncio.wait_for(running, 30)
    assert await statuses(pool) == {"delivered": 2, "pending": 3}
    assert await attempt_numbers(pool) == [1, 1]


async def test_after_a_lost_connection_the_loops_start_again(pool: asyncpg.Pool) -> None:
    await queue(pool, 4)
    demo = Demo(pool, concurrency=2)
    demo.fail = ConnectionResetError("the database went away")
    stop = asyncio.Event()
    running = asyncio.create_task(demo.consumer.run(stop))
    await eventually(lambda: _all(pool, "delivered", 4))
    stop.set()
    await asyncio.wait_for(running, 30)
    assert demo.sessions == 2
    assert sorted(await attempt_numbers(pool)) == [1] * 4


async def test_any_other_error_ends_the_run(pool: asyncpg.Pool) -> None:
    demo = Demo(pool, concurrency=2)
    demo.fail = RuntimeError("a bug")
    with pytest.raises(RuntimeError, match="a bug"):
        await asyncio.wait_for(demo.consumer.run(asyncio.Event()), 30)
    assert demo.sessions == 1


async def test_a_redelivery_notified_on_the_outbox_channel_wakes_the_sender(
    pool: asyncpg.Pool,
) -> None:
    [delivery] = await queue(pool, 1)
    demo = Demo(pool, concurrency=1)
    stop = asyncio.Event()
    running = asyncio.create_task(demo.consumer.run(stop))
    await eventually(lambda: _all(pool, "delivered", 1))
    demo.notified = False
    assert await demo.consumer.outbox.redeliver(delivery)
    await eventually(lambda: _true(demo.notified))
    await eventually(lambda: _all(pool, "delivered", 1, attempts=2))
    stop.set()
    await asyncio.wait_for(running, 30)
    assert sorted(await attempt_numbers(pool)) == [1, 2]


async def _all(pool: asyncpg.Pool, status: str, count: int, attempts: int = 1) -> bool:
    rows = await pool.fetch("SELECT status, attempts FROM outbox_demo.deliveries")
    return len(rows) == count and all((r[0], r[1]) == (status, attempts) for r in rows)


async def _true(value: bool) -> bool:
    return value

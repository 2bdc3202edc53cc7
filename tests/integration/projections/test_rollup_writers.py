"""Two shards writing cases of the same days keep the roll-ups exact, without a day lock."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from projections.migrate import migrate
from projections.model import Model
from projections.projector import ProjectorConfig, connect, prepare_batch, write_batch
from projections.readmodel_store import Position, init_checkpoints
from projections.rollups import refresh_all
from tests.stories import random_story
from whistle.domain import encode

pytestmark = pytest.mark.integration

T0 = datetime(2026, 9, 1, tzinfo=UTC)
ROLLUP = "SELECT * FROM metric_days ORDER BY grain, day, department, community, category"


def shard_records(partition: int, cases: range) -> dict[int, list[Any]]:
    """Kafka-like records of the stories of ``cases``, all raised on the same two days."""
    rng = random.Random(partition)
    events = [
        e
        for i in cases
        for e in random_story(rng, f"case-{i:04d}", T0 + timedelta(minutes=23 * i)).events
    ]
    return {partition: [SimpleNamespace(value=encode(e), offset=n) for n, e in enumerate(events)]}


async def test_interleaved_shard_batches_give_the_rollups_a_refill_gives(
    fresh_database: str,
) -> None:
    config = ProjectorConfig(dsn=fresh_database, bootstrap="unused", topic="rollup-writers")
    conns = [await connect(fresh_database, "projection") for _ in range(3)]
    a, b, reader = conns
    try:
        await migrate(a)
        await init_checkpoints(a, config.projector, config.topic, [0, 1])
        start = {p: Position(0) for p in (0, 1)}
        first = await prepare_batch(reader, shard_records(0, range(0, 60, 2)), start, {}, Model())
        second = await prepare_batch(reader, shard_records(1, range(1, 60, 2)), start, {}, Model())

        # shard A has written (and locked) its roll-up rows but not committed when B writes
        tx = a.transaction()
        await tx.start()
        await write_batch(a, first, config)  # a savepoint inside A's open transaction
        writing = asyncio.create_task(write_batch(b, second, config))
        await asyncio.sleep(0.2)  # let B reach the rows A holds (not asserted: no timing)
        await tx.commit()
        await writing

        live = [tuple(r) for r in await reader.fetch(ROLLUP)]
        assert len({r[0] for r in live}) == 2  # both shards' cases fall on the same two days
        async with reader.transaction():
            await refresh_all(reader)
            refilled = [tuple(r) for r in await reader.fetch(ROLLUP)]
        assert live == refilled
    finally:
        for conn in conns:
            await conn.close()

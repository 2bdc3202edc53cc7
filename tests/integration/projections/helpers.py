"""Helpers for the projection tests: fresh topics, producing events, waiting for the projector."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from whistle.domain import Event, encode


async def create_topic(bootstrap: str, topic: str, partitions: int = 4) -> None:
    """Create a fresh topic with ``partitions`` partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


async def produce(
    bootstrap: str, topic: str, events: Iterable[Event], duplicate_every: int = 0
) -> int:
    """Produce events keyed by case id; every ``duplicate_every``-th is sent twice."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    await producer.start()
    sent = 0
    try:
        futures = []
        for i, event in enumerate(events, start=1):
            value = encode(event)
            key = event.case_id.encode()
            futures.append(await producer.send(topic, value=value, key=key))
            sent += 1
            if duplicate_every and i % duplicate_every == 0:
                futures.append(await producer.send(topic, value=value, key=key))
                sent += 1
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return sent


async def projected_offsets(dsn: str, topic: str, schema: str = "projection") -> int:
    """Sum of the projector's next offsets over the partitions of ``topic`` (0 if none)."""
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return -1
    try:
        value = await conn.fetchval(
            f"SELECT coalesce(sum(next_offset), 0) FROM {schema}.checkpoints WHERE topic = $1",
            topic,
        )
        return int(value)
    except (asyncpg.PostgresError, asyncpg.InterfaceError):
        return 0
    finally:
        await conn.close()


async def wait_projected(dsn: str, topic: str, total: int, timeout: float = 60.0) -> None:
    """Wait until the checkpoints cover ``total`` records."""
    deadline = time.monotonic() + timeout
    seen = -1
    while time.monotonic() < deadline:
        seen = await projected_offsets(dsn, topic)
        if seen >= total:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"projector reached {seen} of {total} records in {timeout}s")

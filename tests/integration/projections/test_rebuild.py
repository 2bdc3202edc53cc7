"""Rebuilding from the log gives back exactly what the live projector built."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from projections.projector import Projector, ProjectorConfig
from projections.rebuild import build, check, compare, rebuild
from tests.integration.projections.helpers import create_topic, produce, wait_projected
from tests.stories import random_stories
from whistle.domain import Event

pytestmark = pytest.mark.integration

T0 = datetime(2026, 10, 1, tzinfo=UTC)


def stories(n: int, seed: int = 1, prefix: str = "case") -> list[Event]:
    """The events of ``n`` random cases, case after case."""
    rng = random.Random(seed)
    played = random_stories(rng, n, T0, timedelta(minutes=7), f"{prefix}-{{:05d}}".format)
    return [event for story in played for event in story.events]


async def table_counts(dsn: str) -> dict[str, int]:
    """Row count of each read-model table."""
    conn = await asyncpg.connect(dsn)
    try:
        names = [
            "cases",
            "assignments",
            "clocks",
            "disputes",
            "extension_requests",
            "escalations",
            "callbacks",
            "case_events",
        ]
        return {n: await conn.fetchval(f"SELECT count(*) FROM projection.{n}") for n in names}
    finally:
        await conn.close()


async def score_totals(dsn: str, table: str = "metric_days") -> tuple[int, int]:
    """Sum and number of callback scores: in the department roll-ups, or in the callbacks."""
    sql = {
        "metric_days": "SELECT sum(score_sum), sum(score_count) FROM projection.metric_days"
        " WHERE grain = 'department'",
        "callbacks": "SELECT sum(score), count(score) FROM projection.callbacks"
        " WHERE raised_at IS NOT NULL AND department IS NOT NULL",
    }[table]
    conn = await asyncpg.connect(dsn)
    try:
        total, count = await conn.fetchrow(sql)
    finally:
        await conn.close()
    assert count > 0
    return int(total), int(count)


async def test_check_says_rebuilt_equals_live_and_rebuild_swaps_in(
    kafka_bootstrap: str, fresh_database: str, unique_name: Callable[[str], str]
) -> None:
    topic = unique_name("proj-rebuild")
    await create_topic(kafka_bootstrap, topic, partitions=4)
    events = stories(300)
    sent = await produce(kafka_bootstrap, topic, events, duplicate_every=11)

    config = ProjectorConfig(
        dsn=fresh_database, bootstrap=kafka_bootstrap, topic=topic, batch_size=97
    )
    projector = Projector(config)
    task = asyncio.create_task(projector.run())
    try:
        await wait_projected(fresh_database, topic, sent)
        diffs, result = await check(fresh_database, kafka_bootstrap, topic)
        assert diffs == []
        assert result.events == sent
        live = await table_counts(fresh_database)
        assert await score_totals(fresh_database) == (
            await score_totals(fresh_database, "callbacks")
        )

        rebuilt = await rebuild(fresh_database, kafka_bootstrap, topic)
        assert rebuilt.events == sent and rebuilt.cases == 300
        assert await table_counts(fresh_database) == live

        # the live projector carries on into the swapped-in tables
        more = stories(20, seed=2, prefix="late")
        sent += await produce(kafka_bootstrap, topic, more)
        await wait_projected(fresh_database, topic, sent)
        diffs, _ = await check(fresh_database, kafka_bootstrap, topic)
        assert diffs == []
    finally:
        projector.stop()
        await task
    assert (await table_counts(fresh_database))["cases"] == 320


async def test_check_lists_a_tampered_row(
    kafka_bootstrap: str, fresh_database: str, unique_name: Callable[[str], str]
) -> None:
    topic = unique_name("proj-tamper")
    await create_topic(kafka_bootstrap, topic, partitions=2)
    sent = await produce(kafka_bootstrap, topic, stories(30, seed=3))
    projector = Projector(
        ProjectorConfig(dsn=fresh_database, bootstrap=kafka_bootstrap, topic=topic)
    )
    task = asyncio.create_task(projector.run())
    try:
        await wait_projected(fresh_database, topic, sent)
    finally:
        projector.stop()
        await task
    conn = await asyncpg.connect(fresh_database)
    try:
        await conn.execute(
            "UPDATE projection.cases SET status = 'tampered' WHERE case_id = 'case-00004'"
        )
    finally:
        await conn.close()
    diffs, _ = await check(fresh_database, kafka_bootstrap, topic)
    assert [(d.table, d.only_live, d.only_rebuilt) for d in diffs] == [("cases", 1, 1)]
    assert {s["case_id"] for s in diffs[0].samples} == {"case-00004"}


async def test_two_projectors_sharing_the_partitions_build_what_a_rebuild_builds(
    kafka_bootstrap: str, fresh_database: str, unique_name: Callable[[str], str]
) -> None:
    topic = unique_name("proj-shards")
    await create_topic(kafka_bootstrap, topic, partitions=4)
    sent = await produce(kafka_bootstrap, topic, stories(200, seed=4), duplicate_every=13)
    shards = [
        Projector(
            ProjectorConfig(
                dsn=fresh_database,
                bootstrap=kafka_bootstrap,
                topic=topic,
                batch_size=101,
                partitions=part,
            )
        )
        for part in ((0, 2), (1, 3))
    ]
    tasks = [asyncio.create_task(p.run()) for p in shards]
    try:
        await wait_projected(fresh_database, topic, sent)
    finally:
        for p in shards:
            p.stop()
        await asyncio.gather(*tasks)
    assert all(p.totals.applied > 0 for p in shards)
    diffs, _ = await check(fresh_database, kafka_bootstrap, topic)
    assert diffs == []

    # a rebuild by two worker processes gives the same tables too
    conn = await asyncpg.connect(fresh_database)
    try:
        result = await build(fresh_database, kafka_bootstrap, topic, "by_workers", workers=2)
        assert result.events == sent
        assert result.stats.applied + result.stats.duplicates == sent
        assert await compare(conn, "projection", "by_workers") == []
    finally:
        await conn.close()

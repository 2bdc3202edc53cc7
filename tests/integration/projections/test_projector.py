"""The live projector builds the read models from the log, skipping redelivered events."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from projections.projector import Projector, ProjectorConfig
from tests.integration.projections.helpers import create_topic, produce, wait_projected
from tests.stories import Story

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def story(case_id: str) -> Story:
    """A routed, disputed, reassigned, resolved and called-back case."""
    s = Story(case_id, "tongan.datong.jinhai")
    s.raised(T0)
    s.routed(T0 + timedelta(minutes=1), "urban_management", ("transport",))
    s.acknowledged(T0 + timedelta(minutes=10), "urban_management")
    s.disputed(T0 + timedelta(minutes=20), "transport")
    s.ruled(T0 + timedelta(hours=1), "transport", "public_security")
    s.acknowledged(T0 + timedelta(hours=2), "public_security")
    s.resolved(T0 + timedelta(days=2))
    s.callback(T0 + timedelta(days=3), solved=True, satisfied=False)
    return s


async def test_duplicates_are_skipped_and_rows_match_the_story(
    kafka_bootstrap: str, fresh_database: str, unique_name: Callable[[str], str]
) -> None:
    topic = unique_name("proj-events")
    await create_topic(kafka_bootstrap, topic, partitions=3)
    events = [e for i in range(20) for e in story(f"case-{i:03d}").events]
    sent = await produce(kafka_bootstrap, topic, events, duplicate_every=3)
    assert sent > len(events)

    projector = Projector(
        ProjectorConfig(dsn=fresh_database, bootstrap=kafka_bootstrap, topic=topic, batch_size=17)
    )
    task = asyncio.create_task(projector.run())
    try:
        await wait_projected(fresh_database, topic, sent)
    finally:
        projector.stop()
        await task

    assert projector.totals.applied == len(events)
    assert projector.totals.duplicates == sent - len(events)
    assert projector.totals.conflicts == 0 and projector.totals.gaps == 0
    conn = await asyncpg.connect(fresh_database)
    try:
        assert await conn.fetchval("SELECT count(*) FROM projection.case_events") == len(events)
        case = await conn.fetchrow("SELECT * FROM projection.cases WHERE case_id = 'case-007'")
        assert case["applied_seq"] == 8
        assert case["status"] == "resolved"
        assert case["district"] == "tongan" and case["street"] == "tongan.datong"
        assert case["departments"] == ["urban_management", "public_security"]
        rows = await conn.fetch(
            "SELECT department, role, active, acknowledged_in_time FROM projection.assignments"
            " WHERE case_id = 'case-007' ORDER BY department"
        )
        assert [tuple(r) for r in rows] == [
            ("public_security", "supporting", True, False),
            ("transport", "supporting", False, None),
            ("urban_management", "lead", True, True),
        ]
        dispute = await conn.fetchrow("SELECT * FROM projection.disputes WHERE case_id='case-007'")
        assert dispute["status"] == "ruled" and dispute["reassigned_to"] == "public_security"
        callback = await conn.fetchrow(
            "SELECT * FROM projection.callbacks WHERE case_id = 'case-007'"
        )
        assert callback["department"] == "urban_management"
        assert callback["solved"] and not callback["satisfied"]
    finally:
        await conn.close()

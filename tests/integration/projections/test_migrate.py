"""Migrations apply in order, once, and an edited landed migration is refused."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import pytest

from projections.apply import ApplyStats, apply_event
from projections.migrate import Migration, MigrationError, load_migrations, migrate
from projections.model import Model
from projections.readmodel_store import write_timeline
from tests.stories import Story
from whistle.read.resolution_metrics import metrics
from whistle.settings import REPO_ROOT

pytestmark = pytest.mark.integration

CST = timezone(timedelta(hours=8))


async def test_migrations_apply_once_and_edits_are_refused(fresh_database: str) -> None:
    conn = await asyncpg.connect(fresh_database)
    try:
        landed = load_migrations()
        assert [m.version for m in landed] == list(range(1, len(landed) + 1))
        assert await migrate(conn) == [m.version for m in landed]
        assert await migrate(conn) == []
        edited = [*landed[:-1], Migration(landed[-1].version, landed[-1].name, "SELECT 1;")]
        with pytest.raises(MigrationError, match="edited after it landed"):
            await migrate(conn, migrations=edited)
        with pytest.raises(MigrationError, match="file is gone"):
            await migrate(conn, migrations=landed[:-1])
        recorded = await conn.fetch("SELECT version, checksum FROM projection.schema_migrations")
        assert {r["version"]: r["checksum"] for r in recorded} == {
            m.version: m.checksum for m in landed
        }
    finally:
        await conn.close()


def test_whistle_db_migrate_command(fresh_database: str) -> None:
    run = [sys.executable, "-m", "whistle.cli", "db", "migrate", "--dsn", fresh_database]
    first = subprocess.run(run, capture_output=True, text=True, cwd=REPO_ROOT, check=False)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("applied: [1, 2")
    again = subprocess.run(run, capture_output=True, text=True, cwd=REPO_ROOT, check=False)
    assert again.returncode == 0 and "up to date" in again.stdout


async def test_callback_scores_migration_backfills_from_the_timeline(fresh_database: str) -> None:
    # read models projected before 0007 have no score column: it is filled from each
    # CallbackRecorded body of the timeline, and the daily roll-ups are refilled with the sums
    landed = load_migrations()
    before = [m for m in landed if m.version < 7]
    conn = await asyncpg.connect(fresh_database)
    try:
        await migrate(conn, migrations=before)
        raised = datetime(2026, 11, 2, 9, 0, tzinfo=CST)
        where = ("tongan.datong.jinhai", "tongan.datong", "tongan", "roads")
        await conn.execute(
            "INSERT INTO projection.cases (case_id, raised_at, community, street, district,"
            " category, lead_department) VALUES ('c-1', $1, $2, $3, $4, $5, 'transport')",
            raised,
            *where,
        )
        for seq, score in ((7, 4), (9, 1)):
            await conn.execute(
                "INSERT INTO projection.callbacks (case_id, seq, department, solved, satisfied,"
                " called_at, raised_at, community, street, district, category)"
                " VALUES ('c-1', $1, 'transport', true, true, $2, $2, $3, $4, $5, $6)",
                seq,
                raised,
                *where,
            )
            body = json.dumps({"type": "CallbackRecorded", "score": score, "solved": True})
            await conn.execute(
                "INSERT INTO projection.case_events (case_id, seq, event_id, type, occurred_at,"
                " body) VALUES ('c-1', $1, $2, 'CallbackRecorded', $3, $4::json)",
                seq,
                f"e-{seq}",
                raised,
                body,
            )
        await conn.execute("SET search_path TO projection")
        await conn.execute("SELECT apply_metric_delta(NULL)")
        await conn.execute("RESET search_path")

        assert await migrate(conn) == list(range(7, len(load_migrations()) + 1))  # 7 and on
        scores = await conn.fetch("SELECT seq, score FROM projection.callbacks ORDER BY seq")
        assert [(r["seq"], r["score"]) for r in scores] == [(7, 4), (9, 1)]
        rows = await metrics(
            conn,
            "department",
            None,
            datetime(2026, 11, 1, tzinfo=CST),
            datetime(2026, 12, 1, tzinfo=CST),
        )
        assert [
            (r["group"], r["score_sum"], r["score_count"], r["average_score"]) for r in rows
        ] == [("transport", 5, 2, 2.5)]
    finally:
        await conn.close()


async def test_migration_8_backfills_joint_actions_and_where_from_the_timeline(
    fresh_database: str,
) -> None:
    """Cases projected before 0008 get the joint actions and the whistle's description,
    address and location that the projector itself would write for their events."""
    story = Story("WH-OLD-1", "tongan.datong.jinhai")
    t0 = datetime(2026, 11, 1, 1, 0, tzinfo=UTC)
    where = {"address": "滨海浪漫线", "location": {"lat": 24.66, "lon": 118.2}}
    story.raised(t0, category="tourist_crowds", description="游客激增", **where)
    story.routed(t0, "urban_management", ("transport",))
    story.joint_action(t0, t0 + timedelta(days=1), "金海段", ["transport", "urban_management"])
    model, stats = Model(), ApplyStats()
    for event, raw in zip(story.wire(), story.encoded(), strict=True):
        apply_event(model, event, raw.decode(), None, None, stats)
    conn = await asyncpg.connect(fresh_database)
    try:
        await migrate(conn, migrations=load_migrations()[:7])
        async with conn.transaction():
            await conn.execute("SET LOCAL search_path TO projection, public")
            await write_timeline(conn, model)
            await conn.execute("INSERT INTO cases (case_id) VALUES ('WH-OLD-1')")
        assert await migrate(conn) == list(range(8, len(load_migrations()) + 1))  # 8 and on
        case = await conn.fetchrow("SELECT * FROM projection.cases")
        expected = model.cases["WH-OLD-1"].case
        for column in ("description", "address", "location_lat", "location_lon"):
            assert case[column] == expected[column], column
        rows = await conn.fetch("SELECT * FROM projection.joint_action_departments")
        projected = model.cases["WH-OLD-1"].table("joint_action_departments").values()
        assert sorted(map(dict, rows), key=str) == sorted(projected, key=str)
    finally:
        await conn.close()

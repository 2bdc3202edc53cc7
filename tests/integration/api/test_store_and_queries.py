"""The API's tables and listing query against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from pydantic_core import to_json

from projections.apply import ApplyStats, apply_event
from projections.migrate import migrate
from projections.model import Model
from projections.readmodel_store import write_cases, write_timeline
from tests.stories import random_story
from whistle.api.account_store import IdempotencyMismatch, PgIdempotency, PgUsers, migrate_api
from whistle.read.gateway import PgRead, joint_actions_sql
from whistle.read.scope import CaseFilters, Scope

pytestmark = pytest.mark.integration

JINHAI = "tongan.datong.jinhai"


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh database with the API's and the projections' tables."""
    created = await asyncpg.create_pool(fresh_database, min_size=1, max_size=4)
    assert created is not None
    async with created.acquire() as conn:
        await migrate_api(conn)
        await migrate(conn)
        assert await migrate_api(conn) == []  # idempotent
    yield created
    await created.close()


async def test_tokens_are_stored_hashed_and_revocable(pool: asyncpg.Pool) -> None:
    users = PgUsers(pool, cache_ttl_s=0)
    token = await users.add("sec-jinhai", "secretary", area=JINHAI, name="金海书记")
    stored = await pool.fetchval("SELECT token_sha256 FROM api.users")
    assert token not in stored and len(stored) == 64
    principal = await users.principal(token)
    assert principal is not None
    assert (principal.role, principal.area) == ("secretary", JINHAI)
    assert await users.principal(token + "x") is None
    assert await users.revoke("sec-jinhai")
    assert await users.principal(token) is None
    assert not await users.revoke("sec-jinhai")
    assert [u.user_id for u in await users.list()] == ["sec-jinhai"]


@pytest.mark.parametrize(
    ("role", "area", "department"),
    [
        ("secretary", None, None),
        ("secretary", "tongan.datong", None),
        ("secretary", "nowhere", None),
        ("liaison", None, None),
        ("liaison", None, "no_such_department"),
        ("supervisor", JINHAI, None),
        ("admin", "tongan", None),
    ],
)
async def test_inconsistent_scopes_are_refused(
    pool: asyncpg.Pool, role: str, area: str | None, department: str | None
) -> None:
    with pytest.raises(ValueError):
        await PgUsers(pool).add("u", role, area=area, department=department)  # type: ignore[arg-type]


async def test_duplicate_users_are_refused(pool: asyncpg.Pool) -> None:
    users = PgUsers(pool)
    await users.add("li-um", "liaison", department="urban_management")
    with pytest.raises(ValueError, match="exists"):
        await users.add("li-um", "liaison", department="urban_management")


async def test_concurrent_retries_with_one_key_share_one_case(pool: asyncpg.Pool) -> None:
    keys = PgIdempotency(pool)
    claims = await asyncio.gather(
        *(keys.claim("sec", "k1", "digest", f"WH-{i}", f"cmd-{i}") for i in range(8))
    )
    assert len({(c.case_id, c.command_id) for c in claims}) == 1
    assert sum(not c.replay for c in claims) == 1
    with pytest.raises(IdempotencyMismatch):
        await keys.claim("sec", "k1", "other digest", "WH-x", "cmd-x")
    other_user = await keys.claim("sec2", "k1", "digest", "WH-y", "cmd-y")
    assert other_user.case_id == "WH-y"


async def test_a_key_bound_for_a_while_is_free_again_after_it(pool: asyncpg.Pool) -> None:
    keys, window = PgIdempotency(pool), timedelta(minutes=10)
    first = await keys.claim("sec", "retry:d1", "d1", "WH-1", "cmd-1", window)
    again = await keys.claim("sec", "retry:d1", "d1", "WH-2", "cmd-2", window)
    assert (again.case_id, again.replay) == ("WH-1", True) and not first.replay
    await pool.execute("UPDATE api.idempotency_keys SET created_at = now() - interval '11 min'")
    later = await keys.claim("sec", "retry:d1", "d1", "WH-3", "cmd-3", window)
    assert (later.case_id, later.command_id, later.replay) == ("WH-3", "cmd-3", False)
    assert (await keys.claim("sec", "retry:d1", "d1", "WH-4", "cmd-4", window)).case_id == "WH-3"
    for_ever = await keys.claim("sec", "header-key", "d1", "WH-5", "cmd-5")
    await pool.execute("UPDATE api.idempotency_keys SET created_at = now() - interval '1 year'")
    assert (
        await keys.claim("sec", "header-key", "d1", "WH-6", "cmd-6")
    ).case_id == for_ever.case_id


async def _insert_case(
    pool: asyncpg.Pool, case_id: str, area: str, departments: list[str], **kw: object
) -> None:
    parts = area.split(".")
    await pool.execute(
        "INSERT INTO projection.cases (case_id, status, area, district, street, community,"
        " departments, raised_at, category, published_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'parking', $9)",
        case_id,
        kw.get("status", "routed"),
        area,
        parts[0],
        ".".join(parts[:2]),
        ".".join(parts[:3]),
        departments,
        datetime(2026, 11, 20, tzinfo=UTC),
        kw.get("published_at"),
    )


async def test_listing_is_scoped_by_area_prefix_or_department(pool: asyncpg.Pool) -> None:
    await _insert_case(pool, "WH-A", JINHAI, ["urban_management"])
    await _insert_case(
        pool, "WH-B", "tongan.datong.jinhai.vanke", ["public_security"], status="closed"
    )
    await _insert_case(pool, "WH-C", "tongan.datong_x.other", ["urban_management"])
    read = PgRead(pool)

    async def ids(scope: Scope, **filters: object) -> set[str]:
        rows = await read.cases(scope, CaseFilters(**filters))  # type: ignore[arg-type]
        return {r["case_id"] for r in rows}

    assert await ids(Scope(area=JINHAI)) == {"WH-A", "WH-B"}
    assert await ids(Scope(area="tongan.datong")) == {"WH-A", "WH-B"}  # not datong_x
    assert await ids(Scope(area="tongan")) == {"WH-A", "WH-B", "WH-C"}
    assert await ids(Scope(department="urban_management")) == {"WH-A", "WH-C"}
    assert await ids(Scope()) == {"WH-A", "WH-B", "WH-C"}
    assert await ids(Scope(), status=("closed",)) == {"WH-B"}
    assert await ids(Scope(), case_ids=("WH-A", "WH-C")) == {"WH-A", "WH-C"}
    assert await ids(Scope(), published_only=True) == set()
    row = await read.case("WH-A")
    assert row is not None and row["departments"] == ["urban_management"]
    lag = await read.lag()
    assert lag.events == 0


async def case_in_four_queries(conn: asyncpg.Connection, case_id: str) -> dict[str, object]:
    """The case, its assignments, clocks and joint actions read one table at a time (what
    ``CASE_SQL`` gathers in one statement)."""
    case = dict(await conn.fetchrow("SELECT * FROM projection.cases WHERE case_id = $1", case_id))
    case["assignments"] = [
        dict(r)
        for r in await conn.fetch(
            "SELECT * FROM projection.assignments WHERE case_id = $1"
            " ORDER BY role = 'lead' DESC, dispatched_at, department",
            case_id,
        )
    ]
    case["clocks"] = [
        dict(r) | {"breached": r["breached_at"] is not None}
        for r in await conn.fetch(
            "SELECT * FROM projection.clocks WHERE case_id = $1 ORDER BY clock, department",
            case_id,
        )
    ]
    actions = await conn.fetchval(f"SELECT {joint_actions_sql('$1')}", case_id)
    case["joint_actions"] = json.loads(actions)
    case["attachments"] = [
        {k: r[k] for k in ("sha256", "stage", "content_type", "size", "department", "note",
                           "attached_at", "attached_by")}
        | {"url": f"/v1/cases/{case_id}/attachments/{r['sha256']}",
           "thumbnail_url": f"/v1/cases/{case_id}/attachments/{r['sha256']}/thumbnail"}
        for r in await conn.fetch(
            "SELECT * FROM projection.attachments WHERE case_id = $1 ORDER BY seq, position",
            case_id,
        )
    ]  # fmt: skip
    return case


async def test_the_one_query_case_matches_the_tables_read_one_by_one(pool: asyncpg.Pool) -> None:
    rng = random.Random(3)
    model, stats = Model(), ApplyStats()
    stories = [random_story(rng, f"WH-S-{i}", datetime(2026, 10, 1, tzinfo=UTC)) for i in range(20)]
    for story in stories:
        for event, text in story.wire_pairs():
            apply_event(model, event, text, None, None, stats)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL search_path TO projection, public")
        await write_cases(conn, model, model.dirty, replace=False)
    read = PgRead(pool)
    drop = {"elapsed_seconds", "remaining_seconds"}  # depend on now()

    def plain(value: object) -> object:
        """JSON form, instants as 'Z' (PostgreSQL's JSON writes '+00:00'), now()-free."""
        text = to_json(value).decode().replace("+00:00", "Z")
        data = json.loads(text)
        for clock in data.get("clocks", []) if isinstance(data, dict) else []:
            for key in drop:
                clock.pop(key, None)
        return data

    for story in stories:
        mine = await read.case(story.case_id)
        async with pool.acquire() as conn:
            theirs = await case_in_four_queries(conn, story.case_id)
        assert mine is not None and theirs is not None
        assert plain(mine) == plain(theirs)


async def test_the_one_query_timeline_matches_scope_and_timeline(pool: asyncpg.Pool) -> None:
    rng = random.Random(5)
    model, stats = Model(), ApplyStats()
    stories = [random_story(rng, f"WH-T-{i}", datetime(2026, 10, 1, tzinfo=UTC)) for i in range(8)]
    for story in stories:
        for event, text in story.wire_pairs():
            apply_event(model, event, text, None, None, stats)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL search_path TO projection, public")
        await write_cases(conn, model, model.dirty, replace=False)
        await write_timeline(conn, model)
    read = PgRead(pool)
    for story in stories:
        found = await read.case_timeline(story.case_id)
        events = await read.timeline(story.case_id)
        assert found is not None and events
        assert found == (await read.case_scope(story.case_id), events)
        assert to_json(found[1]) == to_json(events)  # same keys in the same order
    assert await read.case_timeline("WH-NONE") is None


async def test_follow_ups_tell_the_leads_resolve_due_and_the_published_summary(
    pool: asyncpg.Pool,
) -> None:
    rng = random.Random(7)
    model, stats = Model(), ApplyStats()
    stories = [random_story(rng, f"WH-F-{i}", datetime(2026, 10, 1, tzinfo=UTC)) for i in range(12)]
    for story in stories:
        for event, text in story.wire_pairs():
            apply_event(model, event, text, None, None, stats)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL search_path TO projection, public")
        await write_cases(conn, model, model.dirty, replace=False)
        await write_timeline(conn, model)
    published = stories[0].case_id
    body = json.dumps({"type": "CasePublished", "summary": "已设隔离桩"}, ensure_ascii=False)
    await pool.execute(
        "INSERT INTO projection.case_events (case_id, seq, event_id, type, occurred_at, body)"
        " VALUES ($1, 1000, 'e-pub', 'CasePublished', now(), $2)",
        published,
        body,
    )
    await pool.execute(
        "UPDATE projection.cases SET published_at = now() WHERE case_id = $1", published
    )
    read = PgRead(pool)
    follow_ups = await read.follow_ups([s.case_id for s in stories] + ["WH-NONE"])
    assert set(follow_ups) == {s.case_id for s in stories}
    assert follow_ups[published]["summary"] == "已设隔离桩"
    assert all(f["summary"] is None for i, f in follow_ups.items() if i != published)
    for story in stories:
        case = await read.case(story.case_id)
        assert case is not None
        dues = [
            datetime.fromisoformat(k["due_at"])
            for k in case["clocks"]
            if k["clock"] == "resolve" and k["department"] == case["lead_department"]
        ]
        assert follow_ups[story.case_id]["expected_at"] == (dues[0] if dues else None)
    assert sum(f["expected_at"] is not None for f in follow_ups.values()) > 6

"""Duplicate suggestions on the real PostgreSQL: cases projected by the projector's own code,
``POST /v1/whistles/similar`` answering from them in the caller's scope, and the candidate
rule in SQL (``PgRead.similar_candidates``) agreeing with the in-memory one (``eligible``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from projections.apply import ApplyStats, apply_event
from projections.migrate import migrate
from projections.model import Model
from projections.readmodel_store import write_cases, write_timeline
from tests.stories import Story
from whistle.api.account_store import PgIdempotency, PgUsers, migrate_api
from whistle.api.app import create_app
from whistle.api.deps import Services
from whistle.read.gateway import PgRead
from whistle.read.scope import Scope
from whistle.settings import Settings

pytestmark = pytest.mark.integration

JINHAI = "tongan.datong.jinhai"
YUNXI = "tongan.datong.yunxi"
PATH = "/v1/whistles/similar"
PARKING = {
    "title": "滨海步道违停",
    "description": "滨海步道入口两侧每天晚上停满私家车，行人只能走机动车道，很危险。",
    "address": "同安区大同街道金海社区滨海步道入口",
    "location": {"lat": 24.7301, "lon": 118.1602},
}
DRAFT = {
    "category": "parking",
    "title": "步道口乱停车",
    "description": "滨海步道入口的车越停越多，推婴儿车都过不去，请交通来管管。",
    "address": "滨海步道入口",
}


@dataclass(frozen=True)
class Seed:
    """One case to project: where, what, how long ago, and how it ended (if it did)."""

    case_id: str
    community: str
    days_ago: float
    category: str = "parking"
    fields: tuple[tuple[str, Any], ...] = tuple(PARKING.items())
    end: str | None = None
    grid: str | None = None


NOW = datetime.now(UTC)
SEEDS = (
    Seed("WH-S-DUP", JINHAI, 2),
    Seed(
        "WH-S-GRID",
        JINHAI,
        0.5,
        grid=f"{JINHAI}.g01",
        fields=(
            ("title", "滨海步道入口车辆乱停放"),
            ("description", "入口处小车占满人行道，游客和居民都要绕到马路上走。"),
            ("address", "金海社区滨海步道入口停车场旁"),
            ("location", {"lat": 24.7303, "lon": 118.1604}),
        ),
    ),
    Seed("WH-S-OLD", JINHAI, 15),
    Seed("WH-S-CLOSED", JINHAI, 3, end="closed"),
    Seed("WH-S-WITHDRAWN", JINHAI, 3, end="withdrawn"),
    Seed("WH-S-YUNXI", YUNXI, 1),
    Seed(
        "WH-S-BINS",
        JINHAI,
        1,
        category="sanitation",
        fields=(
            ("title", "步道入口垃圾桶满溢"),
            ("description", "滨海步道入口的垃圾桶两天没人清运，臭味很大。"),
            ("address", "同安区大同街道金海社区滨海步道入口"),
        ),
    ),
)
EXPECTED = ["WH-S-DUP", "WH-S-GRID"]
"""For the draft in 金海, most alike first: the open ones of the last 14 days with the same
problem (the grid's case is of 金海 too), never the older, closed or withdrawn ones, 芸溪's,
or the bins at the same place."""


def story(seed: Seed) -> Story:
    """The seed's events, each decided by the domain: raised (with its text and place),
    routed, and its end (closed after its resolution and callback, or withdrawn)."""
    s = Story(seed.case_id, seed.community)
    at = NOW - timedelta(days=seed.days_ago)
    s.raised(at, category=seed.category, grid=seed.grid, **dict(seed.fields))
    s.routed(at + timedelta(minutes=1), "transport", ("urban_management",))
    if seed.end == "closed":
        s.acknowledged(at + timedelta(minutes=5), "transport")
        s.acknowledged(at + timedelta(minutes=6), "urban_management")
        s.resolved(at + timedelta(hours=3))
        s.callback(at + timedelta(hours=4), solved=True, satisfied=True)
        s.closed(at + timedelta(hours=5))
    elif seed.end == "withdrawn":
        s.withdrawn(at + timedelta(hours=5))
    return s


@pytest.fixture
async def rig(fresh_database: str, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """The API over a fresh database holding the seeds' projected cases, and its users."""
    pool = await asyncpg.create_pool(fresh_database, min_size=1, max_size=4)
    assert pool is not None
    model, stats = Model(), ApplyStats()
    for seed in SEEDS:
        for event, text in story(seed).wire_pairs():
            apply_event(model, event, text, None, None, stats)
    async with pool.acquire() as conn:
        await migrate(conn)
        await migrate_api(conn)
        async with conn.transaction():
            await conn.execute("SET LOCAL search_path TO projection, public")
            await write_cases(conn, model, model.dirty, replace=False)
            await write_timeline(conn, model)
    users = PgUsers(pool, 0.0)
    tokens = {
        "secretary": await users.add("sec", "secretary", area=JINHAI),
        "secretary_yunxi": await users.add("sec-yx", "secretary", area=YUNXI),
        "supervisor": await users.add("sup", "supervisor", area="tongan.datong"),
        "supervisor_out": await users.add("sup-hc", "supervisor", area="haicang"),
        "liaison": await users.add("li", "liaison", department="transport"),
        "admin": await users.add("root", "admin"),
    }

    async def no_probe() -> None:
        return None

    services = Services(
        bus=None,  # type: ignore[arg-type]  # no command is sent
        read=PgRead(pool),
        users=users,
        idempotency=PgIdempotency(pool),
        kafka_probe=no_probe,
    )
    app = create_app(Settings(database_url=fresh_database, state_dir=tmp_path), services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield {"client": client, "tokens": tokens, "pool": pool}
    await pool.close()


async def ask(rig: dict[str, Any], who: str, body: dict[str, Any]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {rig['tokens'][who]}"}
    response: httpx.Response = await rig["client"].post(PATH, json=body, headers=headers)
    return response


async def test_the_secretary_is_shown_the_open_recent_same_problem(rig: dict[str, Any]) -> None:
    response = await ask(rig, "secretary", DRAFT)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["case_id"] for i in items] == EXPECTED
    assert all(i["status"] == "routed" and i["lead_department"] == "transport" for i in items)
    assert all("same_place" in i["why"] for i in items)


async def test_a_supervisor_sees_the_same_for_a_community_of_his_street(
    rig: dict[str, Any],
) -> None:
    response = await ask(rig, "supervisor", DRAFT | {"community": JINHAI})
    assert [i["case_id"] for i in response.json()["items"]] == EXPECTED
    admin = await ask(rig, "admin", DRAFT | {"community": JINHAI})
    assert [i["case_id"] for i in admin.json()["items"]] == EXPECTED


async def test_another_community_sees_only_its_own(rig: dict[str, Any]) -> None:
    response = await ask(rig, "secretary_yunxi", DRAFT)
    assert [i["case_id"] for i in response.json()["items"]] == ["WH-S-YUNXI"]
    assert (await ask(rig, "secretary_yunxi", DRAFT | {"community": JINHAI})).status_code == 403
    assert (await ask(rig, "supervisor_out", DRAFT | {"community": JINHAI})).status_code == 403
    assert (await ask(rig, "liaison", DRAFT | {"community": JINHAI})).status_code == 403


async def test_the_candidates_in_sql_are_the_eligible_ones_in_scope(rig: dict[str, Any]) -> None:
    read = PgRead(rig["pool"])
    ids = [r["case_id"] for r in await read.similar_candidates(Scope(), JINHAI, NOW)]
    assert ids == ["WH-S-GRID", "WH-S-BINS", "WH-S-DUP"]  # newest first
    assert await read.similar_candidates(Scope(area="haicang"), JINHAI, NOW) == []
    grid = await read.similar_candidates(Scope(area=f"{JINHAI}.g01"), JINHAI, NOW)
    assert [r["case_id"] for r in grid] == ["WH-S-GRID"]
    then = NOW - timedelta(days=3, hours=-1)  # before the closed ones ended, after OLD's window
    earlier = [r["case_id"] for r in await read.similar_candidates(Scope(), JINHAI, then)]
    assert earlier == ["WH-S-OLD"]  # DUP not yet raised; CLOSED/WITHDRAWN already over (now)

"""The read contract: the same reads, the same answers, from PostgreSQL (``PgRead``) and from
the in-memory read model of the unit tests (``FakeRead``), over one set of case histories.

The fake is filled with what the gateway returns of each case (its row and its events), so
what is held to account is what the fake computes itself: scoping, filtering, ordering and
paging of listings, the breach board, case counts of the metrics and time travel. And below
that, the scope rule itself: ``Scope.holds`` against ``scope_sql`` over generated areas.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from pydantic_core import to_json

from projections.apply import ApplyStats, apply_event
from projections.migrate import migrate
from projections.model import Model
from projections.readmodel_store import write_cases, write_timeline
from projections.rollups import SHANGHAI, refresh_all
from tests.stories import CATEGORIES, COMMUNITIES, DEPARTMENTS, random_story
from tests.unit.api.fakes import FakeRead
from whistle.domain.evolve import EvolveError
from whistle.domain.state import CaseState, state_document
from whistle.read.gateway import GroupBy, MetricsQuery, Period, PgRead
from whistle.read.scope import (
    CASES,
    CaseFilters,
    Params,
    Scope,
    cohort,
    of_department,
    scope_sql,
)

pytestmark = pytest.mark.integration

T0 = datetime(2026, 10, 1, tzinfo=UTC)
STATUSES = ("raised", "routed", "in_progress", "resolved", "closed", "withdrawn")


@dataclass
class Both:
    """The gateway over PostgreSQL and the fake holding the same cases."""

    pg: PgRead
    fake: FakeRead
    case_ids: list[str]


@pytest.fixture
async def both(fresh_database: str) -> AsyncIterator[Both]:
    """150 random case histories over a month, a fifth of them in a grid of their community,
    in PostgreSQL and, as the gateway reads them back, in the fake."""
    pool = await asyncpg.create_pool(fresh_database, min_size=1, max_size=4)
    assert pool is not None
    rng = random.Random(11)
    model, stats = Model(), ApplyStats()
    ids = [f"WH-K-{i:03d}" for i in range(150)]
    for i, case_id in enumerate(ids):
        story = random_story(rng, case_id, T0 + timedelta(hours=4 * i, minutes=rng.randint(0, 59)))
        for event, text in story.wire_pairs():
            apply_event(model, event, text, None, None, stats)
    async with pool.acquire() as conn:
        await migrate(conn)
        async with conn.transaction():
            await conn.execute("SET LOCAL search_path TO projection, public")
            await write_cases(conn, model, model.dirty, replace=False)
            await write_timeline(conn, model)
            await conn.execute(
                "UPDATE cases SET area = community || '.g0' || (substr(case_id, 6)::int % 3)"
                " WHERE substr(case_id, 6)::int % 5 = 0"
            )
            await conn.execute("UPDATE cases SET duplicate_of = $1 WHERE case_id = $2", *ids[1:3])
            await conn.execute(
                "UPDATE cases SET published_at = raised_at WHERE case_id = ANY($1)", ids[:9]
            )
            await conn.execute(JOINT_ACTIONS_SQL, ids[::7])
            await refresh_all(conn)
    pg = PgRead(pool)
    fake = FakeRead()
    for case_id in ids:
        row = await pg.case(case_id)
        assert row is not None
        fake.add(row, await pg.timeline(case_id))
    yield Both(pg, fake, ids)
    await pool.close()


JOINT_ACTIONS_SQL = """
INSERT INTO joint_action_departments (case_id, action_id, department, position, at, place,
                                      scheduled_at, scheduled_by, reported_in_at, reported_in_by)
SELECT c.case_id, 'ja-' || n, d.department, d.position, c.raised_at + n * interval '5 hours',
       '现场', c.raised_at, 'sup', CASE WHEN d.position = 0 THEN c.raised_at END,
       CASE WHEN d.position = 0 THEN 'li' END
  FROM cases c, generate_series(1, 2) AS n,
       unnest(c.departments) WITH ORDINALITY AS d(department, position)
 WHERE c.case_id = ANY($1)
"""
"""Two joint actions (集结) for each of the given cases, every department named, the first
reported in."""


def plain(value: Any) -> Any:
    """JSON form: instants as 'Z' (PostgreSQL's JSON writes '+00:00'), lists stay ordered,
    a case's clocks without what depends on now() (elapsed and remaining seconds)."""
    data = json.loads(to_json(value).decode().replace("+00:00", "Z"))
    for clock in data.get("clocks", []) if isinstance(data, dict) else []:
        clock.pop("elapsed_seconds", None)
        clock.pop("remaining_seconds", None)
    return data


def scopes() -> list[Scope]:
    """Every area level of the data, a grid, a stranger, each department, mixes, everything."""
    areas = {c.rsplit(".", i)[0] for c in COMMUNITIES for i in range(3)}
    found = [Scope(area=a) for a in sorted(areas)]
    found += [Scope(area=f"{COMMUNITIES[0]}.g01"), Scope(area="tongan.datong_x")]
    found += [Scope(department=d) for d in DEPARTMENTS]
    found += [Scope(area="tongan", department="transport"), Scope()]
    return found


async def test_listings_agree_for_every_scope_and_filter(both: Both) -> None:
    mid = T0 + timedelta(days=12)
    filters = [
        CaseFilters(limit=500),
        CaseFilters(limit=7, offset=3),
        CaseFilters(limit=5, offset=145),
        *(CaseFilters(status=(s,), limit=500) for s in STATUSES),
        CaseFilters(status=("routed", "in_progress", "resolved"), limit=500),
        *(CaseFilters(category=c, limit=500) for c in CATEGORIES),
        *(CaseFilters(department=d, limit=500) for d in DEPARTMENTS),
        CaseFilters(area="tongan.datong", limit=500),
        CaseFilters(area=f"{COMMUNITIES[1]}.g01", limit=500),
        CaseFilters(raised_after=mid, limit=500),
        CaseFilters(raised_before=mid, limit=500),
        CaseFilters(raised_after=mid, raised_before=mid + timedelta(days=3), limit=500),
        CaseFilters(case_ids=(both.case_ids[3], both.case_ids[60], "WH-NONE"), limit=500),
        CaseFilters(published_only=True, limit=500),
        CaseFilters(duplicate_of="WH-K-001", limit=500),
        CaseFilters(duplicate_of="WH-K-000", limit=500),
        CaseFilters(area="haicang", department="transport", status=("closed",), limit=500),
    ]
    compared = 0
    for scope in scopes():
        for f in filters:
            mine, theirs = await both.pg.cases(scope, f), await both.fake.cases(scope, f)
            assert [r["case_id"] for r in mine] == [r["case_id"] for r in theirs], (scope, f)
            for row, full in zip(mine, theirs, strict=True):
                assert plain(row) == plain({k: full[k] for k in row}), row["case_id"]
            compared += len(mine)
    assert compared > 3000  # the filters and scopes do select cases


async def test_one_case_its_timeline_and_its_past_agree(both: Both) -> None:
    for case_id in [*both.case_ids[::10], "WH-NONE"]:
        assert plain(await both.pg.case(case_id)) == plain(await both.fake.case(case_id))
        assert await both.pg.case_scope(case_id) == await both.fake.case_scope(case_id)
        assert plain(await both.pg.case_timeline(case_id)) == plain(
            await both.fake.case_timeline(case_id)
        )
        events = await both.pg.timeline(case_id)
        instants = [e["occurred_at"] for e in events]
        later = [t + timedelta(seconds=1) for t in instants]
        for at in [T0 - timedelta(days=1), *instants, *later]:
            mine = await outcome(both.pg.case_as_of(case_id, at))
            assert mine == await outcome(both.fake.case_as_of(case_id, at)), (case_id, at)


async def outcome(state: Awaitable[CaseState | None]) -> object:
    """The state folded, or the error folding gave: synthetic histories are not always in
    time order (a breach at its due time after a later acknowledgement), so an instant can
    take a later event without an earlier one, which both must refuse alike."""
    try:
        found = await state
    except EvolveError as exc:
        return str(exc)
    return found and state_document(found)


@pytest.mark.parametrize(("board", "least"), [("breaches", 10), ("joint_actions", 20)])
async def test_boards_agree_for_every_scope(both: Both, board: str, least: int) -> None:
    total = 0
    for scope in scopes():
        mine = await getattr(both.pg, board)(scope)
        assert plain(mine) == plain(await getattr(both.fake, board)(scope)), scope
        total += len(mine)
    assert total > least


async def test_case_counts_of_the_metrics_agree(both: Both) -> None:
    midnight = datetime(2026, 10, 8, tzinfo=SHANGHAI)  # whole days: read from the roll-ups
    ranges = [
        (None, None),
        (midnight, midnight + timedelta(days=14)),
        (T0 + timedelta(hours=5), None),
    ]
    groups: tuple[GroupBy, ...] = ("department", "community", "street", "district", "category")
    periods: tuple[Period, ...] = ("all", "week", "day")
    seen = 0
    for scope in scopes():
        if scope.area is not None and scope.area.count(".") > 2:
            continue  # a grid: the metrics' cohort columns end at the community
        for group_by in groups:
            for period in periods:
                for since, until in ranges:
                    query = MetricsQuery(scope, group_by, period, since=since, until=until)
                    rows = await both.pg.metrics(query)
                    mine = [(r["bucket"], r["group"], r["cases"]) for r in rows if r["cases"]]
                    fake = await both.fake.metrics(query)
                    theirs = [(r["bucket"], r["group"], r["cases"]) for r in fake]
                    assert mine == theirs, (scope, group_by, period, since, until)
                    seen += sum(n for _, _, n in mine)
    assert seen > 10_000


AREAS = (
    "a",
    "a.b",
    "a.bb",
    "a.b.c",
    "a.b.cd",
    "a.b.c.d",
    "a.b.c.d.e",
    "ab",
    "ab.c",
    "a_b.c",
    "a%.c",
    "b.a.b",
)


async def test_the_scope_rule_in_memory_and_in_sql_agree(fresh_database: str) -> None:
    """Over generated cases (an area, its cohort columns, departments) and scopes of those
    areas, their near misses and the departments: ``scope_sql`` selects exactly what
    ``Scope.holds`` holds, for a cases row, a per-department row and a cohort row."""
    rng = random.Random(5)
    rows = []
    for i in range(400):
        area = rng.choice(AREAS)
        parts = area.split(".")
        cohort_columns = (".".join(parts[:n]) if len(parts) >= n else None for n in (1, 2, 3))
        departments = rng.sample(["d1", "d2", "d3", "d_"], rng.randint(0, 3))
        rows.append((i, area, *cohort_columns, departments))
    areas = sorted({*AREAS, "", "a.", "x"})
    scopes = [Scope(area=a) for a in areas] + [Scope(department=d) for d in ("d1", "d_", "")]
    scopes += [Scope(area=a, department="d2") for a in areas] + [Scope()]
    conn = await asyncpg.connect(fresh_database)
    try:
        await conn.execute(
            "CREATE TABLE c (id int, area text, district text, street text, community text,"
            " departments text[])"
        )
        await conn.copy_records_to_table("c", records=rows)

        async def selected(where: str, params: Params, source: str = "c") -> set[int]:
            records = await conn.fetch(f"SELECT c.id FROM {source} WHERE {where}", *params.values)
            return {r["id"] for r in records}

        for scope in scopes:
            params = Params()
            cases = await selected(scope_sql(scope, params, CASES), params)
            assert cases == {r[0] for r in rows if scope.holds(r[1], r[5])}, scope
            params = Params()
            per_department = await selected(
                scope_sql(scope, params, of_department("x")),
                params,
                "c, unnest(c.departments) AS x(department)",
            )
            assert per_department == {r[0] for r in rows for d in r[5] if scope.holds(r[1], [d])}, (
                scope
            )
            by_area = Scope(area=scope.area)
            if scope.area is not None and scope.area.count(".") > 2:
                with pytest.raises(ValueError, match="below a community"):
                    scope_sql(by_area, Params(), cohort("c"))
                continue
            params = Params()
            cohorts = await selected(scope_sql(by_area, params, cohort("c")), params)
            assert cohorts == {r[0] for r in rows if by_area.holds(r[1], ())}, scope
    finally:
        await conn.close()

"""The read contract: the same reads, the same answers, from PostgreSQL (``PgRead``) and from
the in-memory read model of the unit tests (``FakeRead``), over one set of case histories.

The fake is filled with what the gateway returns of each case (its row and its events) and
with the stored rows of the tables the boards and metrics read (disputes, extension requests,
escalations, callbacks, checkpoints), so what is held to account is what the fake computes
itself: scoping, filtering, ordering and paging of listings and boards, the follow-ups, the
metrics and rankings, the lag, time travel. Every read of ``ReadModel`` is covered by a case
(``covers``); a read added to the protocol without one fails
``test_every_read_of_the_gateway_is_held_to_the_contract``. And below that, the scope rule
itself: ``Scope.holds`` against ``scope_sql`` over generated areas.
"""

from __future__ import annotations

import inspect
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar, get_args

import asyncpg
import pytest
from pydantic_core import to_json

from projections.apply import ApplyStats, apply_event
from projections.migrate import migrate
from projections.model import Model
from projections.readmodel_store import write_cases, write_timeline
from projections.rollups import SHANGHAI, refresh_all
from tests.stories import CATEGORIES, COMMUNITIES, DEPARTMENTS, random_story
from tests.unit.api.fake_metrics import instant
from tests.unit.api.fakes import FakeRead
from whistle.domain.evolve import EvolveError
from whistle.domain.state import CaseState, state_document
from whistle.read.gateway import SCHEMA, GroupBy, MetricsQuery, Period, PgRead, RankBy, ReadModel
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
TIE = T0 + timedelta(days=20)
"""One instant many board rows share, so that their order is decided by the tie-breakers."""
STATUSES = ("raised", "routed", "in_progress", "resolved", "closed", "withdrawn")
STRANGER = Scope(area="tongan.datong_x")
"""An area of no case, beside one of many (``tongan.datong``): a prefix match would take it."""
BOARDS = ("breaches", "joint_actions", "disputes", "extensions", "escalations")
TABLES = {
    "disputes": "dispute_rows",
    "extension_requests": "extension_rows",
    "escalations": "escalation_rows",
    "callbacks": "callback_rows",
    "checkpoints": "checkpoints",
}
"""The stored tables the fake is given, by the ``FakeRead`` field that holds each."""

COVERED: dict[str, list[str]] = {}
"""Each read of ``ReadModel`` → the contract cases that compare it."""
Case = TypeVar("Case", bound=Callable[..., Any])


def covers(*reads: str) -> Callable[[Case], Case]:
    """Mark a contract case as comparing ``reads`` (each must be named in its source)."""

    def mark(case: Case) -> Case:
        source = inspect.getsource(case)
        for read in reads:
            assert read in source, f"{case.__name__} does not call {read}"
            COVERED.setdefault(read, []).append(case.__name__)
        return case

    return mark


def reads_of(protocol: type) -> set[str]:
    """The public methods of ``protocol`` and of the protocols it extends."""
    return {
        name
        for klass in protocol.__mro__
        if klass not in (object, Protocol, Generic)
        for name, value in vars(klass).items()
        if inspect.isfunction(value) and not name.startswith("_")
    }


@dataclass
class Both:
    """The gateway over PostgreSQL and the fake holding the same cases."""

    pg: PgRead
    fake: FakeRead
    case_ids: list[str]
    dsn: str
    grids: list[str]
    """The grid areas cases lie in."""
    published: list[str]
    """Cases with a CasePublished event (the last one's ``published_at`` cleared)."""

    @property
    def scopes(self) -> list[Scope]:
        """Every area level of the data and each grid of it, a stranger, each department,
        mixes, everything."""
        areas = {c.rsplit(".", i)[0] for c in COMMUNITIES for i in range(3)}
        found = [Scope(area=a) for a in sorted(areas)]
        found += [Scope(area=g) for g in self.grids] + [STRANGER]
        found += [Scope(department=d) for d in DEPARTMENTS]
        found += [Scope(area="tongan", department=d) for d in DEPARTMENTS]
        found += [Scope(area=COMMUNITIES[0], department=DEPARTMENTS[0]), Scope()]
        return found


@pytest.fixture
async def both(fresh_database: str) -> AsyncIterator[Both]:
    """150 random case histories over a month, a third of them in a grid of their community,
    some published, with awaiting disputes, pending extension requests and escalations beyond
    the stories' (ties among them), in PostgreSQL and, as the gateway reads them back, in the
    fake."""
    pool = await asyncpg.create_pool(fresh_database, min_size=1, max_size=4)
    assert pool is not None
    rng = random.Random(11)
    model, stats = Model(), ApplyStats()
    ids = [f"WH-K-{i:03d}" for i in range(150)]
    published = []
    for i, case_id in enumerate(ids):
        story = random_story(rng, case_id, T0 + timedelta(hours=4 * i, minutes=rng.randint(0, 59)))
        if i % 3 == 1 and story.s.status in ("resolved", "closed"):
            story.published(story.events[-1].occurred_at + timedelta(hours=1), f"已处理 {case_id}")
            published.append(case_id)
        for event, text in story.wire_pairs():
            apply_event(model, event, text, None, None, stats)
    async with pool.acquire() as conn:
        await migrate(conn)
        async with conn.transaction():
            await conn.execute("SET LOCAL search_path TO projection, public")
            await write_cases(conn, model, model.dirty, replace=False)
            await write_timeline(conn, model)
            await conn.execute(
                "UPDATE cases SET area = community || '.g0' || (substr(case_id, 6)::int % 2)"
                " WHERE substr(case_id, 6)::int % 3 = 0"
            )
            await conn.execute("UPDATE cases SET duplicate_of = $1 WHERE case_id = $2", *ids[1:3])
            await conn.execute(
                "UPDATE cases SET published_at = raised_at WHERE case_id = ANY($1)", ids[:9]
            )
            await conn.execute(
                "UPDATE cases SET published_at = NULL WHERE case_id = $1", published[-1]
            )
            await conn.execute(JOINT_ACTIONS_SQL, ids[::7] + ids[::5])
            for sql in BOARD_ROWS_SQL:
                await conn.execute(sql, ids[::2], TIE)
            for sql in STORY_ROWS_SQL:
                await conn.execute(sql)
            await conn.execute(LEAD_CLOCK_RELEASED_SQL, ids[1::10])
            await conn.execute(NO_LEAD_CLOCK_SQL, ids[3::10])
            await conn.execute(WORKING_CLOCKS_SQL)
            await refresh_all(conn)
        grids = await conn.fetch(
            f"SELECT DISTINCT area FROM {SCHEMA}.cases WHERE area <> community"
        )
        tables = {
            t: [dict(r) for r in await conn.fetch(f"SELECT * FROM {SCHEMA}.{t}")] for t in TABLES
        }
    pg = PgRead(pool)
    fake = FakeRead()
    for case_id in ids:
        row = await pg.case(case_id)
        assert row is not None
        fake.add(row, await pg.timeline(case_id))
    for table, records in tables.items():
        rows = [dict(r) for r in records]
        rng.shuffle(rows)  # the fake orders them itself
        getattr(fake, TABLES[table]).extend(rows)
    yield Both(pg, fake, ids, fresh_database, sorted(r["area"] for r in grids), published)
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

BOARD_ROWS_SQL = (
    """
INSERT INTO disputes (case_id, seq, department, reason, note, raised_at, raised_by, status)
SELECT c.case_id, 1000 + 10 * n + d.position, d.department, 'wrong_function', '不归我们',
       CASE WHEN n = 1 THEN $2 ELSE c.raised_at + n * interval '1 hour' END, 'li',
       CASE WHEN n = 3 THEN 'ruled' ELSE 'awaiting' END
  FROM cases c, generate_series(1, 3) AS n,
       unnest(c.departments) WITH ORDINALITY AS d(department, position)
 WHERE c.case_id = ANY($1)
""",
    """
INSERT INTO extension_requests (case_id, seq, department, clock, requested_due_at, reason,
                                requested_at, requested_by, status)
SELECT c.case_id, 1000 + 10 * n + d.position, d.department,
       CASE WHEN n = 2 THEN 'ack' ELSE 'resolve' END, c.raised_at + interval '10 days', '材料',
       CASE WHEN n = 1 THEN $2 ELSE c.raised_at + n * interval '1 hour' END, 'li',
       CASE WHEN n = 3 THEN 'refused' ELSE 'pending' END
  FROM cases c, generate_series(1, 3) AS n,
       unnest(c.departments) WITH ORDINALITY AS d(department, position)
 WHERE c.case_id = ANY($1)
""",
    """
INSERT INTO escalations (case_id, seq, tier, step, reason, escalated_at, escalated_by)
SELECT c.case_id, 1000 + n, (ARRAY['community', 'street', 'district'])[1 + n % 3], 'reminder',
       'late', CASE WHEN n = 5 THEN $2 ELSE c.raised_at + least(n, 3) * interval '2 hours' END,
       'sup'
  FROM cases c, generate_series(1, 5) AS n
 WHERE c.case_id = ANY($1) OR substr(c.case_id, 6)::int % 3 = 0
""",
)
"""Board rows beyond the stories' (each statement takes $1 case ids, $2 ``TIE``): for each
given case and department three disputes (two awaiting, one at ``TIE``) and three extension
requests (two pending, one at ``TIE``), five escalations (two sharing an instant, one at
``TIE``) of those cases and of every third."""

STORY_ROWS_SQL = (
    """
UPDATE disputes SET status = 'awaiting', outcome = NULL
 WHERE seq < 1000 AND substr(case_id, 6)::int % 2 = 1
""",
    """
UPDATE extension_requests SET status = 'pending', granted_due_at = NULL
 WHERE seq < 1000 AND substr(case_id, 6)::int % 2 = 1
""",
    """
INSERT INTO disputes (case_id, seq, department, raised_at, status)
SELECT 'WH-GONE', n, 'transport', now(), 'awaiting' FROM generate_series(1, 3) AS n
""",
    """
INSERT INTO escalations (case_id, seq, tier, escalated_at)
SELECT 'WH-GONE', n, 'street', now() FROM generate_series(1, 3) AS n
""",
)
"""The stories' own disputes and extensions (ruled and granted) made awaiting and pending for
every other case (their departments may have left the case since), and board rows of no case
(the boards join them to nothing)."""


RESOLVE_CLOCK = """
INSERT INTO clocks (case_id, clock, department, mode, started_at, due_at, status, raised_at,
                    category, district, street, community)
SELECT c.case_id, 'resolve', k.department, 'calendar', c.raised_at + k.started,
       c.raised_at + k.started + interval '3 days', k.status, c.raised_at, c.category,
       c.district, c.street, c.community
  FROM cases c, (VALUES {clocks}) AS k(department, started, status)
 WHERE c.case_id = ANY($1)
"""
LEAD_CLOCK_RELEASED_SQL = f"""
WITH released AS (
  UPDATE clocks k SET status = 'released' FROM cases c
   WHERE k.case_id = c.case_id AND k.clock = 'resolve' AND k.department = c.lead_department
     AND c.case_id = ANY($1))
{RESOLVE_CLOCK.format(clocks="('water', interval '2 days', 'running')")}
"""
"""The lead's resolve clock released and another department's running: the lead's is told."""
NO_LEAD_CLOCK_SQL = f"""
WITH gone AS (
  DELETE FROM clocks k USING cases c
   WHERE k.case_id = c.case_id AND k.clock = 'resolve' AND k.department = c.lead_department
     AND c.case_id = ANY($1))
{
    RESOLVE_CLOCK.format(
        clocks=(
            "('', interval '1 hour', 'running'), ('water', interval '5 days', 'released'),"
            " ('zz_support', interval '3 hours', 'running')"
        )
    )
}
"""
"""No resolve clock of the lead's, others: a running one before a released one started later,
the latest started of the running ones (``zz_support``)."""


WORKING_CLOCKS_SQL = """
UPDATE clocks SET mode = 'working',
       status = CASE WHEN substr(case_id, 6)::int % 8 = 4 AND status = 'running' THEN 'paused'
                     ELSE status END
 WHERE substr(case_id, 6)::int % 4 = 0
"""
"""Every fourth case's clocks counted in working time (the stories' are 7×24), some paused."""


def plain(value: Any) -> Any:
    """JSON form: instants as 'Z' (PostgreSQL's JSON writes '+00:00'), lists stay ordered,
    a case's clocks without what depends on now() (elapsed and remaining seconds)."""
    data = json.loads(to_json(value).decode().replace("+00:00", "Z"))
    for clock in data.get("clocks", []) if isinstance(data, dict) else []:
        clock.pop("elapsed_seconds", None)
        clock.pop("remaining_seconds", None)
    return data


def kind(scope: Scope) -> str:
    """What kind of caller a scope is: an area level, a department, a mix, everything, or
    the stranger."""
    if scope == STRANGER:
        return "stranger"
    if scope.area is None:
        return "department" if scope.department else "everything"
    if scope.department is not None:
        return "area and department"
    return ("district", "street", "community", "grid")[min(scope.area.count("."), 3)]


@covers("cases")
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
    for scope in both.scopes:
        for f in filters:
            mine, theirs = await both.pg.cases(scope, f), await both.fake.cases(scope, f)
            assert [r["case_id"] for r in mine] == [r["case_id"] for r in theirs], (scope, f)
            for row, full in zip(mine, theirs, strict=True):
                assert plain(row) == plain({k: full[k] for k in row}), row["case_id"]
            compared += len(mine)
    assert compared > 3000  # the filters and scopes do select cases


@covers("case", "case_scope", "case_timeline", "timeline", "case_as_of")
async def test_one_case_its_timeline_and_its_past_agree(both: Both) -> None:
    for case_id in [*both.case_ids[::10], "WH-NONE"]:
        assert plain(await both.pg.case(case_id)) == plain(await both.fake.case(case_id))
        assert await both.pg.case_scope(case_id) == await both.fake.case_scope(case_id)
        assert plain(await both.pg.case_timeline(case_id)) == plain(
            await both.fake.case_timeline(case_id)
        )
        events = await both.pg.timeline(case_id)
        assert plain(events) == plain(await both.fake.timeline(case_id))
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


@covers(*BOARDS)
@pytest.mark.parametrize(
    ("board", "least"),
    [
        ("breaches", 10),
        ("joint_actions", 20),
        ("disputes", 200),
        ("extensions", 200),
        ("escalations", 100),
    ],
)
async def test_boards_agree_for_every_scope(both: Both, board: str, least: int) -> None:
    """Each board, for every kind of caller: each kind sees rows, and one of each kind but
    everything sees fewer than everything (the scope does cut)."""
    seen: dict[Scope, int] = {}
    for scope in both.scopes:
        mine = await getattr(both.pg, board)(scope)
        assert plain(mine) == plain(await getattr(both.fake, board)(scope)), scope
        seen[scope] = len(mine)
    assert sum(seen.values()) > least
    everything = seen[Scope()]
    for name in ("district", "street", "community", "grid", "department", "area and department"):
        counts = [n for s, n in seen.items() if kind(s) == name]
        assert max(counts) > 0 and min(counts) < everything, (board, name, counts)
    assert seen[STRANGER] == 0


async def test_board_rows_tie_on_their_instant(both: Both) -> None:
    """The data does put rows on the same instant, so the boards' tie-breakers are compared."""
    for board, field in (
        ("disputes", "raised_at"),
        ("extensions", "requested_at"),
        ("escalations", "escalated_at"),
    ):
        instants = [r[field] for r in await getattr(both.pg, board)(Scope())]
        assert instants.count(TIE) > 5, board


@covers("metrics")
async def test_metrics_agree(both: Both) -> None:
    """Every figure: from the daily roll-ups (whole days) and from the base tables."""
    midnight = datetime(2026, 10, 8, tzinfo=SHANGHAI)  # whole days: read from the roll-ups
    ranges = [
        (None, None),
        (midnight, midnight + timedelta(days=14)),
        (T0 + timedelta(hours=5), None),
    ]
    groups: tuple[GroupBy, ...] = ("department", "community", "street", "district", "category")
    periods: tuple[Period, ...] = ("all", "week", "day")
    seen = 0
    for scope in both.scopes:
        if kind(scope) == "grid":
            for read in (both.pg, both.fake):
                with pytest.raises(ValueError, match="below a community"):
                    await read.metrics(MetricsQuery(scope))
            continue
        for group_by in groups:
            for period in periods:
                for since, until in ranges:
                    query = MetricsQuery(scope, group_by, period, since=since, until=until)
                    mine = await both.pg.metrics(query)
                    assert plain(mine) == plain(await both.fake.metrics(query)), query
                    seen += sum(r["cases"] + r["callbacks"] + r["breaches"] for r in mine)
    assert seen > 20_000


@covers("rankings")
async def test_rankings_agree(both: Both) -> None:
    midnight = datetime(2026, 10, 8, tzinfo=SHANGHAI)
    ranked = 0
    for scope in both.scopes:
        if kind(scope) == "grid":
            continue
        for group_by in ("department", "community", "category"):
            for by in get_args(RankBy):
                for since in (None, midnight):
                    query = MetricsQuery(scope, group_by, by=by, since=since)
                    mine = await both.pg.rankings(query)
                    assert plain(mine) == plain(await both.fake.rankings(query)), query
                    ranked += sum(r["rank"] is not None for r in mine)
    assert ranked > 500


@covers("whistles", "follow_ups")
async def test_whistles_and_follow_ups_agree(both: Both) -> None:
    for ids in ([], ["WH-NONE"], both.case_ids[::7], [*both.published, "WH-NONE"], both.case_ids):
        assert plain(await both.pg.whistles(ids)) == plain(await both.fake.whistles(ids))
        assert plain(await both.pg.follow_ups(ids)) == plain(await both.fake.follow_ups(ids))
    told = await both.pg.follow_ups(both.case_ids)
    assert sum(f["expected_at"] is not None for f in told.values()) > 50
    summaries = [told[i]["summary"] for i in both.published]
    assert summaries[-1] is None  # published, its published_at cleared: nothing public
    assert len({s for s in summaries if s is not None}) > 5
    checked = 0
    for i in both.case_ids[1::10] + both.case_ids[3::10]:
        case = await both.pg.case(i)
        assert case is not None
        due = {k["department"]: k["due_at"] for k in case["clocks"] if k["clock"] == "resolve"}
        told_of = case["lead_department"] if i in both.case_ids[1::10] else "zz_support"
        if told_of in due:  # routed: the lead's clock (released) is told, else the latest running
            assert plain(told[i]["expected_at"]) == plain(due[told_of]), i
            checked += 1
    assert checked > 20


@covers("deadlines")
async def test_deadlines_agree(both: Both) -> None:
    """The running and paused clocks of some cases, soonest due first; remaining time from now
    (or the pause) within the test's own seconds."""
    for ids in ([], ["WH-NONE"], both.case_ids[::7], both.case_ids):
        mine, theirs = await both.pg.deadlines(ids), await both.fake.deadlines(ids)
        assert mine.keys() == theirs.keys()
        for case_id, clocks in mine.items():
            other = theirs[case_id]
            for a, b in zip(clocks, other, strict=True):
                assert abs(a.pop("remaining_seconds") - b.pop("remaining_seconds")) < 30
            assert plain(clocks) == plain(other), case_id
    told = await both.pg.deadlines(both.case_ids)
    assert len(told) > 20 and any(len(k) > 1 for k in told.values())
    assert any(k["status"] == "paused" for ks in told.values() for k in ks)
    assert any(k["breached"] for ks in told.values() for k in ks)


@covers("similar_candidates")
async def test_similar_candidates_agree(both: Both) -> None:
    """A draft's candidates for each community at several instants, for every scope."""
    raised = sorted(instant(r["raised_at"]) for r in both.fake.rows.values())
    moments = [raised[len(raised) // 4], raised[len(raised) // 2], raised[-1] + timedelta(days=3)]
    found = 0
    for scope in both.scopes:
        for community in COMMUNITIES:
            for at in moments:
                assert at is not None
                mine = await both.pg.similar_candidates(scope, community, at)
                theirs = await both.fake.similar_candidates(scope, community, at)
                assert [r["case_id"] for r in mine] == [r["case_id"] for r in theirs]
                found += len(mine)
    assert found > 50


@covers("clocks_beyond")
async def test_clocks_beyond_the_calendar_agree(both: Both) -> None:
    """Without a calendar window, and windows that the clocks start before or fall due after."""
    windows: list[tuple[datetime, datetime] | None] = [None]
    for first, end in ((0, 60), (5, 60), (0, 12), (8, 16), (-400, 400)):
        windows.append((T0 + timedelta(days=first), T0 + timedelta(days=end)))
    dues = sorted(
        instant(k["due_at"])
        for case in both.fake.rows.values()
        for k in case["clocks"]
        if k["mode"] == "working" and k["status"] in ("running", "paused")
    )
    windows.append((T0, dues[len(dues) // 2]))  # one falls due at the very end
    counts = []
    for window in windows:
        mine = await both.pg.clocks_beyond(window)
        assert mine == await both.fake.clocks_beyond(window), window
        counts.append(mine)
    assert counts[0] > counts[2] > 0 and counts[5] == 0
    assert len(set(counts)) > 3


@covers("lag", "ping")
async def test_lag_and_ping_agree(both: Both) -> None:
    """At rest, and with checkpoints behind (one of them past its high watermark)."""
    assert await both.pg.lag() == await both.fake.lag()
    now = datetime.now(UTC)
    checkpoints = [
        ("projector", "case-events", 0, 10, 25, now - timedelta(seconds=30)),
        ("projector", "case-events", 1, 40, 35, now - timedelta(seconds=90)),
        ("projector", "case-events", 2, 5, 5, None),
    ]
    names = ["projector", "topic", "partition", "next_offset", "high_watermark", "last_event_at"]
    for ahead in (True, False):
        rows = checkpoints if ahead else [(*k[:4], k[3], k[5]) for k in checkpoints]
        async with both.pg._connection() as conn:
            await conn.execute(f"DELETE FROM {SCHEMA}.checkpoints")
            await conn.copy_records_to_table(
                "checkpoints", records=rows, schema_name=SCHEMA, columns=names
            )
        both.fake.checkpoints[:] = [dict(zip(names, k, strict=True)) for k in rows]
        mine, theirs = await both.pg.lag(), await both.fake.lag()
        assert mine.events == theirs.events == (15 if ahead else 0)
        assert mine.seconds is not None and theirs.seconds is not None
        assert abs(mine.seconds - theirs.seconds) < 5
        assert (mine.seconds > 29) is ahead
    assert await both.pg.ping() is None and await both.fake.ping() is None
    conn = await asyncpg.connect(both.dsn)
    await conn.close()
    both.fake.down = True
    for read in (PgRead(conn), both.fake):
        with pytest.raises(Exception):  # noqa: B017  (any failure: /readyz reports it)
            await read.ping()


def test_every_read_of_the_gateway_is_held_to_the_contract() -> None:
    """Every public read of ``ReadModel`` has a contract case, ``PgRead`` reads nothing the
    protocol lacks, and the fake implements them all; a protocol that grows is caught."""
    reads = reads_of(ReadModel)
    assert reads - COVERED.keys() == set(), "reads without a contract case"
    assert COVERED.keys() - reads == set(), "contract cases of no read"
    assert reads_of(PgRead) == reads
    assert reads <= reads_of(FakeRead)

    class Grown(ReadModel, Protocol):
        async def workspaces(self, scope: Scope) -> list[Any]: ...

    assert reads_of(Grown) - COVERED.keys() == {"workspaces"}


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

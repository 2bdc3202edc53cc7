"""A hand-computed month: 12 whistles, three communities, four departments → exact 三率,
percentiles and rankings (the arithmetic is written out next to each expectation)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest

from projections.projector import Projector, ProjectorConfig
from tests.integration.projections.helpers import create_topic, produce, wait_projected
from tests.stories import Story
from whistle.read.gateway import PgRead
from whistle.read.resolution_metrics import Weights, metrics, metrics_sql, rankings, rollup_grain
from whistle.read.scope import Scope

pytestmark = pytest.mark.integration

CST = timezone(timedelta(hours=8))
NOV, DEC = datetime(2026, 11, 1, tzinfo=CST), datetime(2026, 12, 1, tzinfo=CST)
JINHAI, FENGXIANG, FENGSHAN = (
    "tongan.datong.jinhai",
    "tongan.datong.fengxiang",
    "tongan.xiangping.fengshan",
)
UM, TR, PS, HO = "urban_management", "transport", "public_security", "housing"
M, H = timedelta(minutes=1), timedelta(hours=1)


def case(
    n: int,
    day: int,
    community: str,
    acks: list[tuple[str, int]],
    resolve_h: int | None,
    verdict: tuple[bool, bool, int] | None,
    at: tuple[int, int] = (9, 0),
) -> Story:
    """Raised at ``at`` Shanghai time on ``day`` and routed at once; ``acks`` = (department,
    minutes) with the first one the lead; in time when minutes ≤ 30 (the ack clock); ``verdict``
    = the callback's (solved, satisfied, score)."""
    s = Story(f"nov-{n:02d}", community)
    t = datetime(2026, 11, day, *at, tzinfo=CST)
    s.raised(t)
    lead, *supporting = [d for d, _ in acks]
    s.routed(t, lead, tuple(supporting))
    for department, minutes in acks:
        if minutes >= 0:
            s.acknowledged(t + minutes * M, department, within=minutes <= 30)
    if resolve_h is not None:
        s.resolved(t + resolve_h * H)
        if verdict is not None:
            s.callback(t + (resolve_h + 1) * H, *verdict)
    return s


def month() -> list[Story]:
    """The twelve cases of November (callback scores 1–5 as the last item of each verdict)."""
    c1 = case(1, 2, JINHAI, [(UM, 10), (TR, 40)], 48, (True, True, 5))
    c2 = case(2, 3, JINHAI, [(UM, 20)], 24, (True, True, 4))
    c3 = case(3, 5, FENGXIANG, [(TR, 5), (PS, 25)], 72, (True, False, 2))
    # c4: Monday 9 Nov 00:30 in Shanghai is still Sunday 8 Nov in UTC
    c4 = case(4, 9, FENGXIANG, [(PS, 50)], 120, (False, False, 1), at=(0, 30))
    c5 = case(5, 10, FENGSHAN, [(HO, 15), (UM, 30)], 96, (True, True, 5))
    # c6: resolve clock breached at 7 days, resolved at 200 h, unsatisfied, reopened, 240 h
    c6 = case(6, 12, FENGSHAN, [(HO, 60)], None, None)
    t6 = datetime(2026, 11, 12, 9, 0, tzinfo=CST)
    c6.breached(t6 + 168 * H + M, "resolve", HO)
    c6.resolved(t6 + 200 * H)
    c6.callback(t6 + 201 * H, False, False, 2)
    c6.reopened(t6 + 202 * H, 1)
    c6.resolved(t6 + 240 * H)
    c6.callback(t6 + 241 * H, True, True, 4)
    c7 = case(7, 15, JINHAI, [(TR, 10)], 36, (True, True, 5))
    c8 = case(8, 18, FENGXIANG, [(UM, 25), (HO, 35)], 60, (True, True, 4))
    c9 = case(9, 21, FENGSHAN, [(PS, 5), (TR, 15)], 30, (True, False, 3))
    # c10: housing signs 45 min late (ack clock breached at 31 min); still open
    c10 = case(10, 24, JINHAI, [(HO, -1)], None, None)
    t10 = datetime(2026, 11, 24, 9, 0, tzinfo=CST)
    c10.breached(t10 + 31 * M, "ack", HO)
    c10.acknowledged(t10 + 45 * M, HO, within=False)
    c11 = case(11, 26, FENGXIANG, [(UM, 12)], 12, (True, True, 5))
    # c12: public security disputes (退单) and is replaced by housing, who signs 20 min later
    c12 = case(12, 28, FENGSHAN, [(TR, 8), (PS, -1)], None, None)
    t12 = datetime(2026, 11, 28, 9, 0, tzinfo=CST)
    c12.disputed(t12 + 10 * M, PS)
    c12.ruled(t12 + 40 * M, PS, HO)
    c12.acknowledged(t12 + 60 * M, HO, within=True)
    c12.resolved(t12 + 50 * H)
    c12.callback(t12 + 51 * H, True, True, 4)
    return [c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12]


@pytest.fixture
async def month_db(
    kafka_bootstrap: str, fresh_database: str, unique_name: Callable[[str], str]
) -> asyncpg.Connection:
    """The month projected by the live projector into a fresh database."""
    topic = unique_name("proj-month")
    await create_topic(kafka_bootstrap, topic, partitions=3)
    events = [e for s in month() for e in s.events]
    sent = await produce(kafka_bootstrap, topic, events, duplicate_every=5)
    projector = Projector(
        ProjectorConfig(dsn=fresh_database, bootstrap=kafka_bootstrap, topic=topic, batch_size=7)
    )
    task = asyncio.create_task(projector.run())
    try:
        await wait_projected(fresh_database, topic, sent)
    finally:
        projector.stop()
        await task
    conn = await asyncpg.connect(fresh_database)
    yield conn
    await conn.close()


MIN = 60.0
HOUR = 3600.0


async def test_department_rates_percentiles_and_ranking(month_db: asyncpg.Connection) -> None:
    rows = {r["group"]: r for r in await metrics(month_db, "department", "month", NOV, DEC)}
    assert set(rows) == {UM, TR, PS, HO}
    assert {r["bucket"] for r in rows.values()} == {"2026-11-01"}
    um, tr, ps, ho = rows[UM], rows[TR], rows[PS], rows[HO]

    # 响应率: UM 5/5 (10,20,30,25,12 min); TR 4/5 (40 late); PS 2/4 (50 late, c12 disputed,
    # never signed); HO 2/5 (60, 35, 45 late; 15 and c12's 20 in time)
    assert (um["acknowledged_in_time"], um["dispatched"]) == (5, 5)
    assert (tr["acknowledged_in_time"], tr["dispatched"]) == (4, 5)
    assert (ps["acknowledged_in_time"], ps["dispatched"]) == (2, 4)
    assert (ho["acknowledged_in_time"], ho["dispatched"]) == (2, 5)
    assert [r["response_rate"] for r in (um, tr, ps, ho)] == [1.0, 0.8, 0.5, 0.4]

    # 解决率 / 满意率 (callbacks counted for the lead): UM 4/4, 4/4; TR 3/3, 2/3;
    # PS 1/2, 0/2; HO 2/3, 2/3 (c6 twice: before and after reopening)
    assert [(r["solved"], r["satisfied"], r["callbacks"]) for r in (um, tr, ps, ho)] == [
        (4, 4, 4),
        (3, 2, 3),
        (1, 0, 2),
        (2, 2, 3),
    ]
    assert tr["satisfaction_rate"] == 2 / 3 and ho["resolution_rate"] == 2 / 3

    # score = 30·响应 + 35·解决 + 35·满意: UM 100; TR 24 + 35 + 23.33…; PS 15 + 17.5 + 0;
    # HO 12 + 23.33… + 23.33…
    assert um["score"] == pytest.approx(100.0, abs=1e-9)
    assert tr["score"] == pytest.approx(24 + 35 + 35 * 2 / 3, abs=1e-9)
    assert ps["score"] == pytest.approx(32.5, abs=1e-9)
    assert ho["score"] == pytest.approx(12 + 70 * 2 / 3, abs=1e-9)

    # time to acknowledge, percentile_cont: UM [10,12,20,25,30] → median 20, p90 at 3.6 → 28
    # TR [5,8,10,15,40] → 10, 15 + .6·25 = 30; PS [5,25,50] → 25, 25 + .8·25 = 45;
    # HO [15,20,35,45,60] → 35, 45 + .6·15 = 54 (minutes)
    expected_ack = {UM: (20, 28), TR: (10, 30), PS: (25, 45), HO: (35, 54)}
    for dept, (median, p90) in expected_ack.items():
        assert rows[dept]["ack_median_s"] == pytest.approx(median * MIN, abs=1e-6), dept
        assert rows[dept]["ack_p90_s"] == pytest.approx(p90 * MIN, abs=1e-6), dept

    # time to resolve (lead, raised → resolved): UM [12,24,48,60] → 36, 48 + .7·12 = 56.4;
    # TR [36,50,72] → 50, 50 + .8·22 = 67.6; PS [30,120] → 75, 30 + .9·90 = 111;
    # HO [96,240] (c10 open) → 168, 96 + .9·144 = 225.6 (hours)
    expected_resolve = {UM: (36, 56.4), TR: (50, 67.6), PS: (75, 111), HO: (168, 225.6)}
    for dept, (median, p90) in expected_resolve.items():
        assert rows[dept]["resolve_median_s"] == pytest.approx(median * HOUR, abs=1e-6), dept
        assert rows[dept]["resolve_p90_s"] == pytest.approx(p90 * HOUR, abs=1e-6), dept

    # breaches: HO twice (c6 resolve, c10 ack); dispute rate PS 1/4; reopen rate HO 1/2
    assert [r["breaches"] for r in (um, tr, ps, ho)] == [0, 0, 0, 2]
    assert ps["dispute_rate"] == 0.25 and um["dispute_rate"] == 0.0
    assert ho["reopen_rate"] == 0.5 and tr["reopen_rate"] == 0.0

    ranked = await rankings(month_db, "department", NOV, DEC)
    assert [(r["group"], r["rank"]) for r in ranked] == [(UM, 1), (TR, 2), (HO, 3), (PS, 4)]


async def test_average_callback_score_per_group(month_db: asyncpg.Connection) -> None:
    # 平均满意度评分 = sum of the 1–5 scores ÷ callbacks with a score (counted for the lead):
    # UM c1 5 + c2 4 + c8 4 + c11 5 = 18/4; TR c3 2 + c7 5 + c12 4 = 11/3;
    # PS c4 1 + c9 3 = 4/2; HO c5 5 + c6 2 (before reopening) + c6 4 (after) = 11/3
    expected = {UM: (18, 4, 4.5), TR: (11, 3, 11 / 3), PS: (4, 2, 2.0), HO: (11, 3, 11 / 3)}
    rolled = await metrics(month_db, "department", "month", NOV, DEC)  # whole days: roll-ups
    raw = await metrics(month_db, "department", None, NOV + M, DEC)  # not midnight: base tables
    for rows in (rolled, raw):
        assert {
            r["group"]: (r["score_sum"], r["score_count"], r["average_score"]) for r in rows
        } == (expected)

    # ranked by it: equal averages share a rank (housing and transport, 11/3 each)
    ranked = await rankings(month_db, "department", NOV, DEC, by="average_score")
    assert [(r["group"], r["rank"]) for r in ranked] == [(UM, 1), (HO, 2), (TR, 2), (PS, 4)]

    # communities: jinhai c1 5 + c2 4 + c7 5 = 14/3; fengshan c5 5 + c6 2 + 4 + c9 3 + c12 4 = 18/5;
    # fengxiang c3 2 + c4 1 + c8 4 + c11 5 = 12/4; street tongan.datong = jinhai + fengxiang
    # = 26/7; the district, all twelve callbacks: 44/12
    ranked = await rankings(month_db, "community", NOV, DEC)
    assert {r["group"]: r["average_score"] for r in ranked} == {
        JINHAI: 14 / 3,
        FENGSHAN: 3.6,
        FENGXIANG: 3.0,
    }
    streets = {r["group"]: r for r in await metrics(month_db, "street", None, NOV, DEC)}
    assert streets["tongan.datong"]["average_score"] == 26 / 7
    district = await metrics(month_db, "district", None, NOV, DEC)
    assert [(r["score_sum"], r["score_count"], r["average_score"]) for r in district] == [
        (44, 12, 44 / 12)
    ]

    # none when no callback: jinhai on 24 Nov has only c10, still open
    days = {
        (r["bucket"], r["group"]): r for r in await metrics(month_db, "community", "day", NOV, DEC)
    }
    assert days[("2026-11-24", JINHAI)]["score_count"] == 0
    assert days[("2026-11-24", JINHAI)]["average_score"] is None
    assert days[("2026-11-02", JINHAI)]["average_score"] == 5.0


async def test_community_ranking_and_custom_weights(month_db: asyncpg.Connection) -> None:
    ranked = await rankings(month_db, "community", NOV, DEC)
    # jinhai: 响应 3/5, 解决 3/3, 满意 3/3 → 18 + 35 + 35 = 88
    # fengshan: 6/8, 4/5, 3/5 → 22.5 + 28 + 21 = 71.5
    # fengxiang: 4/6, 3/4, 2/4 → 20 + 26.25 + 17.5 = 63.75
    assert [(r["group"], r["rank"]) for r in ranked] == [(JINHAI, 1), (FENGSHAN, 2), (FENGXIANG, 3)]
    assert [r["score"] for r in ranked] == pytest.approx([88.0, 71.5, 63.75], abs=1e-9)
    assert [(r["acknowledged_in_time"], r["dispatched"]) for r in ranked] == [
        (3, 5),
        (6, 8),
        (4, 6),
    ]

    only_response = await rankings(month_db, "community", NOV, DEC, weights=Weights(1, 0, 0))
    assert [(r["group"], r["score"]) for r in only_response] == [
        (FENGSHAN, pytest.approx(75.0)),
        (FENGXIANG, pytest.approx(200 / 3)),
        (JINHAI, pytest.approx(60.0)),
    ]

    streets = {r["group"]: r for r in await metrics(month_db, "street", None, NOV, DEC)}
    # tongan.datong = jinhai + fengxiang: 响应 7/11, callbacks 7 (solved 6, satisfied 5)
    assert (
        streets["tongan.datong"]["acknowledged_in_time"],
        streets["tongan.datong"]["dispatched"],
    ) == (7, 11)
    assert (streets["tongan.datong"]["solved"], streets["tongan.datong"]["satisfied"]) == (6, 5)
    districts = await metrics(month_db, "district", None, NOV, DEC)
    assert [(r["group"], r["dispatched"], r["callbacks"]) for r in districts] == [
        ("tongan", 19, 12)
    ]


async def test_weekly_buckets_in_shanghai_time(month_db: asyncpg.Connection) -> None:
    rows = await metrics(month_db, "category", "week", NOV, DEC)
    # weeks start on Monday, in Shanghai time: 2 Nov: c1 (2), c2 (3), c3 (5);
    # 9 Nov: c4 (Mon 00:30 +08, in UTC still the week before), c5, c6, c7;
    # 16 Nov: c8, c9; 23 Nov: c10, c11, c12 (Sat 28)
    assert [r["bucket"] for r in rows] == ["2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23"]
    assert [r["cases"] for r in rows] == [3, 4, 2, 3]
    # assignments: 2+1+2 | 1+2+1+1 | 2+2 | 1+1+3 (c12: transport, public security, housing)
    assert [r["dispatched"] for r in rows] == [5, 5, 4, 5]
    days = await metrics(month_db, "community", "day", NOV, DEC)
    assert ("2026-11-09", FENGXIANG) in {(r["bucket"], r["group"]) for r in days}


async def test_time_travel_folds_the_timeline_up_to_the_instant(
    month_db: asyncpg.Connection,
) -> None:
    t6 = datetime(2026, 11, 12, 9, 0, tzinfo=CST)
    read = PgRead(month_db)
    assert await read.case_as_of("nov-06", t6 - M) is None
    raised = await read.case_as_of("nov-06", t6 + 30 * M)
    assert raised is not None and raised.status == "routed" and raised.lead == HO
    breached = await read.case_as_of("nov-06", t6 + 169 * H)
    assert breached is not None and breached.clocks[f"resolve:{HO}"].breached
    before_reopen = await read.case_as_of("nov-06", t6 + 201 * H + M)
    assert before_reopen is not None and before_reopen.status == "resolved"
    assert before_reopen.last_callback is not None and not before_reopen.last_callback.solved
    reopened = await read.case_as_of("nov-06", t6 + 203 * H)
    assert reopened is not None and (reopened.status, reopened.reopen_count) == ("in_progress", 1)
    now = await read.case_as_of("nov-06", DEC + 30 * 24 * H)
    assert now is not None and now.seq == 9 and now.callbacks == 2


async def test_daily_rollups_give_what_the_base_tables_give(month_db: asyncpg.Connection) -> None:
    # whole Shanghai days read metric_days (kept by the projector, batch by batch, by deltas);
    # the same figures from the base tables must agree to the last digit, for every grain
    scopes = [Scope(), Scope(area="tongan.datong"), Scope(department=TR)]
    scopes.append(Scope(area=JINHAI, department=UM))
    for group_by in ("department", "community", "street", "district", "category"):
        for period in ("day", "week", "month", None):
            for scope in scopes:
                if rollup_grain(group_by, scope) is None:  # type: ignore[arg-type]
                    continue
                sql, args = metrics_sql(group_by, period, scope)  # type: ignore[arg-type]
                raw = [dict(r) for r in await month_db.fetch(sql, NOV, DEC, *args)]
                rolled = await metrics(month_db, group_by, period, NOV, DEC, scope)  # type: ignore[arg-type]
                assert [(r["bucket"] or "all", r["group"]) for r in rolled] == [
                    (r["bucket"], r["grp"]) for r in raw
                ]
                for got, want in zip(rolled, raw, strict=True):
                    assert {k: got[k] for k in want if k not in ("bucket", "grp")} == {
                        k: v for k, v in want.items() if k not in ("bucket", "grp")
                    }

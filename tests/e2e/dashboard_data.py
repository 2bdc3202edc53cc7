"""Read models for the dashboard's and the console's tests, built from real case events.

The events go through the projector's own code (``apply_event``, ``write_cases``), so the
tests see exactly what the projections engineer's read models hold for such a history.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from projections.apply import ApplyStats, apply_event
from projections.model import Model
from projections.readmodel_store import load_cases, write_cases, write_timeline
from tests.stories import Story, wire
from whistle.domain import Event, encode

NOW = datetime.now(UTC)

CASES = [
    # case, community, department, acknowledged in time, solved, satisfied, days ago
    ("WH-DEMO-01", "tongan.datong.jinhai", "urban_management", True, True, True, 6),
    ("WH-DEMO-02", "tongan.datong.jinhai", "transport", True, True, False, 5),
    ("WH-DEMO-03", "tongan.datong.fengxiang", "urban_management", False, True, True, 4),
    ("WH-DEMO-04", "tongan.datong.yunxi", "civil_affairs", True, False, False, 3),
    ("WH-DEMO-05", "tongan.xiangping.fengshan", "housing", True, True, True, 2),
    ("WH-DEMO-06", "tongan.xiangping.lufeng", "public_security", False, False, True, 1),
    ("WH-DEMO-07", "tongan.datong.xichi", "greening", True, True, True, 1),
    ("WH-DEMO-08", "tongan.datong.jinhai", "public_security", True, True, True, 0),
]


async def project(conn: asyncpg.Connection, events: list[Event]) -> None:
    """Apply ``events`` to the live read models, as the projector would."""
    model = Model()
    stats = ApplyStats()
    async with conn.transaction():
        await conn.execute("SET LOCAL search_path TO projection, public")
        await load_cases(conn, model, {e.case_id for e in events})
        for event in events:
            apply_event(model, wire(event), encode(event).decode(), None, None, stats)
        await write_cases(conn, model, model.dirty, replace=True)
        await write_timeline(conn, model)


def _closed_case(case_id: str, community: str, dept: str, *facts: Any) -> list[Event]:
    in_time, solved, satisfied, days = facts
    story = Story(case_id, community)
    t0 = NOW - timedelta(days=days, hours=3)
    story.raised(t0)
    story.routed(t0 + timedelta(seconds=1), dept)
    story.acknowledged(t0 + timedelta(minutes=20 if in_time else 50), dept, in_time)
    story.resolved(t0 + timedelta(hours=20))
    story.callback(t0 + timedelta(days=1), solved, satisfied)
    story.closed(t0 + timedelta(days=1, minutes=5))
    return list(story.events)


def _open_case(
    case_id: str, dept: str, title: str, hours_ago: float, supporting: tuple[str, ...] = ()
) -> Story:
    story = Story(case_id, "tongan.datong.jinhai")
    t0 = NOW - timedelta(hours=hours_ago)
    story.raised(t0, category="noise", title=title)
    story.routed(t0 + timedelta(seconds=1), dept, supporting)
    return story


async def seed(conn: asyncpg.Connection) -> None:
    """Closed-loop cases over a week, and one dispute (退单) awaiting a ruling."""
    events: list[Event] = []
    for case_id, community, dept, *facts in CASES:
        events += _closed_case(case_id, community, dept, *facts)
    disputed = _open_case("WH-DEMO-09", "transport", "滨海步道占道经营", 2)
    disputed.disputed(NOW - timedelta(minutes=40), "transport", text="占道经营应由城管处理")
    events += disputed.events
    await project(conn, events)


async def breach(conn: asyncpg.Connection, case_id: str, department: str) -> None:
    """Nobody signed for ``department`` in time: the ack clock breached, a 催办 by the street."""
    story = _open_case(case_id, department, "广场舞噪音扰民", 1)
    story.breached(NOW, "ack", department)
    story.escalated(NOW, "reminder", "street", reason="30 分钟未签收")
    await project(conn, story.events)


async def joint_action(conn: asyncpg.Connection, case_id: str, departments: list[str]) -> Story:
    """A 集结 on a new open case in half an hour, of departments that all signed for it (the
    first one the lead); the first department has reported in."""
    lead, *supporting = departments
    story = _open_case(case_id, lead, "滨海浪漫线游客激增", 1, tuple(supporting))
    for department in departments:
        story.acknowledged(NOW - timedelta(minutes=40), department)
    when = NOW + timedelta(minutes=30)
    story.joint_action(NOW - timedelta(minutes=30), when, "滨海浪漫线金海段", departments)
    story.reported_in(NOW - timedelta(minutes=5), "ja-1", departments[0], len(departments) == 1)
    await project(conn, story.events)
    return story


async def report_in(conn: asyncpg.Connection, story: Story, department: str) -> None:
    """``department`` reports in at ja-1 of ``story``'s case, the last one to arrive."""
    await project(conn, [story.reported_in(datetime.now(UTC), "ja-1", department, True)])

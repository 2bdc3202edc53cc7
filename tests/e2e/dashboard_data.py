"""Read-model rows for the dashboard's browser test: cases, assignments, callbacks, a breach."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

S = "projection"
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


def _street(community: str) -> str:
    return community.rsplit(".", 1)[0]


async def seed(conn: asyncpg.Connection) -> None:
    """Closed-loop cases spread over a week, so every chart has something to draw."""
    for case_id, community, dept, in_time, solved, satisfied, days in CASES:
        raised = NOW - timedelta(days=days, hours=3)
        await conn.execute(
            f"INSERT INTO {S}.cases (case_id, status, title, category, urgency, channel, area,"
            " district, street, community, raised_at, lead_department, departments, routed_at)"
            " VALUES ($1,'closed',$2,'parking','general','whistle',$3,'tongan',$4,$3,$5,$6,$7,$5)",
            case_id,
            f"演示案件 {case_id[-2:]}",
            community,
            _street(community),
            raised,
            dept,
            [dept],
        )
        acked = raised + timedelta(minutes=20 if in_time else 50)
        await conn.execute(
            f"INSERT INTO {S}.assignments (case_id, department, role, dispatched_at, ack_due_at,"
            " acknowledged_at, acknowledged_in_time, breached)"
            " VALUES ($1,$2,'lead',$3,$4,$5,$6,$7)",
            case_id,
            dept,
            raised,
            raised + timedelta(minutes=30),
            acked,
            in_time,
            not in_time,
        )
        await conn.execute(
            f"INSERT INTO {S}.callbacks (case_id, seq, department, solved, satisfied, fault,"
            " called_at, recorded_by) VALUES ($1, 9, $2, $3, $4, 'none', $5, 'sec-demo')",
            case_id,
            dept,
            solved,
            satisfied,
            raised + timedelta(days=1),
        )
    await conn.execute(
        f"INSERT INTO {S}.disputes (case_id, seq, department, reason, note, raised_at, raised_by)"
        " VALUES ('WH-DEMO-09', 3, 'transport', 'wrong_function', '占道经营应由城管处理', $1,"
        " 'liaison-transport')",
        NOW - timedelta(minutes=40),
    )
    await _open_case(conn, "WH-DEMO-09", "tongan.datong.jinhai", "transport", "滨海步道占道经营")


async def _open_case(
    conn: asyncpg.Connection, case_id: str, community: str, dept: str, title: str
) -> None:
    raised = NOW - timedelta(hours=2)
    await conn.execute(
        f"INSERT INTO {S}.cases (case_id, status, title, category, urgency, channel, area,"
        " district, street, community, raised_at, lead_department, departments, routed_at)"
        " VALUES ($1,'routed',$2,'street_vending','general','whistle',$3,'tongan',$4,$3,$5,$6,"
        " $7,$5) ON CONFLICT DO NOTHING",
        case_id,
        title,
        community,
        _street(community),
        raised,
        dept,
        [dept],
    )


async def breach(conn: asyncpg.Connection, case_id: str, department: str) -> None:
    """Nobody signed for ``department`` in time: an open case with a breached ack clock."""
    await _open_case(conn, case_id, "tongan.datong.jinhai", department, "广场舞噪音扰民")
    due = NOW - timedelta(minutes=35)
    await conn.execute(
        f"INSERT INTO {S}.clocks (case_id, clock, department, mode, started_at, due_at,"
        " breached_at, status) VALUES ($1, 'ack', $2, 'calendar', $3, $4, now(), 'breached')",
        case_id,
        department,
        due - timedelta(minutes=30),
        due,
    )
    await conn.execute(
        f"UPDATE {S}.cases SET escalation_tier = 'street', escalation_step = 'reminder',"
        " escalated_at = now() WHERE case_id = $1",
        case_id,
    )

"""``whistle show``'s text: what and where, the joint actions and who reported in; times."""

from __future__ import annotations

from datetime import UTC, datetime

from whistle.console.caseview import case_lines
from whistle.console.text import CHINA, parse_time

NAMES = {
    "departments": {
        "urban_management": {"zh": "城管局", "en": "Urban Management"},
        "transport": {"zh": "交通局", "en": "Transport"},
    },
    "areas": {"tongan.datong.jinhai": {"zh": "金海社区", "en": "Jinhai Community"}},
}
CASE = {
    "case_id": "WH-1",
    "status": "in_progress",
    "title": "游客激增",
    "description": "周末人流激增，占道摆摊",
    "address": "金海社区滨海浪漫线",
    "location_lat": 24.66,
    "location_lon": 118.24,
    "community": "tongan.datong.jinhai",
    "raised_at": "2026-12-05T00:00:00+00:00",
    "assignments": [{"department": "urban_management", "role": "lead"}],
    "clocks": [],
    "joint_actions": [
        {
            "action_id": "ja-1",
            "at": "2026-12-05T01:00:00+00:00",
            "place": "滨海浪漫线金海段",
            "note": "带好隔离栏",
            "assembled_at": None,
            "departments": [
                {"department": "urban_management", "reported_in_at": "2026-12-05T01:05:00Z"},
                {"department": "transport", "reported_in_at": None},
            ],
        }
    ],
}


def test_show_prints_description_address_location_and_the_joint_action() -> None:
    text = "\n".join(case_lines(CASE, NAMES, "zh"))
    assert "描述  周末人流激增，占道摆摊" in text
    assert "地址  金海社区滨海浪漫线" in text and "位置  24.66, 118.24" in text
    assert "集结:" in text and "ja-1  12-05 09:00  滨海浪漫线金海段  带好隔离栏" in text
    assert "城管局  已报到 12-05 09:05" in text and "交通局  未报到" in text
    assert "已到齐" not in text


def test_show_in_english_marks_an_assembled_joint_action() -> None:
    done = CASE | {"joint_actions": [CASE["joint_actions"][0] | {"assembled_at": "x"}]}  # type: ignore[index]
    text = "\n".join(case_lines(done, NAMES, "en"))
    assert "Description  周末人流激增" in text and "Joint actions:" in text
    assert "assembled" in text and "Transport  not reported in" in text


def test_show_leaves_out_what_the_whistle_did_not_give() -> None:
    bare = {k: v for k, v in CASE.items() if k not in ("description", "location_lat")}
    text = "\n".join(case_lines(bare | {"joint_actions": []}, NAMES, "zh"))
    assert "描述" not in text and "位置" not in text and "集结" not in text
    assert "地址  金海社区滨海浪漫线" in text


def test_times_are_china_time_unless_they_carry_an_offset() -> None:
    assert parse_time("2026-12-05T09:00") == datetime(2026, 12, 5, 9, 0, tzinfo=CHINA)
    assert parse_time("2026-12-05 09:00") == datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
    assert parse_time("2026-12-05T09:00+00:00") == datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    assert parse_time("下周六") is None

"""The terminal breach board and its CJK-aware columns."""

from __future__ import annotations

from datetime import UTC, datetime

from whistle.console.board import render
from whistle.console.text import pad, width

NAMES = {
    "departments": {"public_security": {"zh": "公安分局", "en": "Public Security Bureau"}},
    "areas": {"tongan.datong.jinhai": {"zh": "金海社区", "en": "Jinhai Community"}},
}
BOARD = {
    "breaches": [
        {
            "case_id": "WH-1",
            "clock": "ack",
            "department": "public_security",
            "community": "tongan.datong.jinhai",
            "due_at": "2026-11-26T03:00:00+00:00",
            "escalation_step": "reminder",
        }
    ],
    "disputes": [],
    "escalations": [
        {
            "case_id": "WH-1",
            "tier": "street",
            "step": "reminder",
            "community": "tongan.datong.jinhai",
            "lead_department": "public_security",
            "escalated_at": "2026-11-26T03:40:00+00:00",
        }
    ],
}
NOW = datetime(2026, 11, 26, 4, 5, tzinfo=UTC)


def test_chinese_characters_take_two_columns() -> None:
    assert width("金海社区") == 8
    assert pad("金海社区", 5) == "金海 "
    assert width(pad("公安分局abc", 12)) == 12


def test_the_board_names_department_community_lateness_and_escalation() -> None:
    text = "\n".join(render(BOARD, NAMES, "zh", color=False, now=NOW))
    assert "公安分局" in text and "金海社区" in text
    assert "超时 1小时5分" in text and "催办" in text and "签收" in text
    assert "升级督办  1" in text and "街道催办" in text


def test_the_board_in_english() -> None:
    text = "\n".join(render(BOARD, NAMES, "en", color=False, now=NOW))
    assert "Public Security Bureau" in text and "late 1h 5m" in text and "reminder" in text


def test_an_empty_board_says_so() -> None:
    lines = render({"breaches": [], "disputes": []}, NAMES, "zh", color=False, now=NOW)
    assert "暂无超时。" in lines

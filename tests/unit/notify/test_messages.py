"""Messages: every kind in zh and en carries the case id, the ask, the deadline and the link."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from whistle.notify.message import KINDS, CaseFacts, Message, case_link
from whistle.notify.templates import ASKS, HEADLINES, REQUIRED, local_time

CASE = CaseFacts(
    "WH-20261202-7K3M9QX2PA", "滨海浪漫线游客激增，占道摆摊", "tourist_crowds", "jinhai"
)
LINK = case_link("https://whistle.example.gov.cn/cases/{case_id}", CASE.case_id)
DEADLINE = datetime(2026, 12, 2, 6, 30, tzinfo=UTC)  # 14:30 in China

FACTS: dict[str, dict[str, Any]] = {
    "assigned": {"role": "lead"},
    "deadline_approaching": {"clock": "ack", "percent": 80},
    "deadline_breached": {"clock": "resolve"},
    "escalated": {"step": "supervision", "tier": "street"},
    "dispute_raised": {"department": "城管局", "reason": "wrong_function"},
    "dispute_ruled": {"outcome": "reassign"},
    "joint_action_scheduled": {
        "time": datetime(2026, 12, 3, 1, 0, tzinfo=UTC),
        "place": "金海社区滨海浪漫线入口",
        "report_in": "https://whistle.example.gov.cn/cases/WH-20261202-7K3M9QX2PA/report-in",
    },
    "joint_action_moved": {
        "time": datetime(2026, 12, 3, 2, 0, tzinfo=UTC),
        "place": "金海社区居委会",
        "report_in": "https://whistle.example.gov.cn/cases/WH-20261202-7K3M9QX2PA/report-in",
    },
    "reopened": {},
    "extension_requested": {
        "department": "公安分局",
        "clock": "resolve",
        "until": datetime(2026, 12, 9, 9, 0, tzinfo=UTC),
    },
    "extension_decided": {"decision": "granted", "clock": "resolve"},
}


def test_every_kind_has_facts_here_and_texts_in_both_languages() -> None:
    assert set(FACTS) == set(KINDS) == set(REQUIRED) == set(ASKS) == set(HEADLINES)
    for kind in KINDS:
        assert set(ASKS[kind]) == set(HEADLINES[kind]) == {"zh", "en"}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_message_carries_case_ask_deadline_and_link(kind: str, language: str) -> None:
    message = Message.create(kind, CASE, LINK, DEADLINE, language, **FACTS[kind])  # type: ignore[arg-type]
    for rendered in (message.text(), message.markdown()):
        assert CASE.case_id in rendered
        assert message.ask in rendered
        assert message.deadline_text in rendered
        assert LINK in rendered
        assert not re.search(r"\{\w+\}", rendered), rendered  # no slot left unfilled
    assert CASE.case_id in message.subject and message.headline in message.subject
    if language == "zh":
        assert re.search(r"[\u4e00-\u9fff]", message.ask), message.ask
        assert message.deadline_text == "2026年12月2日 14:30"
    else:
        assert ASKS[kind]["en"].isascii() and HEADLINES[kind]["en"].isascii()
        assert message.deadline_text == "2 Dec 2026 14:30 (UTC+8)"


def test_chinese_is_the_default_language() -> None:
    message = Message.create("reopened", CASE, LINK, DEADLINE)
    assert message.language == "zh"
    assert message.subject.startswith("【吹哨】回访不满意")


def test_coded_facts_are_translated() -> None:
    zh = Message.create("escalated", CASE, LINK, DEADLINE, step="public_notice", tier="district")
    en = Message.create(
        "escalated", CASE, LINK, DEADLINE, "en", step="public_notice", tier="district"
    )
    assert zh.headline == "区级通报"
    assert en.headline == "public notice (通报) by the district"


def test_joint_action_times_are_written_in_china_time() -> None:
    message = Message.create(
        "joint_action_scheduled", CASE, LINK, DEADLINE, **FACTS["joint_action_scheduled"]
    )
    assert "2026年12月3日 09:00" in message.ask
    assert "金海社区滨海浪漫线入口" in message.ask
    assert FACTS["joint_action_scheduled"]["report_in"] in message.ask


def test_a_message_without_a_deadline_says_so() -> None:
    assert "办理期限：无" in Message.create("reopened", CASE, LINK).text()
    assert "Deadline: none" in Message.create("reopened", CASE, LINK, language="en").text()


@pytest.mark.parametrize(
    ("kind", "facts", "error"),
    [
        ("assigned", {}, "missing facts role"),
        ("assigned", {"role": "boss"}, "unknown role"),
        ("deadline_approaching", {"clock": "ack", "percent": 100}, "from 1 to 99"),
        ("escalated", {"step": "reminder"}, "missing facts tier"),
        ("nonsense", {}, "unknown message kind"),
    ],
)
def test_bad_facts_are_refused(kind: str, facts: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        Message.create(kind, CASE, LINK, DEADLINE, **facts)  # type: ignore[arg-type]


def test_an_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="language"):
        Message.create("reopened", CASE, LINK, language="fr")  # type: ignore[arg-type]


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        local_time(datetime(2026, 12, 2, 14, 30), "zh")

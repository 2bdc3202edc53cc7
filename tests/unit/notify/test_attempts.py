"""The shared judge with the channels' refusals, and how each robot's answer is read."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import aiohttp
import pytest

from whistle.delivery.attempt import AttemptResult, judge
from whistle.delivery.schedule import RETRY_DELAYS_S
from whistle.notify.channels import Destination, DingTalkRobot, FeishuBot, WeComRobot
from whistle.notify.channels.robots import _read
from whistle.notify.message import CaseFacts, Message

NOW = datetime(2026, 12, 2, tzinfo=UTC)


def ok(code: int = 200, **kw: object) -> AttemptResult:
    return AttemptResult(NOW, 1.0, code, **kw)  # type: ignore[arg-type]


def test_a_2xx_without_refusal_is_delivered() -> None:
    assert judge(ok(200), 0).outcome == "delivered"
    assert judge(ok(250), 0).outcome == "delivered"  # SMTP's 250 reads the same


def test_a_refused_200_is_not_delivered() -> None:
    assert judge(ok(200, refused="retry"), 0).outcome == "retry"
    assert judge(ok(200, refused="dead"), 0).outcome == "dead"
    assert judge(ok(200, refused="gone"), 0).outcome == "gone"


def test_a_refusal_to_retry_follows_the_schedule_and_its_pause() -> None:
    assert judge(ok(200, refused="retry"), 1).retry_in == RETRY_DELAYS_S[2]
    assert judge(ok(200, refused="retry", retry_after="60"), 1).retry_in == 300  # max(300, 60)
    assert judge(ok(200, refused="retry", retry_after="60"), 0).retry_in == 60
    last = len(RETRY_DELAYS_S) - 1
    assert judge(ok(200, refused="retry"), last).outcome == "dead"


def answer(code_field: str, code: int) -> bytes:
    return json.dumps({code_field: code, "errmsg": "x"}).encode()


ROBOTS = {
    "wecom": (("errcode",), WeComRobot.RATE_LIMITED, WeComRobot.GONE),
    "dingtalk": (("errcode",), DingTalkRobot.RATE_LIMITED, DingTalkRobot.GONE),
    "feishu": (("code", "StatusCode"), FeishuBot.RATE_LIMITED, FeishuBot.GONE),
}


@pytest.mark.parametrize(
    ("robot", "body", "expected"),
    [
        ("wecom", answer("errcode", 0), None),
        ("wecom", answer("errcode", 45009), "retry"),
        ("wecom", answer("errcode", 93000), "gone"),
        ("dingtalk", answer("errcode", 0), None),
        ("dingtalk", answer("errcode", 310000), "retry"),
        ("dingtalk", answer("errcode", 300001), "gone"),
        ("feishu", answer("code", 0), None),
        ("feishu", answer("StatusCode", 0), None),
        ("feishu", answer("code", 19021), "retry"),
        ("feishu", answer("code", 11232), "retry"),
        ("feishu", answer("code", 19001), "gone"),
        ("wecom", b"<html>", "retry"),
        ("wecom", b"{}", "retry"),
    ],
)
def test_robot_answers(robot: str, body: bytes, expected: str | None) -> None:
    read = _read(ok(200), body, *ROBOTS[robot])
    assert read.refused == expected
    if expected is not None:
        assert read.error


def test_rate_limits_ask_for_a_minute() -> None:
    read = _read(
        ok(200), answer("errcode", 45009), ("errcode",), WeComRobot.RATE_LIMITED, frozenset()
    )
    assert read.retry_after == "60"


def test_an_http_failure_is_left_as_it_is() -> None:
    failed = AttemptResult(NOW, 1.0, 502, "bad gateway")
    assert _read(failed, b"", ("errcode",), frozenset(), frozenset()) is failed


async def test_robot_payloads_follow_the_published_formats() -> None:
    case = CaseFacts("WH-1", "井盖缺失")
    message = Message.create("assigned", case, "https://w/cases/WH-1", NOW, role="lead")
    async with aiohttp.ClientSession() as session:
        wecom = WeComRobot(session).payload(message)
        assert wecom["msgtype"] == "markdown" and "WH-1" in wecom["markdown"]["content"]
        assert WeComRobot(session, "text").payload(message)["text"]["content"].startswith("新案件")
        ding = DingTalkRobot(session).payload(message)
        assert ding["msgtype"] == "markdown"
        assert set(ding["markdown"]) == {"title", "text"}
        feishu = FeishuBot(session, clock=lambda: 1599360473).payload(
            message, Destination("https://open.feishu.cn/open-apis/bot/v2/hook/x", "s")
        )
        assert feishu["timestamp"] == "1599360473" and feishu["sign"]
        post = feishu["content"]["post"]["zh_cn"]
        assert post["title"] == message.subject
        assert post["content"][-1][1] == {"tag": "a", "text": message.link, "href": message.link}
        unsigned = FeishuBot(session).payload(message, Destination("https://x"))
        assert "sign" not in unsigned and "timestamp" not in unsigned
        en = Message.create("assigned", case, "https://w/cases/WH-1", NOW, "en", role="lead")
        assert (
            "en_us" in FeishuBot(session).payload(en, Destination("https://x"))["content"]["post"]
        )


async def test_wecom_markdown_is_cut_to_4096_bytes_on_a_character() -> None:
    case = CaseFacts("WH-1", "井" * 3000)
    message = Message.create("reopened", case, "https://w/cases/WH-1")
    async with aiohttp.ClientSession() as session:
        content = WeComRobot(session).payload(message)["markdown"]["content"]
    assert len(content.encode()) <= 4096
    assert content.endswith("...")


def test_a_destination_never_shows_its_secret() -> None:
    to = Destination("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc", secret="SECx")
    assert "abc" not in repr(to) and "SECx" not in repr(to)

"""The robots and the SMS gateway against local receivers that check formats and signatures
as WeCom, DingTalk, Feishu and Alibaba Cloud document them (tests/integration/notify/receivers.py).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from tests.integration.notify.receivers import Platforms, aliyun_expected, running_platforms
from whistle.delivery.attempt import AttemptResult, judge
from whistle.notify.channels import AliyunSms, Destination, DingTalkRobot, FeishuBot, WeComRobot
from whistle.notify.message import CaseFacts, Message

pytestmark = pytest.mark.integration

CASE = CaseFacts("WH-20261202-7K3M9QX2PA", "滨海浪漫线游客激增，占道摆摊")
LINK = f"https://whistle.example.gov.cn/cases/{CASE.case_id}"


def message(language: str = "zh") -> Message:
    deadline = datetime.now(UTC) + timedelta(minutes=30)
    return Message.create("assigned", CASE, LINK, deadline, language, role="lead")  # type: ignore[arg-type]


@pytest.fixture
async def platforms() -> AsyncIterator[Platforms]:
    async with running_platforms() as running:
        yield running


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def outcome(result: AttemptResult) -> str:
    return judge(result, 0).outcome


def test_the_receivers_aliyun_check_agrees_with_alibabas_published_example() -> None:
    """The stand-in's own signature code reproduces Alibaba Cloud's example signature."""
    example = {
        "TimeStamp": "2016-02-23T12:46:24Z", "Format": "XML", "AccessKeyId": "testid",
        "Action": "DescribeRegions", "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf", "Version": "2014-05-26",
        "SignatureVersion": "1.0",
    }  # fmt: skip
    assert aliyun_expected("testsecret", "GET", example) == "CT9X0VtwR86fNWSnsc6v8YGOjuE="


async def test_wecom_markdown_and_text_are_accepted(
    platforms: Platforms, session: aiohttp.ClientSession
) -> None:
    to = Destination(platforms.wecom_url)
    assert outcome(await WeComRobot(session).send(message(), to)) == "delivered"
    assert outcome(await WeComRobot(session, "text").send(message("en"), to)) == "delivered"
    markdown, text = platforms.accepted("wecom")
    content = markdown.body["markdown"]["content"]
    assert CASE.case_id in content and LINK in content and "请您" in content
    assert "Deadline" in text.body["text"]["content"]


async def test_wecom_robot_removed_is_gone(
    platforms: Platforms, session: aiohttp.ClientSession
) -> None:
    to = Destination(platforms.wecom_url.replace(platforms.wecom_key, "deleted-robot"))
    result = await WeComRobot(session).send(message(), to)
    assert outcome(result) == "gone" and "93000" in (result.error or "")


async def test_dingtalk_signed_markdown_is_accepted(
    platforms: Platforms, session: aiohttp.ClientSession
) -> None:
    to = Destination(platforms.dingtalk_url, secret=platforms.dingtalk_secret)
    result = await DingTalkRobot(session).send(message(), to)
    assert outcome(result) == "delivered", result
    (got,) = platforms.accepted("dingtalk")
    assert got.body["markdown"]["title"].startswith("【吹哨】")
    assert CASE.case_id in got.body["markdown"]["text"]


@pytest.mark.parametrize("secret", ["SECwrong", None])
async def test_dingtalk_wrong_or_missing_signature_is_refused(
    platforms: Platforms, session: aiohttp.ClientSession, secret: str | None
) -> None:
    result = await DingTalkRobot(session).send(
        message(), Destination(platforms.dingtalk_url, secret)
    )
    assert outcome(result) == "retry" and "310000" in (result.error or "")
    assert platforms.accepted("dingtalk") == []


async def test_dingtalk_stale_timestamp_is_refused(
    platforms: Platforms, session: aiohttp.ClientSession
) -> None:
    robot = DingTalkRobot(session, clock=lambda: datetime.now(UTC).timestamp() - 7200)
    to = Destination(platforms.dingtalk_url, secret=platforms.dingtalk_secret)
    assert outcome(await robot.send(message(), to)) == "retry"
    (got,) = platforms.received
    assert "timestamp outside one hour" in got.problems


async def test_feishu_signed_post_is_accepted_in_both_languages(
    platforms: Platforms, session: aiohttp.ClientSession
) -> None:
    to = Destination(platforms.feishu_url, secret=platforms.feishu_secret)
    assert outcome(await FeishuBot(session).send(message(), to)) == "delivered"
    assert outcome(await FeishuBot(session).send(message("en"), to)) == "delivered"
    assert outcome(await FeishuBot(session, "text").send(message(), to)) == "delivered"
    zh, en, text = platforms.accepted("feishu")
    assert zh.body["content"]["post"]["zh_cn"]["title"].startswith("【吹哨】")
    assert en.body["content"]["post"]["en_us"]["title"].startswith("[Whistle]")
    assert LINK in text.body["content"]["text"]


async def test_feishu_wrong_secret_is_refused(
    platforms: Platforms, session: aiohttp.ClientSession
) -> None:
    to = Destination(platforms.feishu_url, secret="not-the-secret")
    result = await FeishuBot(session).send(message(), to)
    assert outcome(result) == "retry" and "19021" in (result.error or "")
    assert platforms.accepted("feishu") == []


async def test_robots_rate_limited_pause_a_minute(
    platforms: Platforms, session: aiohttp.ClientSession
) -> None:
    platforms.throttle = True
    sends = [
        WeComRobot(session).send(message(), Destination(platforms.wecom_url)),
        DingTalkRobot(session).send(
            message(), Destination(platforms.dingtalk_url, platforms.dingtalk_secret)
        ),
        FeishuBot(session).send(
            message(), Destination(platforms.feishu_url, platforms.feishu_secret)
        ),
    ]
    for send in sends:
        verdict = judge(await send, 0)
        assert verdict.outcome == "retry" and verdict.retry_in == 60


def sms(
    session: aiohttp.ClientSession, platforms: Platforms, secret: str | None = None
) -> AliyunSms:
    return AliyunSms(
        session,
        access_key_id=platforms.aliyun_key_id,
        access_key_secret=secret or platforms.aliyun_secret,
        sign_name="吹哨平台",
        template_code="SMS_465390123",
        endpoint=platforms.sms_endpoint,
    )


async def test_aliyun_sms_is_accepted(platforms: Platforms, session: aiohttp.ClientSession) -> None:
    keyed = Message.create(
        "assigned", CASE, LINK, datetime.now(UTC), key="ev-1/u-7/sms", role="lead"
    )
    result = await sms(session, platforms).send(keyed, Destination("13700000001"))
    assert outcome(result) == "delivered", result
    (got,) = platforms.accepted("sms")
    assert got.body["PhoneNumbers"] == "13700000001" and got.body["SignName"] == "吹哨平台"
    values = json.loads(got.body["TemplateParam"])
    assert values["case"] == CASE.case_id and values["link"] == LINK
    assert values["ask"] == message().ask and "年" in values["deadline"]
    assert len(got.body["OutId"]) == 32  # signed with the rest: the receiver verified it


async def test_aliyun_sms_each_request_has_a_fresh_nonce(
    platforms: Platforms, session: aiohttp.ClientSession
) -> None:
    gateway = sms(session, platforms)
    for _ in range(3):
        assert outcome(await gateway.send(message(), Destination("13700000001"))) == "delivered"
    assert len(platforms.accepted("sms")) == 3


async def test_aliyun_sms_wrong_secret_is_refused(
    platforms: Platforms, session: aiohttp.ClientSession
) -> None:
    result = await sms(session, platforms, "wrong").send(message(), Destination("13700000001"))
    assert result.status_code == 400 and outcome(result) == "retry"
    assert "SignatureDoesNotMatch" in (result.error or "")


async def test_aliyun_sms_throttled_and_illegal_numbers(
    platforms: Platforms, session: aiohttp.ClientSession
) -> None:
    platforms.refuse_number = "10000000000"
    gateway = sms(session, platforms)
    assert outcome(await gateway.send(message(), Destination("10000000000"))) == "dead"
    platforms.throttle = True
    verdict = judge(await gateway.send(message(), Destination("13700000001")), 0)
    assert verdict.outcome == "retry" and verdict.retry_in == 60


async def test_a_robot_that_does_not_answer_is_retried(session: aiohttp.ClientSession) -> None:
    """Nothing listens on the port: a transport error, retried on the shared schedule."""
    result = await WeComRobot(session, timeout_s=2).send(
        message(), Destination("http://127.0.0.1:18119/cgi-bin/webhook/send?key=x")
    )
    assert result.status_code is None and result.error
    assert judge(result, 0).outcome == "retry"

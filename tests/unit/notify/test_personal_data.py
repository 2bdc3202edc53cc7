"""No requester's name or phone in a message that leaves the system, on any channel."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime
from email.message import EmailMessage

import aiohttp
import pytest

from whistle.domain.base import Actor, event_id_for
from whistle.domain.events import WhistleRaised
from whistle.domain.values import Requester
from whistle.notify.channels import (
    AliyunSms,
    Destination,
    DingTalkRobot,
    EmailChannel,
    FeishuBot,
    SmtpConfig,
    WeComRobot,
)
from whistle.notify.message import CaseFacts, Message, scrub

NAME, PHONE = "陈美玲", "13905921234"
SECRETARY = Actor(user_id="u-secretary", role="secretary", area="tongan.datong.jinhai")


def raised() -> dict:
    """A whistle whose requester left a name and phone, typed again into the title."""
    event = WhistleRaised(
        event_id=event_id_for("WH-1-raise", 1),
        case_id="WH-20261202-7K3M9QX2PA",
        seq=1,
        occurred_at=datetime(2026, 12, 2, 6, 0, tzinfo=UTC),
        actor=SECRETARY,
        command_id="WH-1-raise",
        community="tongan.datong.jinhai",
        category="parking",
        title=f"{NAME}反映滨海步道违停，电话139 0592 1234",
        description=f"居民{NAME}（{PHONE}）多次来电，身份证350203199001011234",
        urgency="general",
        channel="whistle",
        address="金海社区滨海步道 3 号楼 502",
        requester=Requester(name=NAME, phone=PHONE),
    )
    return event.model_dump(mode="json")


def liaison_messages() -> list[Message]:
    """What the 城管 liaison is told about that case, in both languages, for every kind the
    builder takes free text in."""
    event = raised()
    case = CaseFacts.from_raised(event)
    requester = event["requester"]
    known = [requester["name"], requester["phone"]]
    link = f"https://whistle.example.gov.cn/cases/{case.case_id}"
    deadline = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    out = []
    for language in ("zh", "en"):
        out.append(Message.create("assigned", case, link, deadline, language, known, role="lead"))
        out.append(
            Message.create(
                "joint_action_scheduled", case, link, deadline, language, known,
                time=deadline, place=f"{NAME}家楼下（{PHONE}）", report_in=link + "/report-in",
            )
        )  # fmt: skip
    return out


def forbidden(rendered: str) -> list[str]:
    """The personal strings found in ``rendered`` (the phone also with its separators gone)."""
    squeezed = rendered.replace(" ", "").replace("-", "")
    return [s for s in (NAME, PHONE, "350203199001011234") if s in squeezed]


def decoded_mail(message: Message) -> list[str]:
    """The e-mail's subject and body decoded (on the wire both are base64)."""
    raw = EmailChannel(SmtpConfig("localhost")).compose(message, Destination("a@b.cn")).as_bytes()
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(mail, EmailMessage)
    return [str(mail["Subject"]), mail.get_content()]


async def test_no_channel_carries_the_requesters_name_or_phone() -> None:
    messages = liaison_messages()
    clock = lambda: datetime(2026, 12, 2, 6, 0, tzinfo=UTC)  # noqa: E731
    async with aiohttp.ClientSession() as session:
        sms = AliyunSms(session, "id", "secret", "吹哨", "SMS_1", clock=clock)
        renderings = []
        for m in messages:
            to = Destination("https://example/hook", secret="s")
            renderings += [
                m.subject,
                m.text(),
                m.markdown(),
                json.dumps(WeComRobot(session).payload(m), ensure_ascii=False),
                json.dumps(WeComRobot(session, "text").payload(m), ensure_ascii=False),
                json.dumps(DingTalkRobot(session).payload(m), ensure_ascii=False),
                json.dumps(FeishuBot(session).payload(m, to), ensure_ascii=False),
                *decoded_mail(m),
                json.dumps(sms.parameters(m, "13700000000"), ensure_ascii=False),
            ]
    for rendered in renderings:
        assert forbidden(rendered) == [], rendered
    assert any("滨海步道违停" in r for r in renderings)  # the subject itself is kept


def test_the_facts_of_a_case_keep_the_title_without_the_requester() -> None:
    case = CaseFacts.from_raised(raised())
    assert case.title == "***反映滨海步道违停，电话***"
    assert not hasattr(case, "description") and not hasattr(case, "address")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("电话13905921234", "电话***"),
        ("+86 139-0592-1234 找我", "*** 找我"),
        ("座机0592-5551234", "座机***"),
        ("身份证35020319900101123X", "身份证***"),
        ("邮箱 chen.ml@example.com", "邮箱 ***"),
        ("订单号 2026120212345678901", "订单号 2026120212345678901"),  # not a phone: kept
        ("3号楼502室", "3号楼502室"),
    ],
)
def test_scrub_removes_contact_data(text: str, expected: str) -> None:
    assert scrub(text) == expected


def test_scrub_removes_the_known_name() -> None:
    assert scrub("陈美玲反映", ["陈美玲", None, " "]) == "***反映"

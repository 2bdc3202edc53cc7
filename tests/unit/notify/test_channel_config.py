"""Channels built from the WHISTLE_* settings, and what the idempotency key changes."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

import aiohttp
import pytest

from whistle.notify.channels import AliyunSms, Destination, EmailChannel, SmtpConfig, sms_gateway
from whistle.notify.message import CaseFacts, Message
from whistle.settings import Settings

CASE = CaseFacts("WH-1", "井盖缺失")


def message(key: str | None) -> Message:
    return Message.create("reopened", CASE, "https://w/cases/WH-1", key=key)


def message_id(channel: EmailChannel, m: Message) -> str:
    raw = channel.compose(m, Destination("a@b.cn")).as_bytes()
    return str(email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"])


def test_a_keyed_message_has_the_same_message_id_every_time() -> None:
    channel = EmailChannel(SmtpConfig("smtp.example.cn", sender="吹哨 <notify@whistle.gov.cn>"))
    first = message_id(channel, message("ev-1/u-7/email"))
    assert first == message_id(channel, message("ev-1/u-7/email"))
    assert first.endswith("@whistle.gov.cn>")
    assert first != message_id(channel, message("ev-2/u-7/email"))
    assert message_id(channel, message(None)) != message_id(channel, message(None))


async def test_the_sms_gateway_comes_from_the_settings() -> None:
    async with aiohttp.ClientSession() as session:
        assert sms_gateway(Settings(), session) is None
        settings = Settings(
            sms_provider="aliyun",
            sms_access_key_id="LTAI",
            sms_access_key_secret="s",  # type: ignore[arg-type]
            sms_sign_name="吹哨平台",
            sms_template_code="SMS_1",
            sms_endpoint="http://127.0.0.1:18112/",
        )
        gateway = sms_gateway(settings, session)
        assert isinstance(gateway, AliyunSms)
        assert (gateway.access_key_secret, gateway.endpoint) == ("s", "http://127.0.0.1:18112/")
        with pytest.raises(ValueError, match="WHISTLE_SMS_TEMPLATE_CODE"):
            sms_gateway(settings.model_copy(update={"sms_template_code": None}), session)


async def test_a_keyed_sms_carries_an_out_id() -> None:
    async with aiohttp.ClientSession() as session:
        gateway = AliyunSms(
            session, "id", "secret", "吹哨", "SMS_1",
            clock=lambda: datetime(2026, 12, 2, tzinfo=UTC), nonce=lambda: "n-1",
        )  # fmt: skip
        keyed = gateway.parameters(message("ev-1/u-7/sms"), "13700000001")
        plain = gateway.parameters(message(None), "13700000001")
    assert len(keyed["OutId"]) == 32 and "OutId" not in plain
    assert keyed["Timestamp"] == "2026-12-02T00:00:00Z" and keyed["SignatureNonce"] == "n-1"
    assert keyed["Signature"] != plain["Signature"]  # OutId is signed with the rest

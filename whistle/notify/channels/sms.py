"""SMS through a pluggable HTTP gateway; one real provider: Alibaba Cloud SMS ``SendSms``.

An SMS provider is a :class:`SmsGateway`: a ``provider`` name and ``send(message, to)`` where
``to.target`` is the phone number, returning the shared attempt result. Adding one is a class
that builds and signs its provider's request and reads its answer, plus a line in
``PROVIDERS`` (see docs/notifications.md).

SMS in China go through templates approved by the provider, so the text itself is not sent:
the gateway fills the approved template's variables from the message (``case``, ``ask``,
``deadline``, ``link``).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlencode

import aiohttp

from whistle.delivery.attempt import AttemptResult, http_attempt
from whistle.notify.channels.base import Destination
from whistle.notify.message import Message
from whistle.notify.signing import aliyun_signature
from whistle.settings import Settings

USER_AGENT = "Whistle-Notify/1.0"


class SmsGateway(Protocol):
    """One SMS provider's adapter (a :class:`~whistle.notify.channels.base.Channel`)."""

    name: str
    provider: str

    async def send(self, message: Message, to: Destination) -> AttemptResult:
        """Ask the provider once to send ``message`` to the phone number ``to.target``."""
        ...


def template_values(message: Message, limit: int = 35) -> dict[str, str]:
    """The template variables of an SMS: case id, what is asked, deadline, link (Alibaba Cloud
    limits a notification variable to 35 characters; the link is never cut)."""

    def cut(text: str) -> str:
        return text if len(text) <= limit else text[: limit - 1] + "…"

    return {
        "case": message.case_id,
        "ask": cut(message.ask),
        "deadline": cut(message.deadline_text),
        "link": message.link,
    }


class AliyunSms:
    """Alibaba Cloud (阿里云) SMS, API ``SendSms`` version 2017-05-25, RPC style, signature
    method v1 (``HMAC-SHA1``, ``SignatureVersion=1.0``); POST, form-encoded parameters.

    Request: https://help.aliyun.com/document_detail/101414.html (SendSms);
    signature: https://www.alibabacloud.com/help/en/sms/signature-method and
    :func:`whistle.notify.signing.aliyun_signature`. The answer is JSON with ``Code`` ("OK" when
    accepted), ``Message``, ``BizId`` and ``RequestId``.
    """

    name = "sms"
    provider = "aliyun"
    VERSION = "2017-05-25"
    THROTTLED = frozenset(
        {"isv.BUSINESS_LIMIT_CONTROL", "Throttling", "Throttling.User", "Throttling.Api"}
    )
    PERMANENT = frozenset(
        {"isv.MOBILE_NUMBER_ILLEGAL", "isv.PARAM_LENGTH_LIMIT", "isv.BLACK_KEY_CONTROL_LIMIT"}
    )

    def __init__(
        self,
        session: aiohttp.ClientSession,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        template_code: str,
        endpoint: str = "https://dysmsapi.aliyuncs.com/",
        region: str = "cn-hangzhou",
        timeout_s: float = 10.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        nonce: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.session = session
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.sign_name = sign_name
        self.template_code = template_code
        self.endpoint = endpoint
        self.region = region
        self.timeout_s = timeout_s
        self.clock = clock
        self.nonce = nonce

    def parameters(self, message: Message, phone: str) -> dict[str, str]:
        """Every request parameter, ``Signature`` included."""
        params = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": phone,
            "RegionId": self.region,
            "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": self.nonce(),
            "SignatureVersion": "1.0",
            "TemplateCode": self.template_code,
            "TemplateParam": json.dumps(
                template_values(message), ensure_ascii=False, separators=(",", ":")
            ),
            "Timestamp": self.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": self.VERSION,
        }
        if message.key:  # the caller's id of this message, echoed in delivery receipts
            params["OutId"] = hashlib.sha256(message.key.encode()).hexdigest()[:32]
        params["Signature"] = aliyun_signature(self.access_key_secret, "POST", params)
        return params

    async def send(self, message: Message, to: Destination) -> AttemptResult:
        """POST ``SendSms`` once and read its ``Code``."""
        body = urlencode(self.parameters(message, to.target)).encode()
        headers = {
            "content-type": "application/x-www-form-urlencoded; charset=utf-8",
            "accept": "application/json",
            "user-agent": USER_AGENT,
        }
        answer = await http_attempt(
            self.session, self.endpoint, body, headers, self.timeout_s, read_limit=4096
        )
        result = answer.result
        if result.status_code is None:
            return result
        try:
            code = str(json.loads(answer.body or b"{}").get("Code", ""))
        except (ValueError, AttributeError):
            code = ""
        if code == "OK" and 200 <= result.status_code < 300:
            return result
        error = answer.body.decode(errors="replace")[:500] or result.error
        if code in self.THROTTLED:
            return replace(result, error=error, refused="retry", retry_after="60")
        if code in self.PERMANENT:
            return replace(result, error=error, refused="dead")
        return replace(result, error=error, refused="retry")


PROVIDERS: dict[str, type[AliyunSms]] = {"aliyun": AliyunSms}


def sms_gateway(settings: Settings, session: aiohttp.ClientSession) -> SmsGateway | None:
    """The gateway ``WHISTLE_SMS_*`` configure, or None when SMS is off."""
    if settings.sms_provider is None:
        return None
    missing = [
        name
        for name in (
            "sms_access_key_id",
            "sms_access_key_secret",
            "sms_sign_name",
            "sms_template_code",
        )
        if not getattr(settings, name)
    ]
    if missing:
        raise ValueError("SMS needs " + ", ".join(f"WHISTLE_{m.upper()}" for m in missing))
    secret = settings.sms_access_key_secret
    assert secret is not None and settings.sms_access_key_id and settings.sms_sign_name
    assert settings.sms_template_code
    return PROVIDERS[settings.sms_provider](
        session,
        access_key_id=settings.sms_access_key_id,
        access_key_secret=secret.get_secret_value(),
        sign_name=settings.sms_sign_name,
        template_code=settings.sms_template_code,
        endpoint=settings.sms_endpoint,
    )

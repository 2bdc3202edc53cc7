"""The request signatures of the chat robots and of the SMS gateway (pure functions).

Each follows its platform's published rule; the tests check them against the platform's
example where it publishes one and against ``openssl`` otherwise, and the local receivers in
tests/integration/notify recompute them from the secret the way the platforms do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk custom robot (自定义机器人 加签): Base64(HmacSHA256(key=secret,
    msg=timestamp + "\\n" + secret)), timestamp in milliseconds; sent url-encoded.

    Rule: https://open.dingtalk.com/document/robots/customize-robot-security-settings
    """
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def dingtalk_url(webhook_url: str, secret: str | None, timestamp_ms: int) -> str:
    """The robot's webhook URL (``…/robot/send?access_token=…``) with ``&timestamp=…&sign=…``
    appended when the robot signs (the sign url-encoded, as the rule says)."""
    if not secret:
        return webhook_url
    parts = urlsplit(webhook_url)
    sign = quote_plus(dingtalk_sign(secret, timestamp_ms))
    extra = f"timestamp={timestamp_ms}&sign={sign}"
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu/Lark custom bot (自定义机器人 签名校验): Base64(HmacSHA256(key=timestamp + "\\n"
    + secret, msg=empty)), timestamp in seconds; sent in the JSON body as ``timestamp``/``sign``.

    Rule: https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot (签名校验). Note the
    key is the string to sign and the message is empty, unlike DingTalk's.
    """
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def percent_encode(value: str) -> str:
    """Alibaba Cloud's percent-encoding of the RPC signature: UTF-8, RFC 3986 unreserved
    characters (A-Z a-z 0-9 - _ . ~) kept, everything else %XX with upper-case hex (so a space
    is %20, ``*`` is %2A, ``~`` stays)."""
    return quote(value, safe="-_.~")


def aliyun_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """``METHOD&%2F&`` + percentEncode(canonicalized query): the parameters but ``Signature``,
    sorted by name, each ``percentEncode(name)=percentEncode(value)``, joined with ``&``."""
    canonical = "&".join(
        f"{percent_encode(k)}={percent_encode(v)}"
        for k, v in sorted(params.items())
        if k != "Signature"
    )
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical)}"


def aliyun_signature(access_key_secret: str, method: str, params: Mapping[str, str]) -> str:
    """Alibaba Cloud RPC signature v1.0 (``SignatureMethod=HMAC-SHA1``): Base64(HMAC-SHA1(
    key=AccessKeySecret + "&", msg=StringToSign)).

    Rule: https://www.alibabacloud.com/help/en/sms/signature-method (SMS) and
    https://help.aliyun.com/document_detail/25490.htm (V2 RPC request body & signature).
    """
    to_sign = aliyun_string_to_sign(method, params).encode()
    key = f"{access_key_secret}&".encode()
    return base64.b64encode(hmac.new(key, to_sign, hashlib.sha1).digest()).decode()

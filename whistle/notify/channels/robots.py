"""Group-chat robots: WeCom (企业微信) group robot, DingTalk (钉钉) custom robot, Feishu/Lark
(飞书) custom bot, each in its published message format, with its signature.

All three answer HTTP 200 with an error code in the JSON body; :func:`_read` turns that code
into the shared attempt result: 0 delivered; the platform's rate-limit codes retry after a
minute (each robot takes about 20 messages a minute); the codes that say the robot's URL no
longer exists make the address gone; any other code retries on the shared schedule and ends
as a dead letter after the last try (a wrong secret or keyword, fixed by the operator, is
then redelivered).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

import aiohttp
from yarl import URL

from whistle.delivery.attempt import AttemptResult, http_attempt
from whistle.notify.channels.base import Destination
from whistle.notify.message import Message
from whistle.notify.signing import dingtalk_url, feishu_sign

USER_AGENT = "Whistle-Notify/1.0"
RATE_LIMIT_PAUSE_S = "60"


def _utf8_prefix(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 encoding fits in ``limit`` bytes."""
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[: limit - 3].decode(errors="ignore") + "..."


def _read(
    result: AttemptResult,
    body: bytes,
    code_fields: tuple[str, ...],
    rate_limited: frozenset[int],
    gone: frozenset[int],
) -> AttemptResult:
    """The attempt as the robot's JSON answer tells it (HTTP 200 may still be a refusal)."""
    if result.status_code is None or not 200 <= result.status_code < 300:
        return result
    try:
        answer = json.loads(body or b"{}")
        code = next((int(answer[f]) for f in code_fields if f in answer), None)
    except (ValueError, TypeError):
        return replace(result, error=f"not JSON: {body[:200]!r}", refused="retry")
    if code is None:
        return replace(
            result, error=f"no {'/'.join(code_fields)} in {body[:200]!r}", refused="retry"
        )
    if code == 0:
        return result
    error = body.decode(errors="replace")[:500]
    if code in gone:
        return replace(result, error=error, refused="gone")
    if code in rate_limited:
        return replace(result, error=error, refused="retry", retry_after=RATE_LIMIT_PAUSE_S)
    return replace(result, error=error, refused="retry")


async def _post_json(
    session: aiohttp.ClientSession, url: str | URL, payload: dict[str, Any], timeout_s: float
) -> tuple[AttemptResult, bytes]:
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = {"content-type": "application/json; charset=utf-8", "user-agent": USER_AGENT}
    answer = await http_attempt(session, url, body, headers, timeout_s, read_limit=4096)
    return answer.result, answer.body


class WeComRobot:
    """企业微信 group robot: POST ``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…``
    with ``{"msgtype": "markdown", "markdown": {"content": …}}`` (at most 4096 bytes) or
    ``{"msgtype": "text", "text": {"content": …}}`` (at most 2048 bytes). The robot does not
    sign; its key in the URL is the secret.

    Format: https://developer.work.weixin.qq.com/document/path/91770 (群机器人配置说明).
    """

    name = "wecom"
    MARKDOWN_LIMIT = 4096
    TEXT_LIMIT = 2048
    RATE_LIMITED = frozenset({45009})  # api freq out of limit
    GONE = frozenset({93000})  # invalid webhook url: the robot was removed

    def __init__(
        self, session: aiohttp.ClientSession, msgtype: str = "markdown", timeout_s: float = 10.0
    ) -> None:
        if msgtype not in {"markdown", "text"}:
            raise ValueError("WeCom msgtype is markdown or text")
        self.session = session
        self.msgtype = msgtype
        self.timeout_s = timeout_s

    def payload(self, message: Message) -> dict[str, Any]:
        """The JSON body of the robot's message."""
        if self.msgtype == "text":
            return {
                "msgtype": "text",
                "text": {"content": _utf8_prefix(message.text(), self.TEXT_LIMIT)},
            }
        content = _utf8_prefix(message.markdown(), self.MARKDOWN_LIMIT)
        return {"msgtype": "markdown", "markdown": {"content": content}}

    async def send(self, message: Message, to: Destination) -> AttemptResult:
        """POST the message to the robot's webhook URL once."""
        result, body = await _post_json(
            self.session, to.target, self.payload(message), self.timeout_s
        )
        return _read(result, body, ("errcode",), self.RATE_LIMITED, self.GONE)


class DingTalkRobot:
    """钉钉 custom robot: POST ``https://oapi.dingtalk.com/robot/send?access_token=…`` (plus
    ``&timestamp=<ms>&sign=<url-encoded signature>`` when the robot has 加签) with
    ``{"msgtype": "markdown", "markdown": {"title": …, "text": …}}``.

    Format: https://open.dingtalk.com/document/robots/custom-robot-access and
    https://open.dingtalk.com/document/robots/message-types-and-data-format; signature:
    :func:`whistle.notify.signing.dingtalk_sign`.
    """

    name = "dingtalk"
    RATE_LIMITED = frozenset({130101, 410100})  # send too fast (20 a minute per robot)
    GONE = frozenset({300001})  # token is not exist: the robot was removed

    def __init__(
        self,
        session: aiohttp.ClientSession,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.session = session
        self.timeout_s = timeout_s
        self.clock = clock

    def payload(self, message: Message) -> dict[str, Any]:
        """The JSON body (DingTalk's markdown wants a blank line between paragraphs)."""
        text = message.markdown().replace("\n", "\n\n")
        return {"msgtype": "markdown", "markdown": {"title": message.subject, "text": text}}

    def url(self, to: Destination) -> URL:
        """The webhook URL, signed now when the destination has a secret; kept as encoded, so
        that the sign goes out url-encoded exactly as the rule says (``%2F``, not ``/``)."""
        return URL(dingtalk_url(to.target, to.secret, int(self.clock() * 1000)), encoded=True)

    async def send(self, message: Message, to: Destination) -> AttemptResult:
        """POST the message to the robot once (signed at the moment of sending)."""
        result, body = await _post_json(
            self.session, self.url(to), self.payload(message), self.timeout_s
        )
        return _read(result, body, ("errcode",), self.RATE_LIMITED, self.GONE)


class FeishuBot:
    """飞书/Lark custom bot: POST ``https://open.feishu.cn/open-apis/bot/v2/hook/…`` with a rich
    text message ``{"msg_type": "post", "content": {"post": {"zh_cn": {"title": …, "content":
    [[{"tag": "text", …}, {"tag": "a", "href": …}], …]}}}}`` (``en_us`` for English), or
    ``{"msg_type": "text", "content": {"text": …}}``; with 签名校验 the body also carries
    ``"timestamp"`` (seconds, as a string) and ``"sign"``.

    Format and signature: https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot;
    :func:`whistle.notify.signing.feishu_sign`.
    """

    name = "feishu"
    RATE_LIMITED = frozenset({11232, 9499})  # frequency limited / too many requests
    GONE = frozenset({19001})  # param invalid: incoming webhook access token invalid
    LOCALES: ClassVar[dict[str, str]] = {"zh": "zh_cn", "en": "en_us"}

    def __init__(
        self,
        session: aiohttp.ClientSession,
        msg_type: str = "post",
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if msg_type not in {"post", "text"}:
            raise ValueError("Feishu msg_type is post or text")
        self.session = session
        self.msg_type = msg_type
        self.timeout_s = timeout_s
        self.clock = clock

    def payload(self, message: Message, to: Destination) -> dict[str, Any]:
        """The JSON body, signed now when the destination has a secret."""
        body: dict[str, Any]
        if self.msg_type == "text":
            body = {"msg_type": "text", "content": {"text": message.text()}}
        else:
            link_label = message.lines()[-1][0]
            sep = "：" if message.language == "zh" else ": "
            rows: list[list[dict[str, str]]] = [
                [{"tag": "text", "text": f"{label}{sep}{value}"}]
                for label, value in message.lines()[:-1]
            ]
            rows.append(
                [
                    {"tag": "text", "text": f"{link_label}{sep}"},
                    {"tag": "a", "text": message.link, "href": message.link},
                ]
            )
            post = {"title": message.subject, "content": rows}
            body = {"msg_type": "post", "content": {"post": {self.LOCALES[message.language]: post}}}
        if to.secret:
            timestamp = int(self.clock())
            body = {"timestamp": str(timestamp), "sign": feishu_sign(to.secret, timestamp), **body}
        return body

    async def send(self, message: Message, to: Destination) -> AttemptResult:
        """POST the message to the bot once."""
        result, body = await _post_json(
            self.session, to.target, self.payload(message, to), self.timeout_s
        )
        return _read(result, body, ("code", "StatusCode"), self.RATE_LIMITED, self.GONE)

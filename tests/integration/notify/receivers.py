"""Local stand-ins of the WeCom, DingTalk and Feishu robots and of Alibaba Cloud's SMS API.

Each checks a request the way its platform documents it, with its own code (nothing from
whistle.notify.signing): it recomputes the signature from the secret it was configured with
and the timestamp it received, using ``cryptography``'s HMAC and its own percent-encoding,
checks the timestamp's window and the message's required JSON fields, and answers in the
platform's format (HTTP 200 with an error code in the body, as the platforms do).
"""

from __future__ import annotations

import base64
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC

from tests.service_fixtures import restartable_port

ROBOT_PORT, SMTP_PORT, SMS_PORT = (restartable_port() for _ in range(3))


def b64_hmac(algorithm: hashes.HashAlgorithm, key: bytes, data: bytes) -> str:
    mac = HMAC(key, algorithm)
    mac.update(data)
    return base64.b64encode(mac.finalize()).decode()


def aliyun_encode(value: str) -> str:
    """Alibaba's percent-encoding written out: UTF-8 bytes; A-Z a-z 0-9 - _ . ~ kept."""
    keep = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
    return "".join(chr(b) if b in keep else f"%{b:02X}" for b in value.encode())


def aliyun_expected(secret: str, method: str, params: dict[str, str]) -> str:
    pairs = sorted((k, v) for k, v in params.items() if k != "Signature")
    canonical = "&".join(aliyun_encode(k) + "=" + aliyun_encode(v) for k, v in pairs)
    to_sign = method + "&" + aliyun_encode("/") + "&" + aliyun_encode(canonical)
    return b64_hmac(hashes.SHA1(), (secret + "&").encode(), to_sign.encode())


@dataclass
class Received:
    """One request as the receiver saw it, and what it found wrong (empty: accepted)."""

    platform: str
    query: dict[str, str]
    body: Any
    problems: list[str]


@dataclass
class Platforms:
    """The secrets the stand-ins know, what they received, and how they should answer."""

    wecom_key: str = "693a91f6-7aoc-4bc4-97a0-0ec2sifa5aaa"
    dingtalk_token: str = "dt-token"
    dingtalk_secret: str = "SECb2f0c7f0a3e94d1d9b3a5e0b6c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d"
    feishu_hook: str = "5e3d587e-d78e-4a07-bd07-265f269f86fd"
    feishu_secret: str = "nIMtb7r3N9pkXyXdtAbx6e"
    aliyun_key_id: str = "LTAI-test-id"
    aliyun_secret: str = "aliyun-test-secret"
    throttle: bool = False  # answer every request with the platform's rate-limit code
    refuse_number: str | None = None  # SMS: answer this number isv.MOBILE_NUMBER_ILLEGAL
    received: list[Received] = field(default_factory=list)
    nonces: set[str] = field(default_factory=set)
    robot_port: int = ROBOT_PORT
    sms_port: int = SMS_PORT

    def accepted(self, platform: str) -> list[Received]:
        return [r for r in self.received if r.platform == platform and not r.problems]

    @property
    def robot_base(self) -> str:
        return f"http://127.0.0.1:{self.robot_port}"

    @property
    def wecom_url(self) -> str:
        return f"{self.robot_base}/cgi-bin/webhook/send?key={self.wecom_key}"

    @property
    def dingtalk_url(self) -> str:
        return f"{self.robot_base}/robot/send?access_token={self.dingtalk_token}"

    @property
    def feishu_url(self) -> str:
        return f"{self.robot_base}/open-apis/bot/v2/hook/{self.feishu_hook}"

    @property
    def sms_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.sms_port}/"


async def _json(request: web.Request, problems: list[str]) -> Any:
    if request.content_type != "application/json":
        problems.append(f"content-type {request.content_type}")
    try:
        return json.loads((await request.read()).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        problems.append(f"body is not UTF-8 JSON: {exc}")
        return None


def _need_str(obj: Any, path: str, problems: list[str]) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if not isinstance(value, str) or not value:
        problems.append(f"missing {path}")
        return ""
    return value


def wecom_app(p: Platforms) -> web.RouteTableDef:
    routes = web.RouteTableDef()

    @routes.post("/cgi-bin/webhook/send")
    async def send(request: web.Request) -> web.Response:
        problems: list[str] = []
        body = await _json(request, problems)
        if request.query.get("key") != p.wecom_key:
            problems.append("invalid webhook url")
            p.received.append(Received("wecom", dict(request.query), body, problems))
            return web.json_response({"errcode": 93000, "errmsg": "invalid webhook url"})
        kind = body.get("msgtype") if isinstance(body, dict) else None
        if kind == "markdown":
            content = _need_str(body, "markdown.content", problems)
            if len(content.encode()) > 4096:
                problems.append("markdown.content over 4096 bytes")
        elif kind == "text":
            content = _need_str(body, "text.content", problems)
            if len(content.encode()) > 2048:
                problems.append("text.content over 2048 bytes")
        else:
            problems.append(f"msgtype {kind!r}")
        p.received.append(Received("wecom", dict(request.query), body, problems))
        if p.throttle:
            return web.json_response({"errcode": 45009, "errmsg": "api freq out of limit"})
        if problems:
            return web.json_response({"errcode": 40008, "errmsg": "; ".join(problems)})
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    return routes


def dingtalk_app(p: Platforms) -> web.RouteTableDef:
    routes = web.RouteTableDef()

    @routes.post("/robot/send")
    async def send(request: web.Request) -> web.Response:
        problems: list[str] = []
        body = await _json(request, problems)
        query = dict(request.query)
        if query.get("access_token") != p.dingtalk_token:
            p.received.append(Received("dingtalk", query, body, ["token"]))
            return web.json_response({"errcode": 300001, "errmsg": "token is not exist"})
        raw_sign = request.rel_url.raw_query_string.partition("sign=")[2].partition("&")[0]
        if any(c in raw_sign for c in "+/="):
            problems.append("sign not url-encoded")
        try:
            ts = int(query.get("timestamp", ""))
        except ValueError:
            ts = 0
        if abs(time.time() * 1000 - ts) > 3600 * 1000:
            problems.append("timestamp outside one hour")
        expected = b64_hmac(
            hashes.SHA256(), p.dingtalk_secret.encode(), f"{ts}\n{p.dingtalk_secret}".encode()
        )
        sign_ok = hmac.compare_digest(expected, query.get("sign", ""))
        if not sign_ok:
            problems.append("sign not match")
        kind = body.get("msgtype") if isinstance(body, dict) else None
        if kind == "markdown":
            _need_str(body, "markdown.title", problems)
            _need_str(body, "markdown.text", problems)
        elif kind == "text":
            _need_str(body, "text.content", problems)
        else:
            problems.append(f"msgtype {kind!r}")
        p.received.append(Received("dingtalk", query, body, problems))
        if p.throttle:
            return web.json_response({"errcode": 130101, "errmsg": "send too fast"})
        if not sign_ok or "timestamp outside one hour" in problems:
            return web.json_response({"errcode": 310000, "errmsg": "sign not match"})
        if problems:
            return web.json_response({"errcode": 40035, "errmsg": "; ".join(problems)})
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    return routes


def feishu_app(p: Platforms) -> web.RouteTableDef:
    routes = web.RouteTableDef()

    @routes.post("/open-apis/bot/v2/hook/{hook}")
    async def send(request: web.Request) -> web.Response:
        problems: list[str] = []
        body = await _json(request, problems)
        if request.match_info["hook"] != p.feishu_hook:
            p.received.append(Received("feishu", {}, body, ["hook"]))
            return web.json_response(
                {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"}
            )
        body = body if isinstance(body, dict) else {}
        stamp = body.get("timestamp")
        try:
            ts = int(stamp) if isinstance(stamp, str) else -1
        except ValueError:
            ts = -1
        if abs(time.time() - ts) > 3600:
            problems.append("timestamp outside one hour")
        expected = b64_hmac(hashes.SHA256(), f"{ts}\n{p.feishu_secret}".encode(), b"")
        sign_ok = hmac.compare_digest(expected, str(body.get("sign", "")))
        if not sign_ok:
            problems.append("sign match fail")
        kind = body.get("msg_type")
        if kind == "post":
            posts = (body.get("content") or {}).get("post") or {}
            if not posts or not set(posts) <= {"zh_cn", "en_us", "ja_jp"}:
                problems.append(f"post locales {sorted(posts)}")
            for post in posts.values():
                _need_str(post, "title", problems)
                rows = post.get("content")
                if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                    problems.append("post.content is not a list of lists")
                    continue
                for element in (e for r in rows for e in r):
                    if element.get("tag") not in {"text", "a", "at", "img"}:
                        problems.append(f"tag {element.get('tag')!r}")
                    if element.get("tag") == "a" and not element.get("href"):
                        problems.append("a without href")
        elif kind == "text":
            _need_str(body, "content.text", problems)
        else:
            problems.append(f"msg_type {kind!r}")
        p.received.append(Received("feishu", {}, body, problems))
        if p.throttle:
            return web.json_response({"code": 11232, "msg": "frequency limited psm"})
        if not sign_ok or "timestamp outside one hour" in problems:
            return web.json_response(
                {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}
            )
        if problems:
            return web.json_response({"code": 9499, "msg": "; ".join(problems)})
        return web.json_response({"code": 0, "msg": "success", "data": {}})

    return routes


SMS_REQUIRED = {
    "AccessKeyId", "Action", "Format", "PhoneNumbers", "SignName", "SignatureMethod",
    "SignatureNonce", "SignatureVersion", "TemplateCode", "Timestamp", "Version", "Signature",
}  # fmt: skip


def sms_app(p: Platforms) -> web.RouteTableDef:
    routes = web.RouteTableDef()

    @routes.post("/")
    async def send_sms(request: web.Request) -> web.Response:
        problems: list[str] = []
        if request.content_type != "application/x-www-form-urlencoded":
            problems.append(f"content-type {request.content_type}")
        params = dict(parse_qsl((await request.read()).decode(), keep_blank_values=True))
        missing = SMS_REQUIRED - set(params)
        if missing:
            problems.append(f"missing {sorted(missing)}")
        fixed = {
            "Action": "SendSms", "Version": "2017-05-25", "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0", "AccessKeyId": p.aliyun_key_id,
        }  # fmt: skip
        problems += [f"{k}={params.get(k)!r}" for k, v in fixed.items() if params.get(k) != v]
        try:
            when = datetime.strptime(params.get("Timestamp", ""), "%Y-%m-%dT%H:%M:%SZ")
            if abs((datetime.now(UTC) - when.replace(tzinfo=UTC)).total_seconds()) > 900:
                problems.append("Timestamp outside 15 minutes")
        except ValueError:
            problems.append("Timestamp not yyyy-MM-ddTHH:mm:ssZ")
        nonce = params.get("SignatureNonce", "")
        if nonce in p.nonces:
            problems.append("SignatureNonce used before")
        p.nonces.add(nonce)
        sign_ok = hmac.compare_digest(
            aliyun_expected(p.aliyun_secret, "POST", params), params.get("Signature", "")
        )
        try:
            template = json.loads(params.get("TemplateParam", ""))
            if set(template) != {"case", "ask", "deadline", "link"}:
                problems.append(f"TemplateParam keys {sorted(template)}")
        except ValueError:
            problems.append("TemplateParam is not JSON")
        if not sign_ok:
            problems.append("SignatureDoesNotMatch")
        p.received.append(Received("sms", {}, params, problems))
        request_id = "8906582E-6722-4AF5-A2B4-60D1F8D3E7F0"
        if not sign_ok:
            return web.json_response(
                {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched",
                 "RequestId": request_id}, status=400,
            )  # fmt: skip
        if problems:
            return web.json_response(
                {"Code": "isv.INVALID_PARAMETERS", "Message": "; ".join(problems),
                 "RequestId": request_id}
            )  # fmt: skip
        if p.throttle:
            return web.json_response(
                {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控",
                 "RequestId": request_id}
            )  # fmt: skip
        if params["PhoneNumbers"] == p.refuse_number:
            return web.json_response(
                {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号",
                 "RequestId": request_id}
            )  # fmt: skip
        return web.json_response(
            {"Code": "OK", "Message": "OK", "BizId": "9006197469364984^0", "RequestId": request_id}
        )

    return routes


@asynccontextmanager
async def running_platforms(
    robot_port: int = ROBOT_PORT, sms_port: int = SMS_PORT
) -> AsyncIterator[Platforms]:
    """The three robots on ``robot_port`` and the SMS API on ``sms_port``, for one test."""
    platforms = Platforms(robot_port=robot_port, sms_port=sms_port)
    robots, sms = web.Application(), web.Application()
    for routes in (wecom_app(platforms), dingtalk_app(platforms), feishu_app(platforms)):
        robots.add_routes(routes)
    sms.add_routes(sms_app(platforms))
    runners = [web.AppRunner(robots), web.AppRunner(sms)]
    for runner, port in zip(runners, (robot_port, sms_port), strict=True):
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, reuse_address=True).start()
    try:
        yield platforms
    finally:
        for runner in runners:
            await runner.cleanup()

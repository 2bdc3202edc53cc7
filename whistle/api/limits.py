"""Pure ASGI middleware: the request body limit (413 before any handler runs), Server-Timing."""

from __future__ import annotations

import json
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from whistle.api.i18n import DETAILS, TITLES, Lang, negotiate, text
from whistle.api.problems import OPEN311_PREFIX, PROBLEM_JSON, TYPE_PREFIX, ProblemError


def _matches(pattern: str, path: str) -> bool:
    """Whether ``path`` is ``pattern``'s, its one ``*`` standing for any non-empty part."""
    head, star, tail = pattern.partition("*")
    return (
        bool(star)
        and len(path) > len(head) + len(tail)
        and (path.startswith(head) and path.endswith(tail))
    )


class BodyLimit:
    """Refuse bodies over ``limit`` bytes, by Content-Length or while streaming a chunked body;
    the paths of ``larger`` (a photo upload, an Open311 request) have their own limit (a key
    with a ``*`` holds for the paths it matches: ``*/publish`` every path ending in
    ``/publish``, ``/liaison/cases/*/progress`` the liaison's 进展 of any case)."""

    def __init__(self, app: ASGIApp, limit: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.default_limit = limit
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = self.larger.get(path) or next(
            (n for k, n in self.larger.items() if _matches(k, path)), self.default_limit
        )
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, headers, send, limit)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # handled by the app's problem handler: 413
                    raise ProblemError(
                        413,
                        "too_large",
                        detail_key="body_too_large",
                        detail_values={"limit": limit},
                        headers={"Connection": "close"},
                    )
            return message

        await self.app(scope, counting_receive, send)

    async def _refuse(
        self, scope: Scope, headers: dict[bytes, bytes], send: Send, limit: int
    ) -> None:
        lang = negotiate(headers.get(b"accept-language", b"").decode("latin-1") or None)
        detail = text(DETAILS, "body_too_large", lang, limit=limit)
        await send_problem(
            send,
            path=scope.get("path", ""),
            status=413,
            kind="too_large",
            lang=lang,
            detail=detail,
            headers=[(b"connection", b"close")],
        )


async def send_problem(
    send: Send,
    *,
    path: str,
    status: int,
    kind: str,
    lang: Lang,
    detail: str,
    headers: list[tuple[bytes, bytes]],
    extra: dict[str, object] | None = None,
) -> None:
    """Answer from an ASGI middleware with an RFC 9457 problem (a GeoReport error array under
    Open311), before any route runs; ``headers`` follow the content type and length."""
    payload: object = {
        "type": TYPE_PREFIX + kind,
        "title": text(TITLES, kind, lang),
        "status": status,
        "detail": detail,
        "instance": path,
        **(extra or {}),
    }
    media_type = PROBLEM_JSON
    if path.startswith(OPEN311_PREFIX):
        payload, media_type = [{"code": status, "description": detail}], "application/json"
    body = json.dumps(payload, ensure_ascii=False).encode()
    start = [(b"content-type", media_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": start + headers})
    await send({"type": "http.response.body", "body": body})


class ServerTiming:
    """Adds ``Server-Timing: app;dur=<ms>`` (time in the app until the response starts), so
    callers and benchmarks can tell the API's own latency from the network's and their own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = (time.perf_counter() - started) * 1000
                headers = [
                    *message.get("headers", []),
                    (b"server-timing", b"app;dur=%.2f" % elapsed),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed_send)

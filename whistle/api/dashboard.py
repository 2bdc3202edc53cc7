"""The supervisors' dashboard: the page, its assets, area/department names and the SSE board."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, StreamingResponse

from whistle.api.deps import CurrentPrincipal, CurrentServices, Services
from whistle.api.problems import ProblemError, problem_responses
from whistle.domain.areas import load_areas, load_departments
from whistle.read.scope import Scope

router = APIRouter(tags=["dashboard"])

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {
    "dashboard.js": "text/javascript",
    "dashboard.css": "text/css",
    "board.js": "text/javascript",
}
POLL_S = 0.5
HEARTBEAT_S = 15.0
LINE_BREAK = re.compile(r"\r\n|\r|\n")


@router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
async def dashboard_page() -> FileResponse:
    """The dashboard page (Chinese by default, ``?lang=en`` for English)."""
    return FileResponse(STATIC / "dashboard.html", media_type="text/html; charset=utf-8")


@router.get("/dashboard/assets/{name}", include_in_schema=False)
async def dashboard_asset(name: str) -> FileResponse:
    """The page's scripts and styles (a fixed list: no path is taken from the request)."""
    if name not in ASSETS:
        raise ProblemError(404, "not_found", detail_key="route_not_found")
    return FileResponse(STATIC / name, media_type=ASSETS[name] + "; charset=utf-8")


@router.get(
    "/v1/names",
    summary="Names of departments and areas in Chinese and English",
    operation_id="getNames",
)
async def names(request: Request) -> dict[str, Any]:
    """Display names for department and area codes (public reference data), as the
    configuration version in force now has them."""
    config = getattr(getattr(request.app.state, "services", None), "config", None)
    if config is not None:
        current = config.current().document
        departments, areas = current.departments, current.areas
    else:  # fake services (unit tests): the packaged names
        departments, areas = load_departments(), load_areas()
    return {
        "departments": {
            code: {"zh": d.name_zh, "en": d.name_en} for code, d in departments.items()
        },
        "areas": {
            code: {"zh": a.name_zh, "en": a.name_en, "kind": a.kind} for code, a in areas.items()
        },
    }


_recent: dict[tuple[int, Scope], tuple[float, dict[str, Any]]] = {}


async def board(services: Services, scope: Scope, max_age_s: float = POLL_S / 2) -> dict[str, Any]:
    """The live board: open breaches, escalations and joint actions (集结, with each
    department's 报到) of open cases, and disputes to rule on.

    Viewers of the same scope share one snapshot per half poll interval, so a wall of
    dashboards costs the database a query pair per scope, not per screen.
    """
    now = time.monotonic()
    key = (id(services), scope)
    cached = _recent.get(key)
    if cached and now - cached[0] < max_age_s:
        return cached[1]
    read = services.board_read
    breaches, disputes, escalated, joint = await asyncio.gather(
        read.breaches(scope),
        read.disputes(scope),
        read.escalations(scope),
        read.joint_actions(scope),
    )
    snapshot = {
        "breaches": breaches,
        "disputes": disputes,
        "escalations": escalated,
        "joint_actions": joint,
    }
    if len(_recent) > 1000:
        _recent.clear()
    _recent[key] = (now, snapshot)
    return snapshot


def sse(event: str, data: Any, event_id: str | None = None) -> bytes:
    """One server-sent event, its data as JSON."""
    payload = json.dumps(data, ensure_ascii=False, default=str, separators=(",", ":"))
    return sse_text(event, payload, event_id)


def sse_text(event: str, text: str, event_id: str | None = None) -> bytes:
    """One server-sent event, its data ``text`` as it is: a ``data`` line for each of its lines
    (split where the client splits, at CR, LF or CRLF, which the client joins back with LF)."""
    lines = [f"event: {event}"]
    if event_id:
        lines.append(f"id: {event_id}")
    lines += [f"data: {line}" for line in LINE_BREAK.split(text)]
    return ("\n".join(lines) + "\n\n").encode()


async def board_events(
    request: Request, services: Services, scope: Scope, poll_s: float = POLL_S
) -> AsyncIterator[bytes]:
    """A ``board`` event at once and whenever the board changes; a comment as heartbeat."""
    yield b"retry: 2000\n\n"
    last_digest = ""
    quiet = 0.0
    while not await request.is_disconnected():
        snapshot = await board(services, scope)
        body = json.dumps(snapshot, default=str, sort_keys=True).encode()
        digest = hashlib.sha256(body).hexdigest()[:16]
        if digest != last_digest:
            last_digest, quiet = digest, 0.0
            yield sse("board", snapshot, digest)
        elif quiet >= HEARTBEAT_S:
            quiet = 0.0
            yield b": keep-alive\n\n"
        await asyncio.sleep(poll_s)
        quiet += poll_s


@router.get(
    "/v1/stream/breaches",
    summary="Live board of open breaches and disputes in scope (server-sent events)",
    description="`text/event-stream`: a `board` event with `breaches`, `escalations`, "
    "`joint_actions` (集结 of open cases, each department's `reported_in_at`) and `disputes` "
    "at once and whenever they change (the read model is polled every 0.5 s); "
    "a comment every 15 s.",
    responses={200: {"content": {"text/event-stream": {}}}, **problem_responses(401)},
    operation_id="streamBreaches",
)
async def stream_breaches(
    request: Request, principal: CurrentPrincipal, services: CurrentServices
) -> StreamingResponse:
    """Server-sent events of the breach board, in the caller's scope."""
    return StreamingResponse(
        board_events(request, services, Scope.of(principal)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

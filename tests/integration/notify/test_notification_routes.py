"""In-app notifications over HTTP: every role reads and marks only its own inbox, and new
notifications arrive live over server-sent events (a real uvicorn server on a free port)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn

from tests.service_fixtures import restartable_port
from tests.sse import events as text_events
from whistle.api.account_store import PgIdempotency, PgUsers, migrate_api
from whistle.api.app import create_app
from whistle.api.deps import Services
from whistle.notify.inbox import Inbox, ensure_schema
from whistle.notify.message import CaseFacts, Message
from whistle.read.gateway import PgRead
from whistle.settings import Settings

pytestmark = pytest.mark.integration

SSE_PORT = restartable_port()
WHO = ("admin", "urban", "transport", "secretary", "supervisor", None)
USERS = {
    "admin": ("admin", "admin", {}),
    "urban": ("li-urban", "liaison", {"department": "urban_management"}),
    "transport": ("li-transport", "liaison", {"department": "transport"}),
    "secretary": ("sec", "secretary", {"area": "tongan.datong.jinhai"}),
    "supervisor": ("sup", "supervisor", {"area": "tongan"}),
}
EVERYONE = {"admin": 200, "urban": 200, "transport": 200, "secretary": 200, "supervisor": 200}
# (method, route) → status per caller; {n} is a notification of the caller's own inbox
MATRIX: dict[tuple[str, str], dict[str | None, int]] = {
    ("GET", "/v1/me/notifications"): EVERYONE | {None: 401},
    ("GET", "/v1/me/notifications/unread"): EVERYONE | {None: 401},
    ("POST", "/v1/me/notifications/{notification_id}/read"): EVERYONE | {None: 401},
    ("POST", "/v1/me/notifications/read-all"): EVERYONE | {None: 401},
}
STREAM = ("GET", "/v1/stream/notifications")
CASE = CaseFacts("WH-20261202-7K3M9QX2PA", "滨海浪漫线游客激增")
LINK = f"https://whistle.example.gov.cn/cases/{CASE.case_id}"


class _NoBus:
    async def submit(self, *_: Any) -> Any:
        raise AssertionError("no command expected")


async def _no_probe() -> None:
    return None


def message(key: str, language: str = "zh") -> Message:
    deadline = datetime(2026, 12, 2, 6, 30, tzinfo=UTC)
    return Message.create("assigned", CASE, LINK, deadline, language, key=key, role="lead")  # type: ignore[arg-type]


@pytest.fixture
async def api(fresh_database: str, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """The app over a fresh database, a token per role, and the inbox."""
    pool = await asyncpg.create_pool(fresh_database, min_size=1, max_size=6)
    async with pool.acquire() as conn:
        await migrate_api(conn)
        await ensure_schema(conn)
    users = PgUsers(pool, 0.0)
    tokens = {}
    for who, (user_id, role, scope) in USERS.items():
        tokens[who] = await users.add(user_id, role, **scope)
    inbox = Inbox(pool)
    services = Services(
        bus=_NoBus(),
        read=PgRead(pool),
        users=users,
        idempotency=PgIdempotency(pool),
        kafka_probe=_no_probe,
        inbox=inbox,
    )
    app = create_app(Settings(database_url=fresh_database, state_dir=tmp_path), services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield {"client": client, "tokens": tokens, "inbox": inbox, "app": app}
    await pool.close()


def auth(api: dict[str, Any], who: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api['tokens'][who]}"} if who else {}


@pytest.mark.parametrize("route", sorted(MATRIX), ids=" ".join)
async def test_every_role_has_its_own_inbox(api: dict[str, Any], route: tuple[str, str]) -> None:
    method, template = route
    got = {}
    for who in WHO:
        path = template
        if "{notification_id}" in template:
            user_id = USERS[who][0] if who else "nobody"
            added = await api["inbox"].add(user_id, message(f"ev-{route}-{who}"))
            path = template.replace("{notification_id}", str(added.notification_id))
        response = await api["client"].request(method, path, headers=auth(api, who))
        got[who] = response.status_code
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"
    assert got == MATRIX[route]


async def test_list_unread_and_mark_read(api: dict[str, Any]) -> None:
    client, inbox = api["client"], api["inbox"]
    for n in range(3):
        await inbox.add("li-urban", message(f"ev-{n}"))
    await inbox.add("li-transport", message("ev-0"))
    urban = auth(api, "urban")
    listed = (await client.get("/v1/me/notifications", headers=urban)).json()
    assert listed["unread"] == 3 and len(listed["items"]) == 3
    first = listed["items"][0]
    assert first["case_id"] == CASE.case_id and first["link"] == LINK
    assert first["ask"] == message("x").ask and first["deadline_text"] == "2026年12月2日 14:30"
    marked = await client.post(
        f"/v1/me/notifications/{first['notification_id']}/read", headers=urban
    )
    assert marked.json() == {"marked": 1, "unread": 2}
    unread = await client.get("/v1/me/notifications", params={"unread": "true"}, headers=urban)
    assert first["notification_id"] not in [i["notification_id"] for i in unread.json()["items"]]
    older = await client.get(
        "/v1/me/notifications",
        params={"before": first["notification_id"], "limit": 1},
        headers=urban,
    )
    assert len(older.json()["items"]) == 1
    assert (await client.post("/v1/me/notifications/read-all", headers=urban)).json() == {
        "marked": 2,
        "unread": 0,
    }
    transport = await client.get("/v1/me/notifications/unread", headers=auth(api, "transport"))
    assert transport.json() == {"unread": 1}


async def test_another_users_notification_is_not_found_in_the_callers_language(
    api: dict[str, Any],
) -> None:
    added = await api["inbox"].add("li-transport", message("ev-1"))
    path = f"/v1/me/notifications/{added.notification_id}/read"
    zh = await api["client"].post(path, headers=auth(api, "urban"))
    en = await api["client"].post(path, headers=auth(api, "urban") | {"Accept-Language": "en"})
    assert zh.status_code == en.status_code == 404
    assert zh.json()["detail"] == f"没有这条通知：{added.notification_id}"
    assert en.json()["detail"] == f"No notification {added.notification_id}"
    assert await api["inbox"].unread("li-transport") == 1


async def test_without_an_inbox_the_routes_answer_503(tmp_path: Path) -> None:
    services = Services(
        bus=_NoBus(), read=None, users=None, idempotency=None, kafka_probe=_no_probe,  # type: ignore[arg-type]
    )  # fmt: skip
    app = create_app(Settings(state_dir=tmp_path), services)

    class _Users:
        async def principal(self, token: str) -> Any:
            from whistle.api.identity import Principal

            return Principal(user_id="u", role="admin")

    services.users = _Users()  # type: ignore[assignment]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as client:
        response = await client.get(
            "/v1/me/notifications/unread", headers={"Authorization": "Bearer t"}
        )
    assert response.status_code == 503 and response.headers["retry-after"] == "1"


async def events(response: httpx.Response) -> AsyncIterator[tuple[str, str | None, Any]]:
    """(event, id, data) of a server-sent event stream."""
    async for event, event_id, data in text_events(response):
        yield event, event_id, json.loads(data)


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=SSE_PORT, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{SSE_PORT}"
    finally:
        server.should_exit = True
        await task


async def test_new_notifications_arrive_live_and_a_reconnect_resumes(api: dict[str, Any]) -> None:
    inbox: Inbox = api["inbox"]
    await inbox.add("li-urban", message("ev-old"))
    async with serving(api["app"]) as base, httpx.AsyncClient(base_url=base, timeout=30) as client:
        async with client.stream(
            "GET", "/v1/stream/notifications", headers=auth(api, "urban")
        ) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            stream = events(response)
            assert await anext(stream) == ("unread", None, {"unread": 1})
            await inbox.add("li-transport", message("ev-other"))  # not theirs: nothing
            added = await inbox.add("li-urban", message("ev-new", "en"))
            event, event_id, data = await asyncio.wait_for(anext(stream), 20)
            assert (event, event_id) == ("notification", str(added.notification_id))
            assert data["subject"].startswith("[Whistle]") and data["case_id"] == CASE.case_id
            assert await asyncio.wait_for(anext(stream), 20) == ("unread", None, {"unread": 2})
            await inbox.mark_all_read("li-urban")  # e.g. in another tab
            assert await asyncio.wait_for(anext(stream), 20) == ("unread", None, {"unread": 0})
        missed = await inbox.add("li-urban", message("ev-missed"))
        async with client.stream(
            "GET",
            "/v1/stream/notifications",
            headers=auth(api, "urban") | {"Last-Event-ID": str(added.notification_id)},
        ) as response:
            stream = events(response)
            assert await anext(stream) == ("unread", None, {"unread": 1})
            event, event_id, _ = await asyncio.wait_for(anext(stream), 20)
            assert (event, event_id) == ("notification", str(missed.notification_id))
            assert inbox.watch.listening
    assert not inbox.watch.listening  # the closed streams gave the connection back


async def test_the_stream_needs_a_valid_token(api: dict[str, Any]) -> None:
    for headers in ({}, {"Authorization": "Bearer wh_bogus"}):
        response = await api["client"].get("/v1/stream/notifications", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"

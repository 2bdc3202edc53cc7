"""Webhook endpoints over HTTP, for every role, inside and outside scope."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from whistle.api import webhook_routes
from whistle.api.account_store import PgIdempotency, PgUsers, migrate_api
from whistle.api.app import create_app
from whistle.api.deps import Services
from whistle.read.gateway import PgRead
from whistle.settings import Settings
from whistle.webhooks.delivery_store import WebhookStore
from whistle.webhooks.schema import ensure_schema
from whistle.webhooks.secretbox import secret_box

pytestmark = pytest.mark.integration


class _NoBus:
    async def submit(self, *_: Any) -> Any:
        raise AssertionError("no command expected")


async def _no_probe() -> None:
    return None


@pytest.fixture
async def api(fresh_database: str, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """An app over a fresh database and a token per role."""
    pool = await asyncpg.create_pool(fresh_database, min_size=1, max_size=4)
    async with pool.acquire() as conn:
        await migrate_api(conn)
        await ensure_schema(conn)
    users = PgUsers(pool, 0.0)
    tokens = {
        "admin": await users.add("admin", "admin"),
        "urban": await users.add("li-urban", "liaison", department="urban_management"),
        "transport": await users.add("li-transport", "liaison", department="transport"),
        "secretary": await users.add("sec", "secretary", area="tongan.datong.jinhai"),
        "supervisor": await users.add("sup", "supervisor", area="tongan"),
    }
    settings = Settings(database_url=fresh_database, state_dir=tmp_path, secret_key="k")
    services = Services(
        bus=_NoBus(),
        read=PgRead(pool),
        users=users,
        idempotency=PgIdempotency(pool),
        kafka_probe=_no_probe,
        webhooks=WebhookStore(pool, secret_box(settings)),
    )
    app = create_app(settings, services)
    if not any(getattr(r, "path", "") == "/v1/webhooks" for r in app.routes):
        app.include_router(webhook_routes.router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield {"client": client, "tokens": tokens, "pool": pool}
    await pool.close()


def auth(api: dict[str, Any], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api['tokens'][who]}"}


async def test_a_liaison_registers_an_endpoint_for_their_department(api: dict[str, Any]) -> None:
    client = api["client"]
    r = await client.post(
        "/v1/webhooks", json={"url": "https://urban.example/hook"}, headers=auth(api, "urban")
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["department"] == "urban_management"
    assert body["secret"].startswith("whsec_")
    assert r.headers["cache-control"] == "no-store"
    listed = await client.get("/v1/webhooks", headers=auth(api, "urban"))
    assert [e["endpoint_id"] for e in listed.json()] == [body["endpoint_id"]]
    assert "secret" not in listed.json()[0]
    stored = await api["pool"].fetchval("SELECT secret_sealed FROM webhooks.endpoints")
    assert body["secret"] not in stored  # encrypted at rest


async def test_scope_is_enforced_for_every_role(api: dict[str, Any]) -> None:
    client = api["client"]
    r = await client.post(
        "/v1/webhooks",
        json={"department": "urban_management", "url": "https://u.example/h"},
        headers=auth(api, "admin"),
    )
    endpoint_id = r.json()["endpoint_id"]
    r = await client.post(
        "/v1/webhooks",
        json={"department": "urban_management", "url": "https://x.example/h"},
        headers=auth(api, "transport"),
    )
    assert r.status_code == 403
    for who in ("secretary", "supervisor"):
        assert (await client.get("/v1/webhooks", headers=auth(api, who))).status_code == 403
    assert (await client.get("/v1/webhooks", headers=auth(api, "transport"))).json() == []
    for path in (f"/v1/webhooks/{endpoint_id}/rotate", f"/v1/webhooks/{endpoint_id}/disable"):
        r = await client.post(path, headers=auth(api, "transport"))
        assert r.status_code == 404, path
    r = await client.get(f"/v1/webhooks/{endpoint_id}/deliveries", headers=auth(api, "transport"))
    assert r.status_code == 404
    assert (await client.get("/v1/webhooks")).status_code == 401


async def test_rotation_disable_and_the_log(api: dict[str, Any]) -> None:
    client = api["client"]
    headers = auth(api, "urban")
    created = (
        await client.post("/v1/webhooks", json={"url": "https://u.example/h"}, headers=headers)
    ).json()
    endpoint_id = created["endpoint_id"]
    r = await client.post(
        f"/v1/webhooks/{endpoint_id}/rotate", json={"overlap_hours": 2}, headers=headers
    )
    assert r.status_code == 200
    assert r.json()["secret"] != created["secret"]
    listed = (await client.get("/v1/webhooks", headers=headers)).json()
    assert listed[0]["rotating"] is True
    r = await client.post(f"/v1/webhooks/{endpoint_id}/disable", headers=headers)
    assert r.json()["enabled"] is False
    r = await client.get(f"/v1/webhooks/{endpoint_id}/deliveries?status=dead", headers=headers)
    assert r.json() == {"items": []}
    r = await client.post(f"/v1/webhooks/{endpoint_id}/deliveries/99/redeliver", headers=headers)
    assert r.status_code == 404


async def test_bad_input_is_a_problem(api: dict[str, Any]) -> None:
    client = api["client"]
    headers = auth(api, "admin")
    for body in (
        {"department": "urban_management", "url": "ftp://x"},
        {"department": "urban_management", "url": "https://x.example", "colour": "red"},
        {"department": "nope", "url": "https://x.example"},
        {"url": "https://x.example"},  # an admin must name the department
        {"department": "transport", "url": "https://x.example", "event_types": ["Whatever"]},
    ):
        r = await client.post("/v1/webhooks", json=body, headers=headers)
        assert r.status_code == 422, body
        assert r.headers["content-type"].startswith("application/problem+json")

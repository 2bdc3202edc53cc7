"""The admin's webhook endpoint pages on the real database: an endpoint is refused beside the
field for a bad URL or an unknown department (nothing stored), registered with its secret
shown once (the secret the store signs with, never shown on the list), listed as the API lists
it, its secret rotated (shown once; both valid for the overlap), disabled and enabled, and a
dead letter of its delivery log queued again from the page."""

from __future__ import annotations

import re
from typing import cast

import httpx
import pytest
from fastapi import FastAPI

from tests.integration.web.conftest import Site, csrf_of, submit
from whistle.webhooks.delivery_store import WebhookStore

pytestmark = pytest.mark.integration

LIST = "/admin/webhooks"
NEW = "/admin/webhooks/new"
URL = "https://cg.example.gov.cn/whistle/hook"
SECRET = re.compile(r'<code id="webhook-secret">(whsec_[^<]+)</code>')


def _store(site: Site) -> WebhookStore:
    return cast(WebhookStore, cast(FastAPI, site.app).state.services.webhooks)


async def _register(admin: httpx.AsyncClient, **fields: str | list[str]) -> httpx.Response:
    token = await csrf_of(admin, NEW)
    return await admin.post(LIST, data={"csrf_token": token, **fields})


def _secret(html: str) -> str:
    found = SECRET.search(html)
    assert found, html
    return found.group(1)


async def test_an_endpoint_is_refused_beside_the_field_then_registered_with_its_secret_once(
    site: Site,
) -> None:
    store = _store(site)
    async with site.session("admin") as admin:
        page = await admin.get(NEW)
        assert page.status_code == 200 and "城市管理局（城管）" in page.text
        bad_url = await _register(admin, department="urban_management", url="ftp://cg.example/h")
        assert bad_url.status_code == 422 and 'id="e-url"' in bad_url.text
        assert "网址须以 http:// 或 https:// 开头" in bad_url.text
        assert 'value="ftp://cg.example/h"' in bad_url.text  # the form keeps what was typed
        unknown = await _register(admin, department="fire_brigade", url=URL)
        assert unknown.status_code == 422 and 'id="e-department"' in unknown.text
        assert "没有部门 fire_brigade" in unknown.text
        empty = await _register(admin, department="", url="")
        assert 'id="e-department"' in empty.text and 'id="e-url"' in empty.text
        assert await store.endpoints() == [], "a refused form stores nothing"

        created = await _register(
            admin,
            department="urban_management",
            url=URL,
            description="城管业务系统",
            event_types=["CaseRouted", "ClockBreached"],
        )
        assert created.status_code == 201, created.text
        assert created.headers["cache-control"] == "no-store"
        secret = _secret(created.text)
        [endpoint] = await store.endpoints()
        assert endpoint.secrets == (secret,) and endpoint.url == URL
        assert endpoint.event_types == ("CaseRouted", "ClockBreached")

        listed = await admin.get(LIST)
        assert listed.status_code == 200
        row = re.search(rf'<tr id="webhook-{endpoint.endpoint_id}">(.*?)</tr>', listed.text, re.S)
        assert row, listed.text
        assert "城市管理局（城管）" in row.group(1) and URL in row.group(1)
        assert "派单、超时" in row.group(1) and "启用" in row.group(1)
        assert "尚无投递" in row.group(1)
        assert secret not in listed.text, "the secret is shown once, never on the list"
    headers = {"Authorization": f"Bearer {site.tokens['admin']}"}
    async with site.client() as api:
        [shown] = (await api.get("/v1/webhooks", headers=headers)).json()
    assert shown["endpoint_id"] == endpoint.endpoint_id and shown["url"] == URL


async def test_the_secret_is_rotated_the_endpoint_disabled_and_enabled_from_the_list(
    site: Site,
) -> None:
    store = _store(site)
    async with site.session("admin") as admin:
        first = _secret((await _register(admin, department="transport", url=URL)).text)
        [endpoint] = await store.endpoints()
        e = endpoint.endpoint_id
        rotated = await submit(admin, f"{LIST}/{e}/rotate", {}, LIST)
        assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
        second = _secret(rotated.text)
        assert second != first and "旧密钥在" in rotated.text
        assert (await store.endpoint(e)).secrets == (second, first)  # type: ignore[union-attr]
        assert "新旧密钥并行中" in (await admin.get(LIST)).text

        off = await submit(admin, f"{LIST}/{e}/disable", {}, LIST)
        assert off.status_code == 303 and off.headers["location"] == f"{LIST}?disabled={e}"
        listed = await admin.get(off.headers["location"])
        assert f"已停用端点 {e}。" in listed.text and "已停用（disabled by admin）" in listed.text
        assert f'action="{LIST}/{e}/enable"' in listed.text
        assert (await store.endpoint(e)).enabled is False  # type: ignore[union-attr]
        on = await submit(admin, f"{LIST}/{e}/enable", {}, LIST)
        assert on.status_code == 303
        assert (await store.endpoint(e)).enabled is True  # type: ignore[union-attr]
        gone = await submit(admin, f"{LIST}/{e + 100}/rotate", {}, LIST)
        assert gone.status_code == 404 and f"没有 webhook 端点 {e + 100}" in gone.text


async def test_a_dead_letter_is_shown_in_the_log_and_queued_again_from_the_page(
    site: Site,
) -> None:
    store = _store(site)
    async with site.session("admin") as admin:
        await _register(admin, department="urban_management", url=URL)
        await _register(admin, department="transport", url=URL)
        ours, other = (ep.endpoint_id for ep in await store.endpoints())
        dead, delivered = [
            await site.pool.fetchval(
                "INSERT INTO webhooks.deliveries (endpoint_id, event_id, case_id, event_type,"
                " department, body, status, attempts, last_status_code, dead_reason)"
                " VALUES ($1, $2, 'WH-20261203-AAAAAAAAAA', 'CaseRouted', 'urban_management',"
                " '{}', $3, $4, $5, $6) RETURNING delivery_id",
                ours,
                event_id,
                status,
                attempts,
                code,
                reason,
            )
            for event_id, status, attempts, code, reason in (
                ("ev-1", "dead", 8, 503, "attempts exhausted"),
                ("ev-2", "delivered", 1, 204, None),
            )
        ]
        listed = await admin.get(LIST)
        row = re.search(rf'<tr id="webhook-{ours}">(.*?)</tr>', listed.text, re.S)
        assert row and "已送达 · HTTP 204" in row.group(1), listed.text  # the newest delivery

        log = await admin.get(f"{LIST}/{ours}")
        assert log.status_code == 200
        assert "投递失败（死信）" in log.text and "attempts exhausted" in log.text
        action = f"{LIST}/{ours}/deliveries/{{}}/redeliver"
        assert f'action="{action.format(dead)}"' in log.text
        assert f'action="{action.format(delivered)}"' not in log.text  # only a dead letter
        elsewhere = await submit(admin, f"{LIST}/{other}/deliveries/{dead}/redeliver", {}, LIST)
        assert elsewhere.status_code == 404 and f"端点 {other} 没有投递 {dead}" in elsewhere.text
        assert await _status(site, dead) == "dead", "a refused redelivery changes nothing"

        again = await submit(admin, action.format(dead), {}, f"{LIST}/{ours}")
        assert again.status_code == 303
        assert again.headers["location"] == f"{LIST}/{ours}?redelivered={dead}"
        assert await _status(site, dead) == "pending"
        shown = await admin.get(again.headers["location"])
        assert f"投递 {dead} 已重新排队" in shown.text


async def _status(site: Site, delivery_id: int) -> str:
    return cast(
        str,
        await site.pool.fetchval(
            "SELECT status FROM webhooks.deliveries WHERE delivery_id = $1", delivery_id
        ),
    )

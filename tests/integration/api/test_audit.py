"""The audit log of administration on the real database: user, token and webhook endpoint
changes recorded with who, when and what (before/after), append-only, surviving restarts,
read by admins over GET /v1/audit and `whistle audit`; and the count of clocks beyond the
holiday calendar that /readyz, the dashboard and /metrics report."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn

from projections.migrate import migrate
from tests.service_fixtures import free_port
from whistle.api.account_store import PgIdempotency, PgUsers, migrate_api
from whistle.api.app import create_app
from whistle.api.calendar_watch import CalendarWatch
from whistle.api.deps import Services
from whistle.api.identity import token_hash
from whistle.audit.entries import (
    AuditLog,
    AuditQuery,
    cli_actor,
    migrate_audit,
    record,
    record_config_change,
)
from whistle.read.gateway import PgRead
from whistle.settings import Settings
from whistle.webhooks.delivery_store import Attempt, Due, WebhookStore
from whistle.webhooks.schema import ensure_schema
from whistle.webhooks.secretbox import secret_box

pytestmark = pytest.mark.integration
CST = timezone(timedelta(hours=8))
JINHAI = "tongan.datong.jinhai"


class _NoBus:
    async def submit(self, *_: Any) -> Any:
        raise AssertionError("no command expected")


async def _no_probe() -> None:
    return None


@pytest.fixture
async def rig(fresh_database: str, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """The API over a fresh database (read models, users, webhooks, audit) and its users."""
    pool = await asyncpg.create_pool(fresh_database, min_size=1, max_size=6)
    async with pool.acquire() as conn:
        await migrate(conn)
        await migrate_api(conn)
        await ensure_schema(conn)
    users = PgUsers(pool, 0.0)
    tokens = {
        "admin": await users.add("root", "admin", actor="setup"),
        "secretary": await users.add("sec", "secretary", area=JINHAI, actor="setup"),
        "liaison": await users.add("li-urban", "liaison", department="urban_management"),
        "supervisor": await users.add("sup", "supervisor", area="tongan", actor="setup"),
    }
    settings = Settings(database_url=fresh_database, state_dir=tmp_path, secret_key="k")
    store = WebhookStore(pool, secret_box(settings))
    now = datetime(2026, 12, 2, 10, tzinfo=CST)
    services = Services(
        bus=_NoBus(),
        read=PgRead(pool),
        users=users,
        idempotency=PgIdempotency(pool),
        kafka_probe=_no_probe,
        webhooks=store,
        audit=AuditLog(pool),
        calendar=CalendarWatch(PgRead(pool), now=lambda: now, ttl_s=0.0),
    )
    app = create_app(settings, services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield {
            "client": client,
            "tokens": tokens,
            "pool": pool,
            "users": users,
            "store": store,
            "app": app,
            "dsn": fresh_database,
        }
    await pool.close()


def auth(rig: dict[str, Any], who: str, lang: str = "zh") -> dict[str, str]:
    return {"Authorization": f"Bearer {rig['tokens'][who]}", "Accept-Language": lang}


async def entries(rig: dict[str, Any], **query: Any) -> list[Any]:
    return await AuditLog(rig["pool"]).entries(AuditQuery(limit=500, **query))


async def test_user_changes_are_recorded_with_who_when_and_what(rig: dict[str, Any]) -> None:
    users: PgUsers = rig["users"]
    started = datetime.now(UTC)
    token = await users.add("li-police", "liaison", department="public_security", name="张警官")
    assert await users.set_role("li-police", "supervisor", area="tongan.datong", actor="root")
    assert await users.set_role("li-police", "supervisor", area="tongan.datong")  # no change
    with pytest.raises(ValueError, match="needs an area"):
        await users.set_role("li-police", "secretary", actor="root")
    assert not await users.set_role("nobody", "admin", actor="root")
    assert await users.revoke("li-police", actor="root")
    assert not await users.revoke("li-police", actor="root")  # already revoked: nothing
    revoked, changed, added = await entries(rig, subject="li-police")
    assert (added.kind, added.actor, added.before) == ("user.added", cli_actor(), None)
    assert added.after == {
        "name": "张警官", "role": "liaison", "area": None, "department": "public_security",
    }  # fmt: skip
    assert (changed.kind, changed.actor) == ("user.role_changed", "root")
    assert (changed.before["role"], changed.before["department"]) == ("liaison", "public_security")
    assert (changed.after["role"], changed.after["area"], changed.after["department"]) == (
        "supervisor",
        "tongan.datong",
        None,
    )
    assert (revoked.kind, revoked.before["revoked_at"]) == ("user.revoked", None)
    assert datetime.fromisoformat(revoked.after["revoked_at"]) >= started
    assert started <= added.at <= changed.at <= revoked.at
    # the role change holds, and the token is refused once revoked
    assert await users.principal(token) is None
    logged = json.dumps([e.as_json() for e in await entries(rig)], ensure_ascii=False)
    for secret in (*rig["tokens"].values(), token):
        assert secret not in logged and token_hash(secret) not in logged


async def test_a_refused_change_leaves_no_entry(rig: dict[str, Any]) -> None:
    users: PgUsers = rig["users"]
    before = len(await entries(rig))
    with pytest.raises(ValueError, match="exists"):
        await users.add("root", "admin", actor="x")
    with pytest.raises(ValueError):
        await users.add("bad", "secretary", area="nowhere", actor="x")
    assert len(await entries(rig)) == before


async def test_webhook_endpoint_changes_over_http_name_the_caller(rig: dict[str, Any]) -> None:
    client = rig["client"]
    r = await client.post(
        "/v1/webhooks",
        json={"url": "https://urban.example/hook", "description": "城管系统"},
        headers=auth(rig, "liaison"),
    )
    assert r.status_code == 201, r.text
    endpoint, secret = r.json()["endpoint_id"], r.json()["secret"]
    rotated = await client.post(f"/v1/webhooks/{endpoint}/rotate", headers=auth(rig, "admin"))
    assert rotated.status_code == 200
    path = f"/v1/webhooks/{endpoint}"
    assert (await client.post(path + "/disable", headers=auth(rig, "admin"))).status_code == 200
    assert (await client.post(path + "/disable", headers=auth(rig, "admin"))).status_code == 200
    assert (await client.post(path + "/enable", headers=auth(rig, "liaison"))).status_code == 200
    # refused: no entry
    other = await client.post(path + "/disable", headers=auth(rig, "secretary"))
    assert other.status_code == 403
    missing = await client.post("/v1/webhooks/999/disable", headers=auth(rig, "admin"))
    assert missing.status_code == 404
    found = await entries(rig, kind="webhook")
    assert [(e.kind, e.actor) for e in found] == [
        ("webhook.enabled", "li-urban"),
        ("webhook.disabled", "root"),
        ("webhook.secret_rotated", "root"),
        ("webhook.added", "li-urban"),
    ]
    assert {e.subject for e in found} == {f"webhook {endpoint}"}
    enabled, disabled, rotation, added = found
    assert added.after == {
        "department": "urban_management",
        "url": "https://urban.example/hook",
        "description": "城管系统",
        "event_types": None,
        "enabled": True,
    }
    assert disabled.before["enabled"] is True and disabled.after == {
        "department": "urban_management",
        "url": "https://urban.example/hook",
        "enabled": False,
        "disabled_reason": "disabled by root",
    }
    assert enabled.before["disabled_reason"] == "disabled by root"
    assert enabled.after["enabled"] is True
    assert "previous_secret_valid_until" in rotation.after
    logged = json.dumps([e.as_json() for e in found])
    assert secret not in logged and rotated.json()["secret"] not in logged


async def test_a_receiver_answering_410_is_recorded_as_the_deliverer(rig: dict[str, Any]) -> None:
    store: WebhookStore = rig["store"]
    endpoint = await store.add_endpoint("transport", "https://t.example/h", "whsec_x", actor="ops")
    delivery = await rig["pool"].fetchval(
        "INSERT INTO webhooks.deliveries (endpoint_id, event_id, case_id, event_type,"
        " department, body) VALUES ($1, 'e1', 'WH-1', 'whistle.case.routed.v1', 'transport',"
        " '{}') RETURNING delivery_id",
        endpoint,
    )
    due = Due(delivery, endpoint, "e1", "{}", 0, "https://t.example/h", ("whsec_x",))
    gone = Attempt(due.delivery_id, due.attempts, datetime.now(UTC), 3.0, 410, None, "gone")
    await store.record_attempts([gone])
    await store.record_attempts([gone])  # disabled already: not recorded again
    ep = await store.endpoint(endpoint)
    assert ep is not None and not ep.enabled
    [disabled] = await entries(rig, kind="webhook.disabled")
    assert (disabled.actor, disabled.subject) == ("system:webhooks", f"webhook {endpoint}")
    assert disabled.before == {
        "department": "transport",
        "url": "https://t.example/h",
        "enabled": True,
        "disabled_reason": None,
    }
    assert disabled.after["disabled_reason"] == "410 Gone from the receiver"


async def test_entries_are_append_only_and_survive_a_restart(rig: dict[str, Any]) -> None:
    pool = rig["pool"]
    count = len(await entries(rig))
    assert count >= 4
    for statement in (
        "UPDATE audit.entries SET actor = 'someone else'",
        "DELETE FROM audit.entries",
        "TRUNCATE audit.entries",
    ):
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await pool.execute(statement)
    # a new process: a fresh pool, migrations run again (nothing to apply), the log intact
    fresh = await asyncpg.create_pool(rig["dsn"], min_size=1, max_size=2)
    try:
        async with fresh.acquire() as conn:
            assert await migrate_audit(conn) == []
            assert await migrate_api(conn) == []
        again = await AuditLog(fresh).entries(AuditQuery(limit=500))
        assert len(again) == count
        assert {e.subject for e in again} >= {"root", "sec", "li-urban", "sup"}
    finally:
        await fresh.close()


async def test_a_configuration_version_is_recorded_for_its_publisher(rig: dict[str, Any]) -> None:
    entry = await record_config_change(
        rig["pool"],
        actor="root",
        version=2,
        before={"version": 1, "calendar_years": [2025, 2026]},
        after={"version": 2, "calendar_years": [2025, 2026, 2027]},
        note="2027 年节假日安排",
    )
    [read] = await entries(rig, kind="config")
    assert read == entry
    assert (read.kind, read.subject) == ("config.published", "config v2")
    assert read.note == "2027 年节假日安排"
    assert read.after == {"version": 2, "calendar_years": [2025, 2026, 2027]}
    with pytest.raises(ValueError, match="unknown audit kind"):
        await record(rig["pool"], actor="x", kind="user.deleted", subject="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs an actor"):
        await record(rig["pool"], actor="", kind="user.added", subject="x")


async def test_admins_read_the_log_with_filters_and_pages(rig: dict[str, Any]) -> None:
    client = rig["client"]
    users: PgUsers = rig["users"]
    for n in range(5):
        await users.add(f"extra-{n}", "liaison", department="transport", actor="root")
    await users.revoke("extra-0", actor="root")
    r = await client.get("/v1/audit", headers=auth(rig, "admin"))
    assert r.status_code == 200
    body = r.json()
    assert body["next"] is None and len(body["items"]) == 10  # 4 setup + 5 added + 1 revoked
    ids = [e["entry_id"] for e in body["items"]]
    assert ids == sorted(ids, reverse=True)
    assert body["items"][0]["kind"] == "user.revoked" and body["items"][0]["actor"] == "root"

    seen: list[int] = []
    url: str | None = "/v1/audit?actor=root&limit=2"
    while url:
        page = (await client.get(url, headers=auth(rig, "admin"))).json()
        assert len(page["items"]) <= 2
        seen += [e["entry_id"] for e in page["items"]]
        url = page["next"]
    assert len(seen) == 6 and seen == sorted(seen, reverse=True)

    revoked = (await client.get("/v1/audit?kind=user.revoked", headers=auth(rig, "admin"))).json()
    assert [e["subject"] for e in revoked["items"]] == ["extra-0"]
    family = (await client.get("/v1/audit?kind=webhook", headers=auth(rig, "admin"))).json()
    assert family["items"] == []
    cut = body["items"][4]["at"]
    since = await client.get("/v1/audit", params={"since": cut}, headers=auth(rig, "admin"))
    until = await client.get("/v1/audit", params={"until": cut}, headers=auth(rig, "admin"))
    assert len(since.json()["items"]) + len(until.json()["items"]) == 10
    assert since.json()["items"][-1]["at"] == cut

    for who in ("secretary", "liaison", "supervisor"):
        refused = await client.get("/v1/audit", headers=auth(rig, who, "en"))
        assert refused.status_code == 403, who
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["detail"] == f"Role {who} cannot do this"
    bad = await client.get("/v1/audit?limit=0", headers=auth(rig, "admin", "en"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.limit"


async def test_clocks_beyond_the_calendar_are_counted_and_exported(rig: dict[str, Any]) -> None:
    pool, client = rig["pool"], rig["client"]
    rows = [  # (case, mode, started, due, status)
        ("WH-1", "working", "2026-12-01T09:00+08:00", "2026-12-20T09:00+08:00", "running"),
        ("WH-2", "working", "2026-12-01T09:00+08:00", "2027-01-06T09:00+08:00", "running"),
        ("WH-3", "working", "2026-12-01T09:00+08:00", "2027-02-10T09:00+08:00", "paused"),
        ("WH-4", "calendar", "2026-12-01T09:00+08:00", "2027-01-06T09:00+08:00", "running"),
        ("WH-5", "working", "2026-12-01T09:00+08:00", "2027-01-06T09:00+08:00", "met"),
        ("WH-6", "working", "2026-12-31T17:00+08:00", "2027-01-01T00:00+08:00", "running"),
        ("WH-7", "working", "2026-12-31T17:00+08:00", "2026-12-31T23:59+08:00", "running"),
    ]
    await pool.executemany(
        "INSERT INTO projection.clocks (case_id, clock, department, mode, started_at, due_at,"
        " status) VALUES ($1, 'resolve', '', $2, $3::text::timestamptz, $4::text::timestamptz,"
        " $5)",
        rows,
    )
    status = await client.get("/v1/calendar/status", headers=auth(rig, "supervisor"))
    assert status.status_code == 200
    body = status.json()
    assert body["clocks_beyond"] == 3  # WH-2, WH-3 (paused), WH-6 (due at midnight of 2027)
    assert [r["code"] for r in body["reasons"]] == ["clocks_beyond_calendar", "calendar_ends_soon"]
    ready = (await client.get("/readyz", headers={"Accept-Language": "en"})).json()
    assert ready["status"] == "degraded"
    assert ready["checks"]["calendar"]["clocks_beyond"] == 3
    assert ready["reasons"][0]["message"].startswith("3 running working-time clocks reach 2027")
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert "whistle_clocks_beyond_calendar 3.0" in metrics.text
    assert "whistle_calendar_days_left 30.0" in metrics.text
    await pool.execute("UPDATE projection.clocks SET status = 'met' WHERE case_id = 'WH-2'")
    assert "whistle_clocks_beyond_calendar 2.0" in (await client.get("/metrics")).text


@pytest.fixture
async def served(rig: dict[str, Any]) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(rig["app"], host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        server.force_exit = True
        await asyncio.wait_for(task, 10)


async def whistle(url: str, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WHISTLE_API_URL": url, "WHISTLE_TOKEN": token}
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "whistle.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_the_console_prints_the_log_like_a_timeline(rig: dict[str, Any], served: str) -> None:
    users: PgUsers = rig["users"]
    await users.set_role("sup", "supervisor", area="tongan.datong", actor="root")
    admin = rig["tokens"]["admin"]
    out = await whistle(served, admin, "audit", "--kind", "user")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 5
    assert "root" in lines[0] and "变更角色" in lines[0] and "sup" in lines[0]
    assert "area: tongan → tongan.datong" in lines[0]
    assert "新增用户" in lines[-1] and "setup" in lines[-1]
    en = await whistle(served, admin, "audit", "--actor", "root", "--lang", "en")
    assert en.returncode == 0 and en.stdout.splitlines()[0].count("role changed") == 1
    paged = await whistle(served, admin, "audit", "--limit", "2", "--lang", "en")
    assert paged.stdout.splitlines()[-1].startswith("Older entries: --before ")
    bad = await whistle(served, admin, "audit", "--since", "yesterday")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    refused = await whistle(served, rig["tokens"]["liaison"], "audit", "--lang", "en")
    assert refused.returncode != 0 and refused.stderr.count("\n") == 1
    assert refused.stderr.startswith("error: ")

"""Notification preferences, subscriptions, group robots and the delivery log over HTTP, on
the real database: who may do what (the matrix the route registry checks), validation in zh
and en."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.integration.notify.test_notification_routes import USERS, WHO, _no_probe, _NoBus
from whistle.api.account_store import PgIdempotency, PgUsers, migrate_api
from whistle.api.app import create_app
from whistle.api.deps import Services
from whistle.notify.inbox import Inbox, ensure_schema
from whistle.notify.notifier_store import NotifierStore
from whistle.read.gateway import PgRead
from whistle.settings import Settings
from whistle.webhooks.secretbox import SecretBox

pytestmark = pytest.mark.integration

EVERYONE = {"admin": 200, "urban": 200, "transport": 200, "secretary": 200, "supervisor": 200}
ADMIN = {"admin": 200, "urban": 403, "transport": 403, "secretary": 403, "supervisor": 403}
PREFS = {"language": "en", "email": "li@example.gov.cn", "channels": ["email"]}
ROBOT = {"url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k-1"}
SUBS = {"settings": {"deadline_approaching": False}}
# (method, route) → status per caller; the paths' parameters are filled in by PATHS
MATRIX: dict[tuple[str, str], dict[str | None, int]] = {
    ("GET", "/v1/me/notification-preferences"): EVERYONE | {None: 401},
    ("PUT", "/v1/me/notification-preferences"): EVERYONE | {None: 401},
    ("GET", "/v1/notifications/preferences/{user_id}"): ADMIN | {None: 401},
    ("PUT", "/v1/notifications/preferences/{user_id}"): ADMIN | {None: 401},
    ("GET", "/v1/notifications/subscriptions/me"): EVERYONE | {None: 401},
    ("PUT", "/v1/notifications/subscriptions/me"): EVERYONE | {None: 401},
    ("GET", "/v1/notifications/subscriptions/departments/{department}"): ADMIN | {None: 401},
    ("PUT", "/v1/notifications/subscriptions/departments/{department}"): ADMIN | {None: 401},
    ("GET", "/v1/notifications/robots"): {
        "admin": 200, "urban": 200, "transport": 200, "secretary": 403, "supervisor": 200,
        None: 401,
    },
    # the urban-management department's robot: its liaison and admins
    ("PUT", "/v1/notifications/robots/{owner_kind}/{owner}/{platform}"): {
        "admin": 200, "urban": 200, "transport": 403, "secretary": 403, "supervisor": 403,
        None: 401,
    },
    ("DELETE", "/v1/notifications/robots/{owner_kind}/{owner}/{platform}"): {
        "admin": 204, "urban": 204, "transport": 403, "secretary": 403, "supervisor": 403,
        None: 401,
    },
    ("GET", "/v1/notifications/deliveries"): ADMIN | {None: 401},
    ("GET", "/v1/notifications/deliveries/{delivery_id}/attempts"): ADMIN | {None: 401},
    ("POST", "/v1/notifications/deliveries/{delivery_id}/redeliver"): ADMIN | {None: 401},
}  # fmt: skip


@pytest.fixture
async def api(fresh_database: str, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    pool = await asyncpg.create_pool(fresh_database, min_size=1, max_size=6)
    async with pool.acquire() as conn:
        await migrate_api(conn)
        await ensure_schema(conn)
    users = PgUsers(pool, 0.0)
    tokens = {}
    for who, (user_id, role, scope) in USERS.items():
        tokens[who] = await users.add(user_id, role, **scope)
    store = NotifierStore(pool, SecretBox("test-key"))
    services = Services(
        bus=_NoBus(), read=PgRead(pool), users=users, idempotency=PgIdempotency(pool),
        kafka_probe=_no_probe, inbox=Inbox(pool), notifier=store,
    )  # fmt: skip
    app = create_app(Settings(database_url=fresh_database, state_dir=tmp_path), services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield {"client": client, "tokens": tokens, "store": store, "pool": pool}
    await pool.close()


def auth(api: dict[str, Any], who: str | None, lang: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {api['tokens'][who]}"} if who else {}
    return headers | ({"Accept-Language": lang} if lang else {})


async def _a_delivery(pool: asyncpg.Pool) -> int:
    return int(
        await pool.fetchval(
            "INSERT INTO notify.deliveries (dedup_key, notice_key, event_id, case_id, kind,"
            " recipient, user_id, channel, message, status)"
            " VALUES (gen_random_uuid()::text, 'n', 'ev', 'WH-1', 'assigned', 'li-urban',"
            " 'li-urban', 'inapp', '{}', 'dead') RETURNING delivery_id"
        )
    )


@pytest.mark.parametrize("route", sorted(MATRIX), ids=" ".join)
async def test_who_may_do_what(api: dict[str, Any], route: tuple[str, str]) -> None:
    method, template = route
    got = {}
    for who in WHO:
        path = (
            template.replace("{user_id}", "li-urban")
            .replace("{owner_kind}", "department")
            .replace("{owner}", "urban_management")
            .replace("{platform}", "wecom")
            .replace("{department}", "urban_management")
        )
        if "{delivery_id}" in path:
            path = path.replace("{delivery_id}", str(await _a_delivery(api["pool"])))
        if method == "DELETE":
            await api["store"].preferences.put_group_robot(
                "department:urban_management", _robot(), actor="test"
            )
        body = None
        if method == "PUT":
            body = ROBOT if "robots" in template else SUBS if "subscr" in template else PREFS
        response = await api["client"].request(method, path, json=body, headers=auth(api, who))
        got[who] = response.status_code
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"
    assert got == MATRIX[route]


def _robot() -> Any:
    from whistle.notify.preferences import Robot

    return Robot("wecom", ROBOT["url"])


async def test_my_preferences_round_trip_with_the_robot_key_hidden(api: dict[str, Any]) -> None:
    client = api["client"]
    fresh = await client.get("/v1/me/notification-preferences", headers=auth(api, "urban"))
    assert fresh.json()["language"] == "zh" and fresh.json()["email"] is None
    body = {
        "language": "en", "email": "li@example.gov.cn", "phone": "+86 139-1234-5678",
        "robot": {"platform": "dingtalk", "url": "https://oapi.dingtalk.com/robot/send?access_token=T0KEN.ab12cd34",
                  "secret": "SEC1"},
        "quiet_hours": {"start": "22:00", "end": "07:00"}, "digest": True,
        "channels": ["dingtalk", "email", "sms"],
    }  # fmt: skip
    put = await client.put("/v1/me/notification-preferences", json=body, headers=auth(api, "urban"))
    assert put.status_code == 200, put.text
    got = put.json()
    assert got["phone"] == "+8613912345678" and got["quiet_hours"] == body["quiet_hours"]
    assert got["robot"] == {
        "platform": "dingtalk", "url": "https://oapi.dingtalk.com/robot/send?***", "signed": True,
    }  # fmt: skip
    stored = await api["pool"].fetchrow(
        "SELECT * FROM notify.preferences WHERE user_id = 'li-urban'"
    )
    # A sealed value is URL-safe base64, which never holds "." (a two-letter key once
    # appeared in the ciphertext by chance).
    assert "T0KEN.ab12cd34" not in stored["robot_url_sealed"]
    assert "gov.cn" not in stored["email_sealed"]
    again = await client.get("/v1/me/notification-preferences", headers=auth(api, "urban"))
    assert again.json() == got
    other = await client.get("/v1/me/notification-preferences", headers=auth(api, "transport"))
    assert other.json()["email"] is None  # one's own only


@pytest.mark.parametrize(
    ("body", "zh", "en"),
    [
        ({"email": "not-an-address"}, "电子邮件地址", "valid e-mail address"),
        ({"phone": "12345"}, "手机号", "mobile number"),
        ({"channels": ["email", "email"]}, "不能重复", "must not repeat"),
        ({"quiet_hours": {"start": "22:00", "end": "22:00"}}, "不能相同", "same time"),
        ({"quiet_hours": {"start": "25:00", "end": "07:00"}}, "格式", "match"),
        ({"channels": ["fax"]}, "以下之一", "one of"),
        ({"digest": "yes"}, "true 或 false", "true or false"),
    ],
)
async def test_bad_preferences_are_refused_in_the_callers_language(
    api: dict[str, Any], body: dict[str, Any], zh: str, en: str
) -> None:
    client = api["client"]
    for lang, text in (("zh", zh), ("en", en)):
        response = await client.put(
            "/v1/me/notification-preferences", json=body, headers=auth(api, "urban", lang)
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert text in response.text, response.text


async def test_an_admin_sets_a_users_preferences_and_unknown_users_are_404(
    api: dict[str, Any],
) -> None:
    client = api["client"]
    ok = await client.put("/v1/notifications/preferences/li-transport", json=PREFS,
                          headers=auth(api, "admin"))  # fmt: skip
    assert ok.status_code == 200 and ok.json()["email"] == PREFS["email"]
    mine = await client.get("/v1/me/notification-preferences", headers=auth(api, "transport"))
    assert mine.json()["email"] == PREFS["email"]
    missing = await client.get(
        "/v1/notifications/preferences/nobody", headers=auth(api, "admin", "en")
    )
    assert missing.status_code == 404 and "No user nobody" in missing.text
    audit = await api["pool"].fetch(
        "SELECT actor, kind, after FROM audit.entries WHERE kind LIKE 'notify.%'"
    )
    assert [(a["actor"], a["kind"]) for a in audit] == [("admin", "notify.preferences_set")]
    assert "gov.cn" not in str(audit[0]["after"])


async def test_a_group_robot_of_an_unknown_group_is_refused(api: dict[str, Any]) -> None:
    response = await api["client"].put(
        "/v1/notifications/robots/area/nowhere/wecom", json=ROBOT, headers=auth(api, "admin", "en")
    )
    assert response.status_code == 422 and "No area nowhere" in response.text


async def test_the_delivery_log_filters_and_redelivers(api: dict[str, Any]) -> None:
    client, pool = api["client"], api["pool"]
    dead = await _a_delivery(pool)
    listed = await client.get("/v1/notifications/deliveries", params={"status": "dead"},
                              headers=auth(api, "admin"))  # fmt: skip
    assert [d["delivery_id"] for d in listed.json()["items"]] == [dead]
    none = await client.get("/v1/notifications/deliveries", params={"channel": "email"},
                            headers=auth(api, "admin"))  # fmt: skip
    assert none.json()["items"] == []
    again = await client.post(f"/v1/notifications/deliveries/{dead}/redeliver",
                              headers=auth(api, "admin"))  # fmt: skip
    assert again.json() == {"delivery_id": dead, "status": "pending"}
    bad = await client.get("/v1/notifications/deliveries", params={"kind": "gossip"},
                           headers=auth(api, "admin", "en"))  # fmt: skip
    assert bad.status_code == 422 and "No notification kind gossip" in bad.text


async def test_a_departments_setting_reaches_its_liaisons_and_their_own_overrides_it(
    api: dict[str, Any],
) -> None:
    client = api["client"]
    mine = await client.get("/v1/notifications/subscriptions/me", headers=auth(api, "urban"))
    assert mine.status_code == 200 and mine.json()["settings"] == {}
    assert all(k["enabled"] and k["source"] == "default" for k in mine.json()["kinds"])
    dept = "/v1/notifications/subscriptions/departments/urban_management"
    put = await client.put(dept, json={"settings": {"assigned": False}}, headers=auth(api, "admin"))
    assert put.status_code == 200 and put.json()["owner"] == "department:urban_management"
    assert (await client.get(dept, headers=auth(api, "admin"))).json()["settings"] == {
        "assigned": False
    }

    def assigned(body: dict[str, Any]) -> tuple[bool, str]:
        row = next(k for k in body["kinds"] if k["kind"] == "assigned")
        return row["enabled"], row["source"]

    urban = await client.get("/v1/notifications/subscriptions/me", headers=auth(api, "urban"))
    assert assigned(urban.json()) == (False, "department")
    other = await client.get("/v1/notifications/subscriptions/me", headers=auth(api, "transport"))
    assert assigned(other.json()) == (True, "default")
    own = await client.put(
        "/v1/notifications/subscriptions/me",
        json={"settings": {"assigned": True}},
        headers=auth(api, "urban"),
    )
    assert own.status_code == 200 and assigned(own.json()) == (True, "user")
    sup = await client.get("/v1/notifications/subscriptions/me", headers=auth(api, "supervisor"))
    fixed = {k["kind"] for k in sup.json()["kinds"] if not k["mutable"]}
    assert fixed == {"deadline_breached", "escalated"}
    audit = await api["pool"].fetch(
        "SELECT actor, subject, after FROM audit.entries WHERE kind = 'notify.subscriptions_set'"
        " ORDER BY entry_id"
    )
    assert [(a["actor"], a["subject"]) for a in audit] == [
        ("admin", "department urban_management"), ("li-urban", "user li-urban"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("who", "path", "body", "status", "zh", "en"),
    [
        ("urban", "me", {"settings": {"gossip": False}}, 422, "没有通知类型 gossip",
         "No notification kind gossip"),
        ("supervisor", "me", {"settings": {"escalated": False}}, 422, "escalated 不能关闭",
         "escalated cannot be turned off"),
        ("urban", "me", {"settings": {"assigned": "no"}}, 422, "true 或 false", "true or false"),
        ("admin", "departments/nowhere", {"settings": {}}, 404, "没有部门 nowhere",
         "No department nowhere"),
        ("admin", "departments/transport", {"settings": {"spam": True}}, 422, "没有通知类型 spam",
         "No notification kind spam"),
    ],
)  # fmt: skip
async def test_bad_subscriptions_are_refused_in_the_callers_language_and_change_nothing(
    api: dict[str, Any], who: str, path: str, body: dict[str, Any], status: int, zh: str, en: str
) -> None:
    url = f"/v1/notifications/subscriptions/{path}"
    for lang, text in (("zh", zh), ("en", en)):
        response = await api["client"].put(url, json=body, headers=auth(api, who, lang))
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert text in response.text, response.text
    if status == 404:
        got = await api["client"].get(url, headers=auth(api, who, "en"))
        assert got.status_code == 404 and en in got.text
    assert await api["pool"].fetchval("SELECT count(*) FROM notify.subscriptions") == 0

"""The API as it runs: `whistle api` with the worker and the projector, on Kafka and PostgreSQL.

A secretary raises a whistle (retried with its Idempotency-Key), the lead department's liaison
finds it in the inbox and acknowledges, another department cannot see it, an early callback is
rejected with the decider's code, and an Open311 app raises one too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import unique_name
from tests.service_fixtures import isolated_env, settings_of, supervised
from whistle.api.account_store import PgUsers, migrate_api
from whistle.domain import load_rules
from whistle.topics import ensure_topics

pytestmark = pytest.mark.integration

JINHAI = "tongan.datong.jinhai"


async def make_users(dsn: str, lead: str) -> dict[str, str]:
    """Tokens of a secretary of 金海, the lead department's liaison and another liaison."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    assert pool is not None
    try:
        async with pool.acquire() as conn:
            await migrate_api(conn)
        users = PgUsers(pool)
        other = "civil_affairs" if lead != "civil_affairs" else "transport"
        return {
            "secretary": await users.add("sec", "secretary", area=JINHAI),
            "lead": await users.add("lead", "liaison", department=lead),
            "other": await users.add("other", "liaison", department=other),
            "supervisor": await users.add("sup", "supervisor", area="tongan"),
        }
    finally:
        await pool.close()


async def eventually(probe: Callable[[], Awaitable[Any]], timeout_s: float = 60.0) -> Any:
    """Poll ``probe`` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = await probe()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.3)


async def test_the_api_drives_the_decider_and_reads_the_projections(
    kafka_bootstrap: str, fresh_database: str, tmp_path: Path
) -> None:
    env = isolated_env(tmp_path, kafka_bootstrap, fresh_database, unique_name("t"))
    env["WHISTLE_REPLY_TIMEOUT_S"] = "60"
    settings = settings_of(env)
    await ensure_topics(settings)
    lead = load_rules().match("parking", JINHAI).lead
    tokens = await make_users(fresh_database, lead)
    base = f"http://127.0.0.1:{settings.http_port}"
    with supervised(tmp_path, env) as supervisor:
        supervisor.start("worker", "worker")
        supervisor.start("projector", "projector")
        supervisor.start("api", "api")
        await asyncio.to_thread(supervisor.wait_ready, f"{base}/healthz")
        async with httpx.AsyncClient(base_url=base, timeout=90) as http:

            def auth(who: str) -> dict[str, str]:
                return {"Authorization": f"Bearer {tokens[who]}"}

            body = {"category": "parking", "title": "滨海步道违停", "address": "金海社区滨海步道"}
            headers = auth("secretary") | {"Idempotency-Key": "raise-1"}
            first = await http.post("/v1/cases", json=body, headers=headers)
            assert first.status_code == 201, first.text
            case_id = first.json()["case_id"]
            assert [e["type"] for e in first.json()["events"]] == ["WhistleRaised"]
            again = await http.post("/v1/cases", json=body, headers=headers)
            assert (again.status_code, again.json()["case_id"]) == (200, case_id)
            assert again.json()["status"] == "duplicate"

            async def in_inbox() -> bool:
                inbox = await http.get("/v1/inbox", headers=auth("lead"))
                return case_id in {c["case_id"] for c in inbox.json()["items"]}

            await eventually(in_inbox)
            assert (
                await http.get(f"/v1/cases/{case_id}", headers=auth("other"))
            ).status_code == 404
            hidden = await http.post(
                f"/v1/cases/{case_id}/acknowledge", json={}, headers=auth("other")
            )
            assert hidden.status_code == 404

            ack = await http.post(f"/v1/cases/{case_id}/acknowledge", json={}, headers=auth("lead"))
            assert ack.status_code == 200, ack.text
            assert "DepartmentAcknowledged" in [e["type"] for e in ack.json()["events"]]

            early = await http.post(
                f"/v1/cases/{case_id}/callback",
                json={"solved": True, "satisfied": True, "score": 5},
                headers=auth("secretary"),
            )
            assert early.status_code == 409, early.text
            assert early.headers["content-type"] == "application/problem+json"
            assert early.json()["code"]

            async def acknowledged_in_timeline() -> bool:
                timeline = await http.get(
                    f"/v1/cases/{case_id}/timeline", headers=auth("supervisor")
                )
                types = [e["type"] for e in timeline.json()["events"]]
                return types[:3] == ["WhistleRaised", "CaseRouted", "DepartmentAcknowledged"]

            await eventually(acknowledged_in_timeline)
            now = await http.get(
                f"/v1/cases/{case_id}/at",
                params={"t": "2100-01-01T00:00:00Z"},
                headers=auth("secretary"),
            )
            assert now.json()["state"]["status"] == "in_progress"

            form = {
                "api_key": tokens["secretary"],
                "service_code": "noise",
                "lat": "24.7",
                "long": "118.1",
            }
            created = await http.post("/open311/v2/requests.json", data=form)
            assert created.status_code == 200, created.text
            request_id = created.json()[0]["service_request_id"]

            async def followed() -> Any:
                got = await http.get(
                    f"/open311/v2/requests/{request_id}.json",
                    params={"api_key": tokens["secretary"]},
                )
                return got.status_code == 200 and got.json()

            [request] = await eventually(followed)
            assert request["status"] == "open"

            ready = await eventually(lambda: _ready(http))
            assert ready["checks"]["kafka"]["ok"]
            metrics = await http.get("/v1/metrics", headers=auth("supervisor"))
            assert metrics.status_code == 200


async def _ready(http: httpx.AsyncClient) -> Any:
    response = await http.get("/readyz")
    return response.status_code == 200 and response.json()


async def test_a_joint_action_is_measured_on_report_in_and_shown_with_the_case(
    kafka_bootstrap: str, fresh_database: str, tmp_path: Path
) -> None:
    """集结 on the real worker and projector: scheduling leaves its clock running, each
    department's 报到 is recorded, the last arrival meets the clock; GET /v1/cases/{id} shows
    the place, time, departments, report-ins, and the whistle's description, address, location."""
    env = isolated_env(tmp_path, kafka_bootstrap, fresh_database, unique_name("ja"))
    env["WHISTLE_REPLY_TIMEOUT_S"] = "60"
    settings = settings_of(env)
    await ensure_topics(settings)
    rule = load_rules().match("tourist_crowds", JINHAI)
    assert rule.policy == "whistle" and "transport" in rule.supporting  # a joint-action clock
    tokens = await make_users(fresh_database, rule.lead)
    pool = await asyncpg.create_pool(fresh_database, min_size=1, max_size=1)
    assert pool is not None
    tokens["transport"] = await PgUsers(pool).add("li-tr", "liaison", department="transport")
    await pool.close()
    base = f"http://127.0.0.1:{settings.http_port}"
    with supervised(tmp_path, env) as supervisor:
        for name in ("worker", "projector", "api"):
            supervisor.start(name, name)
        await asyncio.to_thread(supervisor.wait_ready, f"{base}/healthz")
        async with httpx.AsyncClient(base_url=base, timeout=90) as http:

            def auth(who: str, lang: str = "zh-CN") -> dict[str, str]:
                return {"Authorization": f"Bearer {tokens[who]}", "Accept-Language": lang}

            async def post(who: str, case: str, suffix: str, body: Any, lang: str = "zh-CN") -> Any:
                return await http.post(
                    f"/v1/cases/{case}{suffix}", json=body, headers=auth(who, lang)
                )

            raised = await http.post(
                "/v1/cases",
                headers=auth("secretary"),
                json={
                    "category": "tourist_crowds",
                    "title": "滨海浪漫线游客激增",
                    "description": "周末游客激增，占道摆摊，车辆乱停",
                    "address": "金海社区滨海浪漫线",
                    "location": {"lat": 24.66, "lon": 118.24},
                },
            )
            assert raised.status_code == 201, raised.text
            case_id = raised.json()["case_id"]

            async def routed() -> Any:
                got = await http.get(f"/v1/cases/{case_id}", headers=auth("lead"))
                return got.status_code == 200 and got.json()

            await eventually(routed)
            for who in ("lead", "transport"):
                assert (await post(who, case_id, "/acknowledge", {})).status_code == 200
            early = await post("transport", case_id, "/report-in", {})
            assert (early.status_code, early.json()["code"]) == (409, "no_joint_action")
            at = "2026-12-05T09:00:00+08:00"
            scheduled = await post(
                "lead",
                case_id,
                "/joint-action",
                {"at": at, "place": "滨海浪漫线金海段", "departments": [rule.lead, "transport"]},
            )
            assert scheduled.status_code == 200, scheduled.text
            [event] = scheduled.json()["events"]
            assert (event["type"], event["action_id"]) == ("JointActionScheduled", "ja-1")

            first = await post("transport", case_id, "/report-in", {"action_id": "ja-1"})
            assert first.status_code == 200, first.text
            [arrival] = first.json()["events"]
            assert (arrival["type"], arrival["department"], arrival["assembled"]) == (
                "DepartmentReportedIn",
                "transport",
                False,
            )
            again = await post("transport", case_id, "/report-in", {}, lang="en")
            assert (again.status_code, again.json()["code"]) == (409, "already_reported_in")
            assert "already reported in" in again.json()["detail"]
            outsider = await post("other", case_id, "/report-in", {})
            assert outsider.status_code == 404
            last = await post("lead", case_id, "/report-in", {})
            [assembled] = last.json()["events"]
            assert assembled["assembled"] is True

            async def shown() -> Any:
                got = (await http.get(f"/v1/cases/{case_id}", headers=auth("transport"))).json()
                actions = got.get("joint_actions") or []
                return bool(actions and actions[0]["assembled_at"]) and got

            case = await eventually(shown)
            assert case["description"] == "周末游客激增，占道摆摊，车辆乱停"
            assert case["address"] == "金海社区滨海浪漫线"
            assert (case["location_lat"], case["location_lon"]) == (24.66, 118.24)
            [action] = case["joint_actions"]
            assert action["action_id"] == "ja-1" and action["place"] == "滨海浪漫线金海段"
            assert _instant(action["at"]) == _instant(at)
            assert [d["department"] for d in action["departments"]] == [rule.lead, "transport"]
            arrivals = {d["department"]: d["reported_in_at"] for d in action["departments"]}
            assert _instant(arrivals["transport"]) == _instant(arrival["occurred_at"])
            assert _instant(action["assembled_at"]) == _instant(assembled["occurred_at"])
            [clock] = [k for k in case["clocks"] if k["clock"] == "joint_action"]
            assert clock["status"] == "met"
            assert _instant(clock["stopped_at"]) == _instant(assembled["occurred_at"])
            assert _instant(clock["stopped_at"]) > _instant(event["occurred_at"])


def _instant(value: str) -> datetime:
    """An ISO instant from the API or PostgreSQL's JSON, comparable across their spellings."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))

"""An Open311 app on the real service (worker, projector, API on Kafka and PostgreSQL): it
raises a request with a secretary's api_key, retries the POST, then follows the request by id
without any api_key, as GeoReport v2 clients do, until the result is published (晒事).

The service runs with ``WHISTLE_ROUTING_RULES_FILE``: ``services.json`` lists that file's
categories with their groups, and the worker routes by the same file.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import unique_name
from tests.integration.api.test_api_with_services import eventually
from tests.stack import JINHAI, Stack, running_stack, scratch_database
from whistle.domain import load_rules
from whistle.settings import REPO_ROOT

pytestmark = pytest.mark.integration

PERSON = {"first_name": "秀英", "last_name": "王", "phone": "13912345678"}
DESCRIPTION = "滨海步道入口车辆违停，堵塞消防通道"
ADDRESS = "金海社区滨海步道入口"
SUMMARY = "已劝离违停车辆，入口加装隔离桩"
STRAY_DOGS = '\nstray_dogs = { name = "流浪犬", group = "民生", keywords = ["流浪狗"] }\n'


def rules_file(tmp_path: Path) -> Path:
    """The packaged rules with one more category (its group and keywords)."""
    text = (REPO_ROOT / "whistle" / "data" / "routing_rules.toml").read_text(encoding="utf-8")
    path = tmp_path / "rules.toml"
    path.write_text(text.replace("[categories]\n", "[categories]" + STRAY_DOGS), encoding="utf-8")
    return path


def test_an_open311_app_follows_its_request_without_an_api_key(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    rules = rules_file(tmp_path)
    lead = load_rules(rules).match("parking", JINHAI).lead
    env = {"WHISTLE_ROUTING_RULES_FILE": str(rules), "WHISTLE_REPLY_TIMEOUT_S": "60"}
    with (
        scratch_database(database_url, "open311") as dsn,
        running_stack(
            tmp_path, kafka_bootstrap, dsn, unique_name("o311"), extra_env=env, lead=lead
        ) as stack,
    ):
        asyncio.run(scenario(stack, dsn, lead))


async def scenario(stack: Stack, dsn: str, lead: str) -> None:
    """Raise, retry, follow without a key, act on the case, publish, follow again."""
    async with httpx.AsyncClient(base_url=stack.base, timeout=90) as http:
        services = (await http.get("/open311/v2/services.json")).json()
        dogs = next(s for s in services if s["service_code"] == "stray_dogs")
        assert (dogs["service_name"], dogs["group"], dogs["keywords"]) == (
            "流浪犬",
            "民生",
            "流浪狗",
        )
        assert next(s for s in services if s["service_code"] == "parking")["group"] == "交通"

        form = {"api_key": stack.tokens["secretary"], "service_code": "parking"}
        form |= {"lat": "24.66", "long": "118.24", "address_string": ADDRESS}
        form |= {"description": DESCRIPTION} | PERSON
        request_id = await retried_posts_raise_one_case(http, form)
        keyed_id = await the_idempotency_key_binds_a_post(http, form)

        routed = await follow(http, request_id, lambda r: r["agency_responsible"] == lead)
        assert routed["status"] == "open" and routed["service_name"] == "违章停车"
        expected = datetime.fromisoformat(routed["expected_datetime"])
        assert expected > datetime.fromisoformat(routed["requested_datetime"])
        for hidden in ("description", "address", "lat", "long", "status_notes"):
            assert routed[hidden] is None, hidden

        await act(http, stack, request_id)
        published = await follow(http, request_id, lambda r: r["status_notes"] == SUMMARY)
        assert (published["status"], published["extended_status"]) == ("closed", "fixed")
        # The public sees what the public page shows: no exact address, place or words.
        assert (published.get("description"), published.get("address")) == (None, None)
        assert (published.get("lat"), published.get("long")) == (None, None)
        assert datetime.fromisoformat(published["expected_datetime"]) == expected
        listed = (await http.get("/open311/v2/requests.json")).json()
        assert [r["service_request_id"] for r in listed] == [request_id]

        token = await http.get(f"/open311/v2/tokens/{keyed_id}.json")
        assert token.json() == [{"service_request_id": keyed_id, "token": keyed_id}]

    conn = await asyncpg.connect(dsn)
    try:
        raised = await conn.fetch(
            "SELECT case_id FROM projection.case_events WHERE type = 'WhistleRaised'"
        )
    finally:
        await conn.close()
    assert sorted(r["case_id"] for r in raised) == sorted([request_id, keyed_id])


async def retried_posts_raise_one_case(http: httpx.AsyncClient, form: dict[str, str]) -> str:
    """The same api_key and fields again (a lost answer, resent): the first request."""
    first = await http.post("/open311/v2/requests.json", data=form)
    assert first.status_code == 200, first.text
    request_id: str = first.json()[0]["service_request_id"]
    again = await http.post("/open311/v2/requests.json", data=form)
    assert again.status_code == 200, again.text
    assert again.json()[0]["service_request_id"] == request_id
    return request_id


async def the_idempotency_key_binds_a_post(http: httpx.AsyncClient, form: dict[str, str]) -> str:
    """With ``Idempotency-Key`` the key decides: the same key is the same request; the same
    key with other fields is refused."""
    keyed = form | {"description": "滨海步道出口也有违停"}
    headers = {"Idempotency-Key": "app-retry-1"}
    first = await http.post("/open311/v2/requests.json", data=keyed, headers=headers)
    assert first.status_code == 200, first.text
    keyed_id: str = first.json()[0]["service_request_id"]
    again = await http.post("/open311/v2/requests.json", data=keyed, headers=headers)
    assert again.json()[0]["service_request_id"] == keyed_id
    changed = await http.post(
        "/open311/v2/requests.json", data=keyed | {"description": "改了"}, headers=headers
    )
    assert changed.status_code == 422 and changed.json()[0]["code"] == 422
    return keyed_id


async def follow(http: httpx.AsyncClient, request_id: str, until: Any) -> dict[str, Any]:
    """GET the request by id with no api_key until ``until(request)``; never the requester."""

    async def probe() -> dict[str, Any] | None:
        got = await http.get(f"/open311/v2/requests/{request_id}.json")
        if got.status_code == 404:
            return None
        assert got.status_code == 200, got.text
        assert not any(v in got.text for v in PERSON.values()), got.text
        [request] = got.json()
        assert request["service_request_id"] == request_id
        return request if until(request) else None

    found: dict[str, Any] = await eventually(probe)
    return found


async def act(http: httpx.AsyncClient, stack: Stack, case_id: str) -> None:
    """The lead signs for and resolves the case; the secretary publishes the result."""
    steps = (
        ("liaison", "acknowledge", {}),
        ("liaison", "resolve", {"outcome": "solved", "summary": "现场处置完毕"}),
        ("secretary", "publish", {"summary": SUMMARY}),
    )
    for who, path, body in steps:
        headers = {"Authorization": f"Bearer {stack.tokens[who]}"}
        done = await http.post(f"/v1/cases/{case_id}/{path}", json=body, headers=headers)
        assert done.status_code == 200, (path, done.text)

"""Bad input answers RFC 9457 problem+json with field-level messages; nothing is sent."""

from __future__ import annotations

import httpx
import pytest

from tests.unit.api.conftest import auth
from tests.unit.api.fakes import FakeBus
from whistle.api.deps import Services
from whistle.api.i18n import negotiate

PROBLEM = "application/problem+json"
SEC = auth("tok-sec-in")


def sent(services: Services) -> list[object]:
    bus = services.bus
    assert isinstance(bus, FakeBus)
    return bus.sent


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "status", "instance"} <= set(body)
    return body


async def test_unknown_fields_are_rejected_per_field(
    client: httpx.AsyncClient, services: Services
) -> None:
    body = {"category": "parking", "title": "x", "address": "y", "colour": "red"}
    response = await client.post("/v1/cases", json=body, headers=SEC)
    problem = assert_problem(response, 422)
    assert problem["errors"] == [{"field": "colour", "message": "不允许的字段"}]
    assert sent(services) == []


async def test_missing_and_too_long_fields_name_the_field(client: httpx.AsyncClient) -> None:
    body = {"title": "x" * 201, "address": "y"}
    response = await client.post("/v1/cases", json=body, headers=SEC | {"Accept-Language": "en"})
    problem = assert_problem(response, 422)
    assert problem["title"] == "The request is not valid"
    assert {"field": "category", "message": "Field required"} in problem["errors"]
    assert {"field": "title", "message": "At most 200 characters"} in problem["errors"]


async def test_the_domains_cross_field_rules_come_back_as_field_errors(
    client: httpx.AsyncClient, services: Services
) -> None:
    response = await client.post(
        "/v1/cases", json={"category": "parking", "title": "no place"}, headers=SEC
    )
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["message"] == "请填写地址或位置（或两者）"
    english = await client.post(
        "/v1/cases",
        json={"category": "parking", "title": "no place"},
        headers={**SEC, "Accept-Language": "en"},
    )
    assert assert_problem(english, 422)["errors"][0]["message"] == (
        "Give an address or a location (or both)"
    )
    assert sent(services) == []


async def test_invalid_json_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/cases", content=b"{not json", headers=SEC | {"Content-Type": "application/json"}
    )
    assert_problem(response, 422)


async def test_oversized_bodies_are_refused_before_parsing(
    client: httpx.AsyncClient, services: Services
) -> None:
    body = {"category": "parking", "title": "x", "address": "y", "description": "长" * 3000}
    response = await client.post("/v1/cases", json=body, headers=SEC)
    problem = assert_problem(response, 413)
    assert "4096" in str(problem["detail"])
    assert sent(services) == []


async def test_oversized_chunked_bodies_are_refused_too(
    client: httpx.AsyncClient, services: Services
) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b" " * 1000

    response = await client.post(
        "/v1/cases", content=chunks(), headers=SEC | {"Content-Type": "application/json"}
    )
    assert_problem(response, 413)
    assert sent(services) == []


async def test_unknown_routes_and_methods_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/nothing-here", headers=SEC), 404)
    assert_problem(await client.delete("/v1/cases", headers=SEC), 405)


async def test_rejections_carry_the_deciders_code_and_message(
    client: httpx.AsyncClient, services: Services
) -> None:
    bus = services.bus
    assert isinstance(bus, FakeBus)
    bus.mode = "reject"
    response = await client.post(
        "/v1/cases/WH-IN/resolve",
        json={"outcome": "solved", "summary": "done"},
        headers=auth("tok-liaison-in"),
    )
    problem = assert_problem(response, 409)
    assert problem["code"] == "not_acknowledged"
    assert problem["params"] == {"department": "urban_management"}
    assert problem["detail"] == "城市管理局（城管）须先签收。"
    assert problem["title"] == "操作被拒绝"
    response = await client.post(
        "/v1/cases/WH-IN/resolve",
        json={"outcome": "solved", "summary": "done"},
        headers=auth("tok-liaison-in") | {"Accept-Language": "en"},
    )
    problem = assert_problem(response, 409)
    assert problem["detail"] == "Urban Management Bureau must acknowledge (签收) first."
    bus.code = "unknown_department"
    response = await client.post(
        "/v1/cases/WH-IN/resolve",
        json={"outcome": "solved", "summary": "done"},
        headers=auth("tok-liaison-in"),
    )
    assert_problem(response, 422)


async def test_a_rejection_code_unknown_to_this_api_shows_no_english_to_a_chinese_reader(
    client: httpx.AsyncClient, services: Services
) -> None:
    bus = services.bus
    assert isinstance(bus, FakeBus)
    bus.mode, bus.code = "reject", "some_newer_code"
    body = {"outcome": "solved", "summary": "done"}
    zh = await client.post("/v1/cases/WH-IN/resolve", json=body, headers=auth("tok-liaison-in"))
    problem = assert_problem(zh, 409)
    assert (problem["code"], problem["title"], "detail" in problem) == (
        "some_newer_code",
        "操作被拒绝",
        False,
    )
    en = await client.post(
        "/v1/cases/WH-IN/resolve",
        json=body,
        headers=auth("tok-liaison-in") | {"Accept-Language": "en"},
    )
    assert assert_problem(en, 409)["detail"] == "The department has not acknowledged the case yet."


async def test_a_decision_timeout_answers_202_with_a_location_to_poll(
    client: httpx.AsyncClient, services: Services
) -> None:
    bus = services.bus
    assert isinstance(bus, FakeBus)
    bus.mode = "timeout"
    response = await client.post(
        "/v1/cases/WH-IN/acknowledge", json={}, headers=auth("tok-liaison-in")
    )
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending"
    assert response.headers["location"] == f"/v1/cases/WH-IN/commands/{body['command_id']}"


async def test_a_liaison_acts_for_their_own_department_only(
    client: httpx.AsyncClient, services: Services
) -> None:
    liaison = auth("tok-liaison-in")
    ok = await client.post("/v1/cases/WH-IN/acknowledge", json={}, headers=liaison)
    assert ok.status_code == 200
    assert sent(services)[-1].department == "urban_management"  # type: ignore[attr-defined]
    other = await client.post(
        "/v1/cases/WH-IN/acknowledge", json={"department": "public_security"}, headers=liaison
    )
    assert_problem(other, 403)


async def test_an_idempotency_key_on_a_command_lets_the_decider_deduplicate(
    client: httpx.AsyncClient,
) -> None:
    headers = auth("tok-liaison-in") | {"Idempotency-Key": "ack-1"}
    first = await client.post("/v1/cases/WH-IN/acknowledge", json={}, headers=headers)
    again = await client.post("/v1/cases/WH-IN/acknowledge", json={}, headers=headers)
    assert first.json()["command_id"] == again.json()["command_id"]
    assert (first.json()["status"], again.json()["status"]) == ("accepted", "duplicate")


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        (None, "zh"),
        ("en", "en"),
        ("en-GB,en;q=0.9", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("fr, en;q=0.5", "en"),
        ("en;q=0.2, zh;q=0.8", "zh"),
        ("de", "zh"),
    ],
)
def test_language_negotiation_defaults_to_chinese(header: str | None, lang: str) -> None:
    assert negotiate(header) == lang


async def test_problems_are_chinese_by_default(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/cases/WH-IN")
    problem = assert_problem(response, 401)
    assert problem["title"] == "未认证：需要有效的访问令牌"
    assert response.headers["content-language"] == "zh-CN"


async def test_a_body_that_does_not_parse_is_a_400_problem_in_the_callers_language(
    client: httpx.AsyncClient, services: Services
) -> None:
    headers = SEC | {"Content-Type": "application/json"}
    response = await client.post("/v1/cases", content=b"\xff\xfe{", headers=headers)
    problem = assert_problem(response, 400)
    assert str(problem["detail"]).startswith("请求体无法解析")
    english = await client.post(
        "/v1/cases", content=b"\xff\xfe{", headers=headers | {"Accept-Language": "en"}
    )
    assert assert_problem(english, 400)["detail"] == (
        "The body could not be parsed: send UTF-8 JSON (a form for Open311)"
    )
    assert sent(services) == []


async def test_a_405_allows_every_method_of_the_path(client: httpx.AsyncClient) -> None:
    response = await client.request("OPTIONS", "/v1/webhooks", headers=SEC)
    assert_problem(response, 405)
    assert response.headers["allow"] == "GET, POST"


@pytest.mark.parametrize("value", ["0.5", "1764000000", "2026-11-21"])
async def test_date_time_parameters_take_rfc_3339_only(
    client: httpx.AsyncClient, value: str
) -> None:
    response = await client.get("/v1/cases", params={"raised_before": value}, headers=SEC)
    problem = assert_problem(response, 422)
    assert problem["errors"] == [
        {"field": "query.raised_before", "message": "必须是 ISO 8601 时间"}
    ]
    good = await client.get(
        "/v1/cases", params={"raised_before": "2026-11-21T08:00:00+08:00"}, headers=SEC
    )
    assert good.status_code == 200


async def test_a_single_valued_parameter_given_twice_is_refused(
    client: httpx.AsyncClient,
) -> None:
    query = "category=parking&category=noise&status=raised&status=routed"
    response = await client.get(f"/v1/cases?{query}", headers=SEC)
    problem = assert_problem(response, 422)
    assert problem["errors"] == [{"field": "query.category", "message": "只能出现一次"}]
    lists = await client.get("/v1/cases?status=raised&status=routed&category=parking", headers=SEC)
    assert lists.status_code == 200


async def test_a_query_parameter_without_a_name_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/cases?=false", headers=SEC)
    problem = assert_problem(response, 422)
    assert problem["errors"] == [{"field": "query", "message": "查询参数缺少名称"}]


async def test_a_query_parameter_the_operation_does_not_take_is_refused(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/v1/cases?foo=bar&foo=baz", "/v1/cases/WH-IN?x=1", "/v1/breaches?limit=5"):
        response = await client.get(path, headers=SEC)
        problem = assert_problem(response, 422)
        name = path.split("?")[1].split("=")[0]
        assert problem["errors"] == [{"field": f"query.{name}", "message": "没有这个查询参数"}]
    english = await client.get("/v1/cases?foo=1", headers={**SEC, "Accept-Language": "en"})
    assert assert_problem(english, 422)["errors"][0]["message"] == "No such query parameter"
    assert (await client.get("/v1/cases?category=parking", headers=SEC)).status_code == 200

"""Open311 GeoReport v2: services, raising by form with a secretary's api_key, following."""

from __future__ import annotations

import httpx

from tests.unit.api.fakes import JINHAI, FakeBus, FakeRead
from whistle.api.deps import Services
from whistle.api.open311 import extended_status

FORM = {
    "api_key": "tok-sec-in",
    "service_code": "parking",
    "lat": "24.7",
    "long": "118.15",
    "description": "海堤路违停\n周末尤其严重",
    "first_name": "女士",
    "last_name": "王",
    "phone": "13800000000",
}


async def test_services_are_the_routing_categories(client: httpx.AsyncClient) -> None:
    services = (await client.get("/open311/v2/services.json")).json()
    codes = {s["service_code"] for s in services}
    assert {"parking", "noise", "tourist_crowds"} <= codes
    parking = next(s for s in services if s["service_code"] == "parking")
    assert parking["service_name"] == "违章停车"
    assert parking["metadata"] is False
    definition = await client.get("/open311/v2/services/parking.json")
    assert definition.json() == {"service_code": "parking", "attributes": []}


async def test_unknown_service_is_an_open311_error_array(client: httpx.AsyncClient) -> None:
    response = await client.get("/open311/v2/services/nope.json")
    assert response.status_code == 404
    assert response.json() == [{"code": 404, "description": "没有服务代码 nope"}]


async def test_a_form_post_with_a_secretary_key_raises_a_whistle(
    client: httpx.AsyncClient, services: Services
) -> None:
    response = await client.post("/open311/v2/requests.json", data=FORM)
    assert response.status_code == 200, response.text
    [created] = response.json()
    assert created["service_request_id"].startswith("WH-")
    bus = services.bus
    assert isinstance(bus, FakeBus)
    command = bus.sent[-1]
    assert (command.channel, command.community, command.title) == ("open311", JINHAI, "海堤路违停")
    assert command.location.lat == 24.7
    assert command.requester.name == "王 女士"


async def test_a_post_without_a_decision_in_time_returns_a_token(
    client: httpx.AsyncClient, services: Services
) -> None:
    bus = services.bus
    assert isinstance(bus, FakeBus)
    bus.mode = "timeout"
    [created] = (await client.post("/open311/v2/requests.json", data=FORM)).json()
    assert created["token"].startswith("WH-")
    assert created.get("service_request_id") is None


async def test_bad_posts_answer_the_spec_error_array(client: httpx.AsyncClient) -> None:
    no_key = await client.post("/open311/v2/requests.json", data=FORM | {"api_key": "wrong"})
    assert no_key.status_code == 403
    assert no_key.json()[0]["code"] == 403
    liaison = await client.post(
        "/open311/v2/requests.json", data=FORM | {"api_key": "tok-liaison-in"}
    )
    assert liaison.status_code == 403
    nowhere = {k: v for k, v in FORM.items() if k not in ("lat", "long")}
    missing = await client.post("/open311/v2/requests.json", data=nowhere)
    assert missing.status_code == 400
    assert missing.json() == [{"code": 400, "description": "请给出 lat/long 或 address_string"}]
    invalid = await client.post("/open311/v2/requests.json", data=FORM | {"lat": "north"})
    assert invalid.status_code == 422
    assert invalid.json()[0]["description"].startswith("lat:")


async def test_get_requests_without_a_key_shows_only_published_cases(
    client: httpx.AsyncClient, services: Services
) -> None:
    assert (await client.get("/open311/v2/requests.json")).json() == []
    read = services.read
    assert isinstance(read, FakeRead)
    read.rows["WH-IN"]["published_at"] = read.rows["WH-IN"]["raised_at"]
    [published] = (await client.get("/open311/v2/requests.json")).json()
    assert published["service_request_id"] == "WH-IN"
    assert published["status"] == "open"
    # The public sees what the public page shows: no exact address or place.
    assert published.get("address") is None and published.get("description") is None
    assert (published.get("lat"), published.get("long")) == (None, None)
    assert "requester" not in published and "phone" not in str(published)


async def test_get_requests_with_a_key_shows_the_callers_scope(client: httpx.AsyncClient) -> None:
    mine = await client.get("/open311/v2/requests.json", params={"api_key": "tok-sec-in"})
    assert [r["service_request_id"] for r in mine.json()] == ["WH-IN"]
    one = await client.get("/open311/v2/requests/WH-IN.json", params={"api_key": "tok-sec-in"})
    assert one.status_code == 200 and len(one.json()) == 1
    assert one.json()[0]["description"] == "海堤路周末游客车辆占道"
    # a key outside the case's scope sees what anyone with the id sees: the public fields
    other = await client.get("/open311/v2/requests/WH-IN.json", params={"api_key": "tok-sec-out"})
    assert other.status_code == 200
    assert (other.json()[0]["description"], other.json()[0]["address"]) == (None, None)
    closed = await client.get(
        "/open311/v2/requests.json", params={"api_key": "tok-sec-in", "status": "closed"}
    )
    assert closed.json() == []


async def test_tokens_resolve_once_the_case_exists(client: httpx.AsyncClient) -> None:
    found = await client.get("/open311/v2/tokens/WH-IN.json")
    assert found.json() == [{"service_request_id": "WH-IN", "token": "WH-IN"}]
    assert (await client.get("/open311/v2/tokens/WH-LATER.json")).status_code == 404
    other = await client.get("/open311/v2/tokens/WH-IN.json", params={"api_key": "tok-sec-out"})
    assert other.json() == found.json()
    bogus = await client.get("/open311/v2/tokens/WH-IN.json", params={"api_key": "wh_bogus"})
    assert bogus.status_code == 403


def test_extended_statuses_follow_fixmystreet() -> None:
    assert extended_status({"status": "routed"}) == "open"
    assert extended_status({"status": "in_progress"}) == "in progress"
    assert extended_status({"status": "in_progress", "joint_action_at": "x"}) == "action scheduled"
    assert extended_status({"status": "resolved", "resolution": "solved"}) == "fixed"
    assert extended_status({"status": "resolved", "resolution": "not_solvable"}) == "unable to fix"
    assert extended_status({"status": "duplicate"}) == "duplicate"
    assert extended_status({"status": "withdrawn"}) == "closed"


async def test_oversized_open311_posts_answer_the_spec_error_array(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/open311/v2/requests.json", data=FORM | {"description": "长" * 3000}
    )
    assert response.status_code == 413
    assert response.json()[0]["code"] == 413


async def test_open311_errors_speak_english_when_asked(client: httpx.AsyncClient) -> None:
    english = {"Accept-Language": "en"}
    response = await client.get("/open311/v2/services/nope.json", headers=english)
    assert response.json() == [{"code": 404, "description": "No service_code nope"}]

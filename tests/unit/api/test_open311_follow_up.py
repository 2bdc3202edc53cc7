"""Open311 follow-up as real clients do it: GET by id without an api_key (public fields only
until 晒事), services from the routing rules in use with their groups, and retried POSTs that
return the first request instead of raising a second case."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tests.unit.api.fakes import T0, FakeBus, FakeIdempotency, FakeRead, fake_services
from tests.unit.api.test_open311 import FORM
from whistle.api.app import ApiSettings, create_app
from whistle.api.deps import Services
from whistle.api.open311 import RETRY_WINDOW
from whistle.settings import Settings

DUE = T0 + timedelta(days=3)
PUBLIC = {
    "service_request_id",
    "status",
    "extended_status",
    "service_code",
    "service_name",
    "agency_responsible",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
}


def _fakes(services: Services) -> tuple[FakeRead, FakeBus, FakeIdempotency]:
    read, bus, keys = services.read, services.bus, services.idempotency
    assert isinstance(read, FakeRead) and isinstance(bus, FakeBus)
    assert isinstance(keys, FakeIdempotency)
    return read, bus, keys


def _routed_with_a_resolve_clock(read: FakeRead) -> None:
    read.rows["WH-IN"]["clocks"] = [
        {"clock": "ack", "department": "urban_management", "due_at": T0 + timedelta(hours=2)},
        {"clock": "resolve", "department": "urban_management", "due_at": DUE},
    ]


def _publish(read: FakeRead, summary: str) -> None:
    read.rows["WH-IN"] |= {"status": "resolved", "resolution": "solved", "published_at": T0}
    body = {"type": "CasePublished", "case_id": "WH-IN", "seq": 5, "summary": summary}
    read.events["WH-IN"].append({"seq": 5, "type": "CasePublished", "body": body})


async def test_any_request_is_followed_by_id_without_a_key_in_its_public_fields(
    client: httpx.AsyncClient, services: Services
) -> None:
    read, _, _ = _fakes(services)
    _routed_with_a_resolve_clock(read)
    response = await client.get("/open311/v2/requests/WH-IN.json")
    assert response.status_code == 200, response.text
    [request] = response.json()
    assert {k for k, v in request.items() if v is not None} == PUBLIC
    assert request["status"] == "open" and request["extended_status"] == "open"
    assert (request["service_code"], request["service_name"]) == ("parking", "违章停车")
    assert request["agency_responsible"] == "urban_management"
    assert request["expected_datetime"] == DUE.isoformat().replace("+00:00", "Z")
    assert "海堤路" not in response.text  # neither the description nor the address


async def test_once_published_the_summary_is_public_never_the_words_or_the_place(
    client: httpx.AsyncClient, services: Services
) -> None:
    read, _, _ = _fakes(services)
    _publish(read, "已清理违停车辆，设置隔离桩")
    [request] = (await client.get("/open311/v2/requests/WH-IN.json")).json()
    assert (request["status"], request["extended_status"]) == ("closed", "fixed")
    assert request["status_notes"] == "已清理违停车辆，设置隔离桩"
    # as the public page (#17 item 7): no exact address, place or the secretary's words
    assert (request["description"], request["address"]) == (None, None)
    assert (request["lat"], request["long"]) == (None, None)
    [listed] = (await client.get("/open311/v2/requests.json")).json()
    assert listed == request


async def test_an_unknown_request_is_a_404_error_array(client: httpx.AsyncClient) -> None:
    response = await client.get("/open311/v2/requests/WH-NOPE.json")
    assert response.status_code == 404
    assert response.json() == [{"code": 404, "description": "没有请求 WH-NOPE"}]


async def test_a_closing_reason_is_told_only_in_scope(
    client: httpx.AsyncClient, services: Services
) -> None:
    read, _, _ = _fakes(services)
    read.rows["WH-IN"] |= {"status": "withdrawn", "final_reason": "王女士已自行协商解决"}
    [public] = (await client.get("/open311/v2/requests/WH-IN.json")).json()
    assert public["status_notes"] is None
    mine = await client.get("/open311/v2/requests/WH-IN.json", params={"api_key": "tok-sec-in"})
    assert mine.json()[0]["status_notes"] == "王女士已自行协商解决"


async def test_services_carry_their_group_and_keywords(client: httpx.AsyncClient) -> None:
    services = (await client.get("/open311/v2/services.json")).json()
    by_code = {s["service_code"]: s for s in services}
    assert by_code["parking"]["group"] == "交通"
    assert "停车" in by_code["parking"]["keywords"].split(",")
    assert by_code["street_vendors"]["group"] == "城市管理"
    assert by_code["neighbour_dispute"]["group"] == "治安"
    assert all(s["group"] and s["keywords"] for s in services)


RULES = """
version = "test.1"

[fallback]
id = "fallback"
lead = "district_office"

[categories]
stray_dogs = { name = "流浪犬", group = "民生", keywords = ["流浪狗", "犬只"] }
potholes = "道路坑洼"
"""


@pytest.fixture
async def own_rules(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app started with ``WHISTLE_ROUTING_RULES_FILE`` set."""
    path = tmp_path / "rules.toml"
    path.write_text(RULES, encoding="utf-8")
    app = create_app(Settings(routing_rules_file=path), services=fake_services(), api=ApiSettings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http


async def test_services_are_those_of_the_rules_file_in_use(
    own_rules: httpx.AsyncClient,
) -> None:
    services = (await own_rules.get("/open311/v2/services.json")).json()
    assert services == [
        {
            "service_code": "potholes",
            "service_name": "道路坑洼",
            "description": "道路坑洼",
            "metadata": False,
            "type": "realtime",
            "keywords": "",
            "group": "",
        },
        {
            "service_code": "stray_dogs",
            "service_name": "流浪犬",
            "description": "流浪犬",
            "metadata": False,
            "type": "realtime",
            "keywords": "流浪狗,犬只",
            "group": "民生",
        },
    ]
    assert (await own_rules.get("/open311/v2/services/parking.json")).status_code == 404
    parking = await own_rules.post("/open311/v2/requests.json", data=FORM)
    assert parking.status_code == 400
    dogs = await own_rules.post(
        "/open311/v2/requests.json", data=FORM | {"service_code": "stray_dogs"}
    )
    assert dogs.status_code == 200, dogs.text


async def _post(client: httpx.AsyncClient, form: dict[str, str], **headers: str) -> httpx.Response:
    return await client.post("/open311/v2/requests.json", data=form, headers=headers)


async def test_a_retried_post_returns_the_first_request(
    client: httpx.AsyncClient, services: Services
) -> None:
    _, bus, keys = _fakes(services)
    [first] = (await _post(client, FORM)).json()
    [again] = (await _post(client, FORM)).json()
    assert again["service_request_id"] == first["service_request_id"]
    assert bus.sent[0].command_id == bus.sent[1].command_id  # the decider sees a duplicate
    [other] = (await _post(client, FORM | {"description": "另一处违停"})).json()
    assert other["service_request_id"] != first["service_request_id"]
    keys.now += RETRY_WINDOW + timedelta(seconds=1)
    [later] = (await _post(client, FORM)).json()
    assert later["service_request_id"] not in (
        first["service_request_id"],
        other["service_request_id"],
    )


async def test_a_retry_of_a_post_answered_with_a_token_gets_the_same_token(
    client: httpx.AsyncClient, services: Services
) -> None:
    _, bus, _ = _fakes(services)
    bus.mode = "timeout"
    [first] = (await _post(client, FORM)).json()
    bus.mode = "accept"
    [again] = (await _post(client, FORM)).json()
    assert again["service_request_id"] == first["token"]


async def test_the_idempotency_key_header_binds_a_post_to_its_first_request(
    client: httpx.AsyncClient, services: Services
) -> None:
    _, _, keys = _fakes(services)
    [first] = (await _post(client, FORM, **{"Idempotency-Key": "app-1"})).json()
    keys.now += RETRY_WINDOW * 10  # an explicit key does not expire
    [again] = (await _post(client, FORM, **{"Idempotency-Key": "app-1"})).json()
    assert again["service_request_id"] == first["service_request_id"]
    changed = await _post(client, FORM | {"description": "改了"}, **{"Idempotency-Key": "app-1"})
    assert changed.status_code == 422
    assert changed.json()[0]["code"] == 422
    [second] = (await _post(client, FORM, **{"Idempotency-Key": "app-2"})).json()
    assert second["service_request_id"] != first["service_request_id"]

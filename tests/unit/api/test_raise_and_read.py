"""Raising a whistle (idempotently), reading a case, its timeline and its past."""

from __future__ import annotations

import re

import httpx

from tests.unit.api.conftest import auth
from tests.unit.api.fakes import JINHAI, FakeBus, FakeRead
from whistle.api.deps import Services

SEC = auth("tok-sec-in")
BODY = {
    "category": "tourist_crowds",
    "title": "周末游客激增，海堤路拥堵",
    "address": "金海社区海堤路",
    "requester": {"name": "王女士", "phone": "13800000000"},
}


def bus(services: Services) -> FakeBus:
    assert isinstance(services.bus, FakeBus)
    return services.bus


async def test_a_secretary_raises_in_her_community_with_a_server_made_id(
    client: httpx.AsyncClient, services: Services
) -> None:
    response = await client.post("/v1/cases", json=BODY, headers=SEC)
    assert response.status_code == 201
    case_id = response.json()["case_id"]
    assert re.fullmatch(r"WH-\d{8}-[2-9A-Z]{10}", case_id)
    assert response.headers["location"] == f"/v1/cases/{case_id}"
    command = bus(services).sent[-1]
    assert (command.community, command.actor.user_id, command.channel) == (
        JINHAI,
        "sec-jinhai",
        "whistle",
    )


async def test_a_retried_post_with_the_same_key_returns_the_same_case(
    client: httpx.AsyncClient, services: Services
) -> None:
    headers = SEC | {"Idempotency-Key": "raise-42"}
    first = await client.post("/v1/cases", json=BODY, headers=headers)
    again = await client.post("/v1/cases", json=BODY, headers=headers)
    assert first.status_code == 201
    assert again.status_code == 200
    assert first.json()["case_id"] == again.json()["case_id"]
    assert again.json()["status"] == "duplicate"
    sent = bus(services).sent
    assert sent[0].command_id == sent[1].command_id


async def test_a_reused_key_with_another_body_is_refused(client: httpx.AsyncClient) -> None:
    headers = SEC | {"Idempotency-Key": "raise-43"}
    await client.post("/v1/cases", json=BODY, headers=headers)
    changed = await client.post("/v1/cases", json=BODY | {"title": "另一件事"}, headers=headers)
    assert changed.status_code == 422
    assert changed.json()["type"].endswith("idempotency_mismatch")


async def test_without_a_key_every_post_is_a_new_case(client: httpx.AsyncClient) -> None:
    one = await client.post("/v1/cases", json=BODY, headers=SEC)
    two = await client.post("/v1/cases", json=BODY, headers=SEC)
    assert one.json()["case_id"] != two.json()["case_id"]


async def test_a_case_reads_with_its_scope_fields(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/cases/WH-IN", headers=SEC)
    assert response.status_code == 200
    body = response.json()
    assert body["departments"] == ["urban_management", "public_security"]
    assert body["area"] == JINHAI


async def test_time_travel_folds_the_events_up_to_the_instant(client: httpx.AsyncClient) -> None:
    before = await client.get(
        "/v1/cases/WH-IN/at", params={"t": "2026-11-01T00:00:00Z"}, headers=SEC
    )
    assert before.status_code == 404
    after = await client.get(
        "/v1/cases/WH-IN/at", params={"t": "2026-11-21T00:00:00Z"}, headers=SEC
    )
    assert after.status_code == 200
    assert after.json()["state"]["status"] == "raised"
    assert after.json()["seq"] == 1


async def test_time_travel_needs_an_offset(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/v1/cases/WH-IN/at", params={"t": "2026-11-21T00:00:00"}, headers=SEC
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.t"


async def test_the_poll_target_of_a_202_shows_the_applied_command(
    client: httpx.AsyncClient,
) -> None:
    applied = await client.get("/v1/cases/WH-IN/commands/c1", headers=SEC)
    assert applied.status_code == 200
    assert applied.json()["events"][0]["type"] == "WhistleRaised"
    pending = await client.get("/v1/cases/WH-IN/commands/other", headers=SEC)
    assert pending.status_code == 404


async def test_metrics_accept_group_and_period_and_refuse_others(
    client: httpx.AsyncClient,
) -> None:
    ok = await client.get(
        "/v1/metrics", params={"group_by": "community", "period": "week"}, headers=SEC
    )
    assert ok.status_code == 200
    bad = await client.get("/v1/metrics", params={"group_by": "colour"}, headers=SEC)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.group_by"


async def test_supervisors_see_the_requester_masked(
    client: httpx.AsyncClient, services: Services
) -> None:
    read = services.read
    assert isinstance(read, FakeRead)
    read.events["WH-IN"][0]["body"]["requester"] = {"name": "王女士", "phone": "13800000000"}
    supervisor = await client.get("/v1/cases/WH-IN/timeline", headers=auth("tok-sup-street-in"))
    assert supervisor.json()["events"][0]["body"]["requester"] == {"name": "***", "phone": "***"}
    liaison = await client.get("/v1/cases/WH-IN/timeline", headers=auth("tok-liaison-in"))
    assert liaison.json()["events"][0]["body"]["requester"]["phone"] == "13800000000"


async def test_a_key_is_bound_only_to_a_valid_request(client: httpx.AsyncClient) -> None:
    headers = SEC | {"Idempotency-Key": "raise-44"}
    invalid = {k: v for k, v in BODY.items() if k != "address"}
    assert (await client.post("/v1/cases", json=invalid, headers=headers)).status_code == 422
    fixed = await client.post("/v1/cases", json=BODY, headers=headers)
    assert fixed.status_code == 201

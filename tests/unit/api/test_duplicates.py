"""``POST /v1/cases/{id}/duplicate`` checks its original before anything is sent."""

from __future__ import annotations

import httpx

from tests.unit.api.conftest import auth
from tests.unit.api.fakes import JINHAI, FakeBus, FakeRead, case_row
from whistle.api.deps import Services

SEC = auth("tok-sec-in")


def fakes(services: Services) -> tuple[FakeRead, FakeBus]:
    assert isinstance(services.read, FakeRead) and isinstance(services.bus, FakeBus)
    return services.read, services.bus


async def mark(client: httpx.AsyncClient, original: str, **headers: str) -> httpx.Response:
    return await client.post(
        "/v1/cases/WH-IN/duplicate", json={"original_case_id": original}, headers=SEC | headers
    )


async def test_an_original_in_scope_that_is_no_duplicate_is_sent(
    client: httpx.AsyncClient, services: Services
) -> None:
    read, bus = fakes(services)
    read.add(case_row("WH-FIRST", JINHAI, ["urban_management"]))
    response = await mark(client, "WH-FIRST")
    assert response.status_code == 200, response.text
    assert [c.original_case_id for c in bus.sent] == ["WH-FIRST"]


async def test_an_unknown_original_and_one_out_of_scope_are_refused_alike(
    client: httpx.AsyncClient, services: Services
) -> None:
    _, bus = fakes(services)
    unknown, hidden = (await mark(client, "WH-NOPE")).json(), (await mark(client, "WH-OUT")).json()
    assert unknown["status"] == hidden["status"] == 422
    assert unknown["code"] == hidden["code"] == "duplicate_of_unknown_case"
    assert hidden["detail"] == "案件 WH-OUT 不存在或不在您的权限范围内，不能作为原案件。"
    assert unknown["detail"] == hidden["detail"].replace("WH-OUT", "WH-NOPE")
    assert bus.sent == []
    admin = await client.post(
        "/v1/cases/WH-IN/duplicate",
        json={"original_case_id": "WH-OUT"},
        headers=auth("tok-admin"),
    )
    assert admin.status_code == 200, admin.text


async def test_no_chains_either_way(client: httpx.AsyncClient, services: Services) -> None:
    read, bus = fakes(services)
    read.add(case_row("WH-DUP", JINHAI, ["transport"], status="duplicate", duplicate_of="WH-X"))
    chained = await mark(client, "WH-DUP", **{"Accept-Language": "en"})
    assert chained.status_code == 409, chained.text
    assert chained.json()["code"] == "duplicate_of_duplicate"
    assert chained.json()["detail"] == (
        "Case WH-DUP is itself a duplicate; mark this case a duplicate of its original."
    )
    read.add(case_row("WH-FIRST", JINHAI, ["transport"]))
    read.add(case_row("WH-LATER", JINHAI, ["transport"], status="duplicate", duplicate_of="WH-IN"))
    original = await mark(client, "WH-FIRST")
    assert original.status_code == 409, original.text
    assert original.json()["code"] == "case_has_duplicates"
    assert "WH-FIRST" in original.json()["detail"] and "重复" in original.json()["detail"]
    assert bus.sent == []

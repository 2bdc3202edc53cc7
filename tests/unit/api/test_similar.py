"""``POST /v1/whistles/similar`` on the fakes: who may ask for which community, what comes back
(the in-memory read model applies the same candidate rule as the SQL: test_read_contract)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.unit.api.conftest import auth
from tests.unit.api.fakes import FENGXIANG, JINHAI, YUNXI, FakeRead, case_row
from whistle.api.deps import Services

PATH = "/v1/whistles/similar"
DRAFT = {
    "category": "parking",
    "title": "步道口乱停车",
    "description": "滨海步道入口的车越停越多，推婴儿车都过不去",
    "address": "滨海步道入口",
}
# token → (community named in the draft or None, status)
MATRIX: dict[tuple[str, str], dict[tuple[str, str | None], int]] = {
    ("POST", PATH): {
        ("tok-sec-in", None): 200,
        ("tok-sec-in", JINHAI): 200,
        ("tok-sec-in", YUNXI): 403,
        ("tok-sec-out", JINHAI): 403,
        ("tok-sec-neighbour", JINHAI): 403,
        ("tok-liaison-in", JINHAI): 403,
        ("tok-sup-street-in", JINHAI): 200,
        ("tok-sup-street-in", None): 422,
        ("tok-sup-district-in", JINHAI): 200,
        ("tok-sup-out", JINHAI): 403,
        ("tok-admin", JINHAI): 200,
        ("tok-admin", None): 422,
    }
}
"""Secretaries, supervisors and admins, for a community in their area (test_route_registry)."""


def add_cases(services: Services) -> None:
    """金海: a duplicate from yesterday, one from 20 days ago, a closed one, another problem; and
    the same text in 芸溪 and 凤祥."""
    assert isinstance(services.read, FakeRead)
    now = datetime.now(UTC)
    base = {
        "title": "滨海步道违停",
        "description": "滨海步道入口两侧每天晚上停满私家车，行人只能走机动车道",
        "address": "同安区大同街道金海社区滨海步道入口",
    }
    rows = [
        case_row("WH-DUP", JINHAI, ["transport"], raised_at=now - timedelta(days=1), **base),
        case_row("WH-OLD", JINHAI, ["transport"], raised_at=now - timedelta(days=20), **base),
        case_row(
            "WH-CLOSED",
            JINHAI,
            ["transport"],
            raised_at=now - timedelta(days=2),
            status="closed",
            **base,
        ),
        case_row(
            "WH-NOISE",
            JINHAI,
            ["environment"],
            raised_at=now - timedelta(days=1),
            category="square_dancing",
            title="金海广场广场舞噪音扰民",
            description="每晚音响很大",
            address="金海广场",
        ),
        case_row("WH-YUNXI", YUNXI, ["transport"], raised_at=now - timedelta(days=1), **base),
        case_row("WH-FX", FENGXIANG, ["transport"], raised_at=now - timedelta(days=1), **base),
    ]
    for row in rows:
        services.read.add(row)


@pytest.mark.parametrize(("token", "community"), sorted(MATRIX["POST", PATH], key=str))
async def test_who_may_ask_for_which_community(
    client: httpx.AsyncClient, services: Services, token: str, community: str | None
) -> None:
    add_cases(services)
    body = DRAFT | ({"community": community} if community else {})
    response = await client.post(PATH, json=body, headers=auth(token))
    assert response.status_code == MATRIX["POST", PATH][token, community], response.text
    if response.status_code == 200:
        assert [c["case_id"] for c in response.json()["items"]] == ["WH-DUP"]
    else:
        assert response.headers["content-type"] == "application/problem+json"


async def test_asking_needs_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.post(PATH, json=DRAFT)).status_code == 401


async def test_the_candidate_says_what_it_is_and_why(
    client: httpx.AsyncClient, services: Services
) -> None:
    add_cases(services)
    response = await client.post(PATH, json=DRAFT, headers=auth("tok-sec-in"))
    [item] = response.json()["items"]
    assert item["case_id"] == "WH-DUP" and item["status"] == "routed"
    assert item["lead_department"] == "transport" and item["title"] == "滨海步道违停"
    assert item["why"] == ["similar_text", "same_place"]
    assert item["why_text"] == "内容相似、地点相同"
    assert 0.4 <= item["score"] <= 1
    english = await client.post(
        PATH, json=DRAFT, headers=auth("tok-sec-in") | {"Accept-Language": "en"}
    )
    assert english.json()["items"][0]["why_text"] == "similar text, same place"


async def test_a_different_problem_elsewhere_finds_nothing(
    client: httpx.AsyncClient, services: Services
) -> None:
    add_cases(services)
    draft = {"category": "greening", "title": "海堤路行道树倾斜", "address": "海堤路12号"}
    response = await client.post(PATH, json=draft, headers=auth("tok-sec-in"))
    assert response.status_code == 200 and response.json()["items"] == []


async def test_an_empty_draft_is_refused_in_the_callers_language(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(PATH, json={"title": " "}, headers=auth("tok-sec-in"))
    assert response.status_code == 422
    assert "请至少填写" in response.text
    english = await client.post(
        PATH, json={}, headers=auth("tok-sec-in") | {"Accept-Language": "en"}
    )
    assert english.status_code == 422 and "Give a title" in english.text


async def test_limit_bounds_the_answer(client: httpx.AsyncClient, services: Services) -> None:
    add_cases(services)
    assert isinstance(services.read, FakeRead)
    now = datetime.now(UTC)
    for i in range(8):
        row = services.read.rows["WH-DUP"] | {"case_id": f"WH-D{i}", "raised_at": now}
        services.read.add(row)
    response = await client.post(PATH, json=DRAFT | {"limit": 3}, headers=auth("tok-sec-in"))
    assert len(response.json()["items"]) == 3
    too_many = await client.post(PATH, json=DRAFT | {"limit": 21}, headers=auth("tok-sec-in"))
    assert too_many.status_code == 422


@pytest.mark.parametrize(
    "wrong",
    [
        {"location": {"lat": 24.7, "lon": False}},
        {"location": {"lat": "24.7", "lon": 118.1}},
        {"location": {"lat": 24.7}},
        {"limit": "5"},
        {"title": 5},
        {"requester": {"name": "x"}},
    ],
)
async def test_a_draft_that_breaks_the_schema_is_refused(
    client: httpx.AsyncClient, wrong: dict[str, object]
) -> None:
    response = await client.post(PATH, json=DRAFT | wrong, headers=auth("tok-sec-in"))
    assert response.status_code == 422, response.text


async def test_a_draft_with_whole_numbers_for_coordinates_is_read(
    client: httpx.AsyncClient, services: Services
) -> None:
    add_cases(services)
    body = DRAFT | {"location": {"lat": 24, "lon": 118}}
    response = await client.post(PATH, json=body, headers=auth("tok-sec-in"))
    assert response.status_code == 200, response.text

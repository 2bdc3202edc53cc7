"""A whistle raised in a grid (网格), on the real worker, projector, API, Kafka and PostgreSQL.

The secretary of 金海社区 raises a case in 金海社区第一网格. The decider routes it by the grid's
own rule, the projector files it under the grid's dotted code, and every scope check sees it
from above: the community's secretary, the street's and the district's supervisors read it
(200), the secretary of 芸溪社区 next door does not (404); the metrics count it in 金海社区;
the console shows the grid's name. A grid that is not in the tree, or not in the community,
is refused with ``unknown_grid``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import unique_name
from tests.stack import JINHAI, Stack, eventually, run_cli, running_stack, scratch_database
from whistle.read.gateway import PgRead
from whistle.read.scope import CaseFilters, Scope

pytestmark = pytest.mark.integration

GRID = f"{JINHAI}.g01"
YUNXI = "tongan.datong.yunxi"
VANKE = "haicang.xinyang.xinyang.vanke"
CHINA = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def stack(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """worker + projector + API on a fresh database and topics."""
    tmp = tmp_path_factory.mktemp("grids")
    with (
        scratch_database(database_url, "grids") as dsn,
        running_stack(tmp, kafka_bootstrap, dsn, unique_name("grids")) as running,
    ):
        yield running


def add_user(stack: Stack, user_id: str, role: str, area: str) -> str:
    """A new user's token, made with ``whistle users add`` (the token is the last line)."""
    done = stack.cli("users", "add", user_id, "--role", role, "--area", area)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_a_case_in_a_grid_is_routed_by_the_grid_and_seen_from_above(stack: Stack) -> None:
    tokens = {
        "secretary": stack.tokens["secretary"],
        "district": stack.tokens["supervisor"],
        "street": add_user(stack, "sup-datong", "supervisor", "tongan.datong"),
        "neighbour": add_user(stack, "sec-yunxi", "secretary", YUNXI),
    }
    with httpx.Client(base_url=stack.base, timeout=90) as http:

        def get(path: str, who: str, **params: str) -> httpx.Response:
            headers = {"Authorization": f"Bearer {tokens[who]}"}
            return http.get(path, headers=headers, params=params)

        body = {
            "category": "parking",
            "title": "滨海步道违停",
            "address": "金海社区滨海步道",
            "grid": GRID,
        }
        auth = {"Authorization": f"Bearer {tokens['secretary']}"}
        raised = http.post("/v1/cases", json=body, headers=auth)
        assert raised.status_code == 201, raised.text
        case_id = raised.json()["case_id"]
        assert raised.json()["events"][0]["grid"] == GRID

        def routed() -> Any:
            got = get(f"/v1/cases/{case_id}", "secretary")
            return got.status_code == 200 and got.json()["status"] == "routed" and got.json()

        case = eventually(routed)
        assert (case["area"], case["community"], case["street"], case["district"]) == (
            GRID,
            JINHAI,
            "tongan.datong",
            "tongan",
        )
        # The grid's rule (城管 leads), not 金海社区's parking rule (交通 leads).
        assert case["lead_department"] == "urban_management"

        for who in ("secretary", "street", "district"):
            assert get(f"/v1/cases/{case_id}", who).status_code == 200, who
            assert get(f"/v1/cases/{case_id}/timeline", who).status_code == 200, who
            listed = get("/v1/cases", who).json()["items"]
            assert case_id in {c["case_id"] for c in listed}, who
        assert get(f"/v1/cases/{case_id}", "neighbour").status_code == 404
        assert get(f"/v1/cases/{case_id}/timeline", "neighbour").status_code == 404
        assert case_id not in {c["case_id"] for c in get("/v1/cases", "neighbour").json()["items"]}

        tomorrow = (datetime.now(CHINA) + timedelta(days=1)).date().isoformat()
        for range_ in (
            {},
            {"since": "2020-01-01T00:00:00+08:00", "until": tomorrow + "T00:00:00+08:00"},
        ):
            for who in ("secretary", "street", "district"):
                metrics = get("/v1/metrics", who, group_by="community", **range_)
                assert metrics.status_code == 200, metrics.text
                counts = {i["group"]: i["cases"] for i in metrics.json()["items"]}
                assert counts == {JINHAI: 1}, (who, range_, counts)
            hidden = get("/v1/metrics", "neighbour", group_by="community", **range_)
            assert hidden.json()["items"] == [], range_

        def listed_in(area: str) -> set[str]:
            return {c["case_id"] for c in get("/v1/cases", "district", area=area).json()["items"]}

        assert case_id in listed_in(GRID) and case_id in listed_in(JINHAI)
        assert case_id not in listed_in(f"{JINHAI}.g02")

        liaison = {"Authorization": f"Bearer {stack.tokens['liaison']}"}
        dispute = {"reason": "wrong_place", "text": "不在本部门辖区"}
        disputed = http.post(f"/v1/cases/{case_id}/dispute", json=dispute, headers=liaison)
        assert disputed.status_code == 200, disputed.text

        def awaiting(who: str) -> set[str]:
            return {d["case_id"] for d in get("/v1/disputes", who).json()["items"]}

        eventually(lambda: case_id in awaiting("street"))
        assert case_id in awaiting("district") and case_id in awaiting("secretary")
        assert case_id not in awaiting("neighbour")

        names = http.get("/v1/names").json()["areas"]
        assert names[GRID] == {
            "zh": "金海社区第一网格",
            "en": "Jinhai Community Grid 1",
            "kind": "grid",
        }

    console = stack.env | {"WHISTLE_API_URL": stack.base, "WHISTLE_TOKEN": tokens["street"]}
    shown = run_cli(console, "show", case_id)
    assert shown.returncode == 0, shown.stderr
    assert "社区  金海社区\n小区/网格  金海社区第一网格\n" in shown.stdout, shown.stdout


def test_a_grid_in_a_compound_lies_beneath_the_compound(stack: Stack) -> None:
    """万科城第一网格 is in 万科城: both the API's listing and the gateway over a connection
    filter by the compound find it."""
    body = {
        "community": "haicang.xinyang.xinyang",
        "compound": VANKE,
        "grid": f"{VANKE}.g01",
        "category": "square_dancing",
        "title": "广场舞噪音",
        "address": "万科城中心广场",
    }
    admin = {"Authorization": f"Bearer {stack.tokens['admin']}"}
    with httpx.Client(base_url=stack.base, timeout=90, headers=admin) as http:
        raised = http.post("/v1/cases", json=body)
        assert raised.status_code == 201, raised.text
        case_id = raised.json()["case_id"]

        def listed_in(area: str) -> set[str]:
            return {
                c["case_id"] for c in http.get("/v1/cases", params={"area": area}).json()["items"]
            }

        eventually(lambda: case_id in listed_in(VANKE))
        assert case_id in listed_in(f"{VANKE}.g01") and case_id not in listed_in(f"{VANKE}.g02")
    assert asyncio.run(queried_in(stack, VANKE)) >= {case_id}
    assert case_id not in asyncio.run(queried_in(stack, f"{VANKE}.g02"))


async def queried_in(stack: Stack, area: str) -> set[str]:
    """Case ids the read gateway lists within ``area``, read over one connection."""
    conn = await asyncpg.connect(stack.env["WHISTLE_DATABASE_URL"])
    try:
        rows = await PgRead(conn).cases(Scope(), CaseFilters(area=area))
    finally:
        await conn.close()
    return {r["case_id"] for r in rows}


@pytest.mark.parametrize(
    "grid", ["3号网格", f"{JINHAI}.g09", "haicang.xinyang.xinyang.vanke.g01", JINHAI]
)
def test_a_grid_not_in_the_community_is_refused(stack: Stack, grid: str) -> None:
    body = {"category": "parking", "title": "违停", "address": "金海社区", "grid": grid}
    headers = {"Authorization": f"Bearer {stack.tokens['secretary']}", "Accept-Language": "en"}
    refused = httpx.post(f"{stack.base}/v1/cases", json=body, headers=headers, timeout=90)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["code"] == "unknown_grid", problem
    assert grid in problem["detail"], problem

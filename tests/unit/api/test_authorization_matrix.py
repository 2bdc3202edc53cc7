"""Every role against every endpoint, inside and outside its scope.

The case WH-IN lies in 金海社区 (tongan.datong.jinhai), routed to urban_management (lead) and
public_security; WH-GRID lies in 金海社区第一网格 (tongan.datong.jinhai.g01), a grid of 金海, and
must be in the same scopes. Outside-scope callers (including the secretary of 芸溪社区, a
neighbour in the same street) get 404, in-scope callers whose role may not act get 403,
allowed callers get the decider's answer.
"""

from __future__ import annotations

import httpx
import pytest

from tests.unit.api.conftest import auth
from tests.unit.api.fakes import FENGXIANG, JINHAI, FakeRead, case_row, fake_services
from tests.unit.api.test_similar import MATRIX as SIMILAR_MATRIX
from whistle.api.app import create_app
from whistle.api.deps import Services
from whistle.settings import Settings

IN_SCOPE = {
    "secretary": "tok-sec-in",
    "liaison": "tok-liaison-in",
    "supervisor_street": "tok-sup-street-in",
    "supervisor_district": "tok-sup-district-in",
    "admin": "tok-admin",
}
OUT_OF_SCOPE = {
    "secretary": "tok-sec-out",
    "secretary_neighbour": "tok-sec-neighbour",
    "liaison": "tok-liaison-out",
    "supervisor": "tok-sup-out",
}
ROLE_OF = {
    "tok-sec-in": "secretary",
    "tok-liaison-in": "liaison",
    "tok-sup-street-in": "supervisor",
    "tok-sup-district-in": "supervisor",
    "tok-admin": "admin",
}
DEPT = "urban_management"
CASES = ["WH-IN", "WH-GRID"]


@pytest.fixture
def services() -> Services:
    """The fakes with the grid case as well."""
    return fake_services(grid_case=True)


# suffix → (roles allowed, a valid body)
COMMANDS: dict[str, tuple[set[str], dict[str, object]]] = {
    "/callback": (
        {"secretary", "supervisor", "admin"},
        {"solved": True, "satisfied": True, "score": 5},
    ),
    "/reopen": ({"secretary", "supervisor", "admin"}, {"reason": "居民不满意"}),
    "/close": ({"secretary", "supervisor", "admin"}, {}),
    "/withdraw": ({"secretary", "admin"}, {"reason": "已自行解决"}),
    "/publish": ({"secretary", "supervisor", "admin"}, {"summary": "整治完成"}),
    "/duplicate": ({"secretary", "supervisor", "admin"}, {"original_case_id": "WH-OTHER"}),
    "/merge": ({"secretary", "supervisor", "admin"}, {"original_case_id": "WH-OTHER"}),
    "/joint-action": (
        {"liaison", "secretary", "supervisor", "admin"},
        {"at": "2026-11-21T09:00:00+08:00", "place": "海堤路", "departments": [DEPT]},
    ),
    "/acknowledge": ({"liaison", "admin"}, {"department": DEPT}),
    "/dispute": (
        {"liaison", "admin"},
        {"department": DEPT, "reason": "wrong_function", "text": "不属于本部门职责"},
    ),
    "/contact": ({"liaison", "admin"}, {"department": DEPT}),
    "/report-in": ({"liaison", "admin"}, {"department": DEPT}),
    "/progress": ({"liaison", "admin"}, {"department": DEPT, "note": "已派人到场"}),
    "/complete": ({"liaison", "admin"}, {"department": DEPT, "summary": "已清理"}),
    "/extension": (
        {"liaison", "admin"},
        {"department": DEPT, "until": "2026-12-01T00:00:00+08:00", "reason": "需要协调"},
    ),
    "/resolve": ({"liaison", "supervisor", "admin"}, {"outcome": "solved", "summary": "已解决"}),
    "/pause": ({"liaison", "supervisor", "admin"}, {"reason": "等待居民回复"}),
    "/resume": ({"liaison", "supervisor", "admin"}, {}),
    "/dispute/ruling": ({"supervisor", "admin"}, {"department": DEPT, "outcome": "uphold"}),
    "/extension/grant": ({"supervisor", "admin"}, {"clock_key": f"resolve:{DEPT}"}),
    "/extension/refuse": (
        {"supervisor", "admin"},
        {"clock_key": f"resolve:{DEPT}", "reason": "理由不足"},
    ),
    "/escalate": ({"supervisor", "admin"}, {"step": "reminder", "tier": "street"}),
}
CASE_READS = ["", "/timeline", "/at?t=2026-11-21T00:00:00%2B08:00", "/commands/c1"]
COLLECTIONS = [
    "/v1/cases",
    "/v1/breaches",
    "/v1/disputes",
    "/v1/extensions",
    "/v1/metrics",
    "/v1/rankings",
]


def test_the_matrix_covers_every_case_liaison_and_supervisor_endpoint() -> None:
    paths = create_app(Settings()).openapi()["paths"]
    routes = {
        (method.upper(), path)
        for path, operations in paths.items()
        for method, operation in operations.items()
        if {"cases", "liaison", "supervisor"} & set(operation["tags"])
    }
    covered = {("POST", "/v1/cases/{case_id}" + s) for s in COMMANDS}
    covered |= {("GET", "/v1/cases/{case_id}" + s.split("?")[0]) for s in CASE_READS}
    covered |= {("GET", "/v1/cases/{case_id}/commands/{command_id}")}
    covered |= {("GET", p) for p in COLLECTIONS} | {("GET", "/v1/inbox"), ("POST", "/v1/cases")}
    covered.discard(("GET", "/v1/cases/{case_id}/commands/c1"))
    covered |= set(SIMILAR_MATRIX)  # every role and community: tests/unit/api/test_similar.py
    assert routes == covered


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("suffix", sorted(COMMANDS))
@pytest.mark.parametrize("who", sorted(IN_SCOPE))
async def test_commands_inside_scope_are_allowed_by_role(
    client: httpx.AsyncClient, services: Services, suffix: str, who: str, case: str
) -> None:
    assert isinstance(services.read, FakeRead)
    services.read.add(case_row("WH-OTHER", JINHAI, [DEPT]))  # the original of /duplicate, /merge
    roles, body = COMMANDS[suffix]
    token = IN_SCOPE[who]
    response = await client.post(f"/v1/cases/{case}{suffix}", json=body, headers=auth(token))
    expected = 200 if ROLE_OF[token] in roles else 403
    assert response.status_code == expected, response.text
    if expected == 403:
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("suffix", sorted(COMMANDS))
@pytest.mark.parametrize("who", sorted(OUT_OF_SCOPE))
async def test_commands_outside_scope_are_not_found(
    client: httpx.AsyncClient, suffix: str, who: str, case: str
) -> None:
    _, body = COMMANDS[suffix]
    response = await client.post(
        f"/v1/cases/{case}{suffix}", json=body, headers=auth(OUT_OF_SCOPE[who])
    )
    assert response.status_code == 404, response.text
    assert response.json()["type"].endswith("not_found")


@pytest.mark.parametrize("suffix", sorted(COMMANDS))
async def test_commands_without_a_token_are_unauthorized(
    client: httpx.AsyncClient, suffix: str
) -> None:
    response = await client.post(f"/v1/cases/WH-IN{suffix}", json=COMMANDS[suffix][1])
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("path", CASE_READS)
@pytest.mark.parametrize("who", sorted(IN_SCOPE))
async def test_case_reads_inside_scope(
    client: httpx.AsyncClient, path: str, who: str, case: str
) -> None:
    response = await client.get(f"/v1/cases/{case}{path}", headers=auth(IN_SCOPE[who]))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("path", CASE_READS)
@pytest.mark.parametrize("who", sorted(OUT_OF_SCOPE))
async def test_case_reads_outside_scope_are_not_found(
    client: httpx.AsyncClient, path: str, who: str, case: str
) -> None:
    response = await client.get(f"/v1/cases/{case}{path}", headers=auth(OUT_OF_SCOPE[who]))
    assert response.status_code == 404


@pytest.mark.parametrize("path", [*CASE_READS, "/acknowledge"])
async def test_unknown_case_and_out_of_scope_case_look_alike(
    client: httpx.AsyncClient, path: str
) -> None:
    method = "POST" if path == "/acknowledge" else "GET"
    token = auth("tok-liaison-out")
    missing = await client.request(method, f"/v1/cases/WH-NOPE{path}", headers=token, json={})
    hidden = await client.request(method, f"/v1/cases/WH-IN{path}", headers=token, json={})
    assert (missing.status_code, missing.json()["detail"]) == (
        hidden.status_code,
        hidden.json()["detail"],
    )


EXPECTED_LISTING = {
    "tok-sec-in": {"WH-IN", "WH-GRID"},
    "tok-sec-out": set(),
    "tok-sec-neighbour": set(),
    "tok-liaison-in": {"WH-IN", "WH-GRID"},
    "tok-liaison-out": set(),
    "tok-sup-street-in": {"WH-IN", "WH-GRID"},
    "tok-sup-district-in": {"WH-IN", "WH-GRID"},
    "tok-sup-out": {"WH-OUT"},
    "tok-admin": {"WH-IN", "WH-GRID", "WH-OUT"},
}


@pytest.mark.parametrize("token", sorted(EXPECTED_LISTING))
async def test_listings_show_only_the_callers_scope(client: httpx.AsyncClient, token: str) -> None:
    cases = await client.get("/v1/cases", headers=auth(token))
    assert {c["case_id"] for c in cases.json()["items"]} == EXPECTED_LISTING[token]
    breaches = await client.get("/v1/breaches", headers=auth(token))
    assert {b["case_id"] for b in breaches.json()["items"]} == EXPECTED_LISTING[token]
    for path in ("/v1/disputes", "/v1/extensions", "/v1/metrics", "/v1/rankings"):
        assert (await client.get(path, headers=auth(token))).status_code == 200


@pytest.mark.parametrize("token", sorted(EXPECTED_LISTING))
async def test_metrics_count_the_cases_in_the_callers_scope(
    client: httpx.AsyncClient, token: str
) -> None:
    metrics = await client.get("/v1/metrics", headers=auth(token))
    assert sum(i["cases"] for i in metrics.json()["items"]) == len(EXPECTED_LISTING[token])


@pytest.mark.parametrize("path", [*COLLECTIONS, "/v1/inbox"])
async def test_collections_need_a_token(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 401
    bad = await client.get(path, headers=auth("wh_not-a-token"))
    assert bad.status_code == 401
    assert bad.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("token", sorted(EXPECTED_LISTING))
async def test_only_liaisons_have_an_inbox(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get("/v1/inbox", headers=auth(token))
    if token.startswith("tok-liaison"):
        assert response.status_code == 200
        assert {c["case_id"] for c in response.json()["items"]} == EXPECTED_LISTING[token]
    else:
        assert response.status_code == 403


RAISE = {"category": "parking", "title": "游客激增", "address": "海堤路"}


@pytest.mark.parametrize(
    ("token", "community", "status"),
    [
        ("tok-sec-in", None, 201),
        ("tok-sec-in", JINHAI, 201),
        ("tok-sec-in", FENGXIANG, 403),
        ("tok-sec-out", None, 201),
        ("tok-admin", JINHAI, 201),
        ("tok-admin", None, 422),
        ("tok-liaison-in", JINHAI, 403),
        ("tok-sup-street-in", JINHAI, 403),
        ("tok-sup-out", JINHAI, 403),
    ],
)
async def test_who_may_raise_where(
    client: httpx.AsyncClient, token: str, community: str | None, status: int
) -> None:
    body = RAISE | ({"community": community} if community else {})
    response = await client.post("/v1/cases", json=body, headers=auth(token))
    assert response.status_code == status, response.text

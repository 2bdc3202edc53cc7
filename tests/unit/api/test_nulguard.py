"""NUL characters, which PostgreSQL cannot store, are refused with 422 wherever they come in
(found by the schemathesis run: a NUL in ``?area=`` answered 500)."""

from __future__ import annotations

import json

import httpx

from tests.unit.api.conftest import auth
from tests.unit.api.fakes import FakeBus
from whistle.api.deps import Services

RAISE = {"category": "parking", "title": "游客激增", "address": "海堤路"}


async def test_a_nul_in_the_query_names_the_parameter(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/cases?category=&area=%00x", headers=auth("tok-admin"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "query.area"


async def test_a_nul_in_the_path_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/cases/WH-%00", headers=auth("tok-admin"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "path"


async def test_a_nul_in_a_json_body_never_becomes_a_command(
    client: httpx.AsyncClient, services: Services
) -> None:
    body = json.dumps(RAISE | {"title": "游客\u0000激增"})
    headers = auth("tok-sec-in") | {"Content-Type": "application/json"}
    response = await client.post("/v1/cases", content=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "body", "message": response.json()["errors"][0]["message"]}
    ]
    assert isinstance(services.bus, FakeBus) and services.bus.sent == []


async def test_an_escaped_backslash_before_u0000_is_plain_text(client: httpx.AsyncClient) -> None:
    body = json.dumps(RAISE | {"title": "C:\\u0000 目录"})
    headers = auth("tok-sec-in") | {"Content-Type": "application/json"}
    response = await client.post("/v1/cases", content=body, headers=headers)
    assert response.status_code == 201, response.text


async def test_a_nul_in_an_open311_form_is_a_georeport_error(client: httpx.AsyncClient) -> None:
    form = {"api_key": "tok-sec-in", "service_code": "noise", "address_string": "海堤路\x00"}
    response = await client.post("/open311/v2/requests.json", data=form)
    assert response.status_code == 422
    assert response.json()[0]["code"] == 422
    assert "NUL" in response.json()[0]["description"]


async def test_a_nul_in_a_multipart_api_body_is_still_refused(
    client: httpx.AsyncClient, services: Services
) -> None:
    # only the pages' multipart forms (photos) pass unguarded: their fields drop NULs
    response = await client.post(
        "/v1/cases",
        data={"title": "游客\x00激增"},
        files={"x": ("x.bin", b"\x00", "application/octet-stream")},
        headers=auth("tok-sec-in"),
    )
    assert response.status_code == 422
    assert isinstance(services.bus, FakeBus) and services.bus.sent == []

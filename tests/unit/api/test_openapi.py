"""The checked-in OpenAPI document matches the code."""

from __future__ import annotations

import json

import httpx

from whistle.api.openapi import OPENAPI_PATH, render


def test_schemas_openapi_json_does_not_drift() -> None:
    assert OPENAPI_PATH.read_text(encoding="utf-8") == render(), (
        "schemas/openapi.json is stale: run `python -m whistle.api.openapi`"
    )


def test_the_document_is_openapi_3_1_with_problem_details() -> None:
    doc = json.loads(render())
    assert doc["openapi"].startswith("3.1")
    assert "Problem" in doc["components"]["schemas"]
    raise_whistle = doc["paths"]["/v1/cases"]["post"]
    assert {"201", "202", "401", "409", "422"} <= set(raise_whistle["responses"])
    assert "Location" in raise_whistle["responses"]["202"]["description"]
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_request_bodies_refuse_unknown_fields() -> None:
    schemas = json.loads(render())["components"]["schemas"]
    for name in ("RaiseWhistleRequest", "AcknowledgeRequest", "RecordCallbackRequest"):
        assert schemas[name]["additionalProperties"] is False, name


async def test_the_docs_page_is_served_without_a_cdn(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    assert "/docs/assets/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    script = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000

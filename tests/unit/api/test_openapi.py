"""The checked-in OpenAPI document matches the code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
from fastapi import Depends
from pydantic import BaseModel

from whistle.api.app import create_app
from whistle.api.deps import get_principal
from whistle.api.openapi import OPENAPI_PATH, render
from whistle.settings import Settings


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


class Note(BaseModel):
    """The body of a route added by a test."""

    text: str


READYZ_503 = ("/readyz", "get", "503")
"""The one error answer with a body of its own (which check failed), not a problem."""


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_error_response_has_the_content_type_it_really_has() -> None:
    doc = json.loads(render())
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    open311 = {
        "application/json": {
            "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Open311Error"}}
        }
    }
    for path, method, operation in operations(doc):
        for status, response in operation["responses"].items():
            if status[0] not in "45" or (path, method, status) == READYZ_503:
                continue
            expected = open311 if path.startswith("/open311/") else problem
            assert response["content"] == expected, (method, path, status)
    assert "HTTPValidationError" not in json.dumps(doc)


def test_every_status_the_middlewares_and_fastapi_answer_is_documented() -> None:
    for path, method, operation in operations(json.loads(render())):
        documented = set(operation["responses"])
        assert "422" in documented, (method, path)
        if "requestBody" in operation:
            assert {"400", "413"} <= documented, (method, path)
        if operation.get("security"):
            assert "401" in documented, (method, path)
            assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
        if "{" in path:
            assert "404" in documented, (method, path)
        if path.startswith(("/v1/cases", "/v1/webhooks", "/open311/")):
            for status in ("429", "503"):
                assert "Retry-After" in operation["responses"][status]["headers"], (path, status)


def test_a_new_route_gets_its_errors_documented_without_listing_them() -> None:
    app = create_app(Settings())

    @app.post("/v1/notes/{note_id}", dependencies=[Depends(get_principal)])
    async def add_note(note_id: str, note: Note) -> Note:
        return note

    responses = app.openapi()["paths"]["/v1/notes/{note_id}"]["post"]["responses"]
    assert {"400", "401", "404", "413", "422", "429", "503"} <= set(responses)
    for status in ("400", "401", "404", "413", "422", "429", "503"):
        assert list(responses[status]["content"]) == ["application/problem+json"], status

"""OpenAPI links: from a raised whistle to every operation on its case, so that clients and
stateful testers (schemathesis) can follow ``case_id`` from ``POST /v1/cases``."""

from __future__ import annotations

from typing import Any

RAISE_PATH = "/v1/cases"
CASE_PARAMETER = "{case_id}"


def add_case_links(doc: dict[str, Any]) -> None:
    """Add, to the success responses of raising a whistle, a link to each case operation."""
    paths = doc.get("paths", {})
    raised = paths.get(RAISE_PATH, {}).get("post")
    if raised is None:
        return
    links = {
        operation["operationId"]: {
            "operationId": operation["operationId"],
            "parameters": {"case_id": "$response.body#/case_id"},
        }
        for path, operations in sorted(paths.items())
        if CASE_PARAMETER in path
        for operation in operations.values()
        if "operationId" in operation
    }
    for status in ("200", "201", "202"):
        response = raised.get("responses", {}).get(status)
        if response is not None:
            response["links"] = links

"""The error responses of the OpenAPI document, in one place, as the app really answers them.

Routes declare only the errors their own logic raises (``problems.problem_responses(403, 404,
409)``). Everything the middlewares, FastAPI and the problem handlers can answer on any route is
added here from the shape of each operation, so a new route is documented right without listing
them: 422 everywhere (parameter validation, NUL characters), 400 and 413 where there is a request
body (a body that does not parse; over the size limit), 401 where a bearer token is required,
404 where the path has parameters (a value that matches no route), 429 and 503 with
``Retry-After`` where load shedding applies. Every error response gets the body it really has:
``application/problem+json`` with ``Problem``, or under ``/open311/`` GeoReport v2's array of
``{code, description}`` as ``application/json``. FastAPI's own 422 (``HTTPValidationError``),
which the API never sends, is replaced.
"""

from __future__ import annotations

import json
from typing import Any

from whistle.api.open311 import Open311Error
from whistle.api.overload import EXEMPT_PREFIXES, RETRY_AFTER_HEADER
from whistle.api.problems import DESCRIPTIONS, OPEN311_PREFIX, PROBLEM_JSON

SCHEMAS = "#/components/schemas/"
ERROR_SCHEMAS = ("Problem", "Open311Error", "HTTPValidationError")
"""Bodies of error responses that this module owns (anything else, e.g. ``/readyz``'s 503
``Readiness``, is left as the route declares it)."""
FASTAPI_ONLY = ("HTTPValidationError", "ValidationError")
WWW_AUTHENTICATE = {
    "description": '`Bearer realm="whistle"`',
    "schema": {"type": "string"},
}
HEADERS: dict[str, dict[str, Any]] = {
    "401": {"WWW-Authenticate": WWW_AUTHENTICATE},
    "429": {"Retry-After": RETRY_AFTER_HEADER},
    "503": {"Retry-After": RETRY_AFTER_HEADER},
}


def error_content(path: str) -> dict[str, Any]:
    """The ``content`` of an error response of ``path``: problem+json, or Open311's array."""
    if path.startswith(OPEN311_PREFIX):
        schema = {"type": "array", "items": {"$ref": SCHEMAS + "Open311Error"}}
        return {"application/json": {"schema": schema}}
    return {PROBLEM_JSON: {"schema": {"$ref": SCHEMAS + "Problem"}}}


def generic_statuses(path: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses any operation shaped like ``operation`` can answer."""
    statuses = {422}
    if "requestBody" in operation:
        statuses |= {400, 413}
    if operation.get("security"):
        statuses.add(401)
    if any(p.get("in") == "path" for p in operation.get("parameters", ())):
        statuses.add(404)
    if not path.startswith(EXEMPT_PREFIXES):
        statuses |= {429, 503}
    return statuses


def is_error_body(response: dict[str, Any]) -> bool:
    """Whether ``response`` has no body documented or one of the error bodies owned here."""
    content = json.dumps(response.get("content") or {})
    return content == "{}" or any(f'"{SCHEMAS}{name}"' in content for name in ERROR_SCHEMAS)


def document_operation(path: str, operation: dict[str, Any]) -> None:
    """Add the generic error statuses to one operation and give each error its real body."""
    responses = operation.setdefault("responses", {})
    for status in sorted(generic_statuses(path, operation)):
        responses.setdefault(str(status), {"description": DESCRIPTIONS[status]})
    for code, response in responses.items():
        if code[0] not in "45" or not is_error_body(response):
            continue
        if response.get("description") == "Validation Error":  # FastAPI's own
            response["description"] = DESCRIPTIONS[422]
        response["content"] = error_content(path)
        if code in HEADERS:
            response["headers"] = response.get("headers", {}) | HEADERS[code]


def document_errors(doc: dict[str, Any]) -> None:
    """Document every error response of every operation of ``doc`` (see the module's doc)."""
    for path, operations in doc.get("paths", {}).items():
        for operation in operations.values():
            document_operation(path, operation)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault(
        "Open311Error", Open311Error.model_json_schema(ref_template=SCHEMAS + "{model}")
    )
    if f'"{SCHEMAS}HTTPValidationError"' not in json.dumps(doc.get("paths", {})):
        for name in FASTAPI_ONLY:
            schemas.pop(name, None)


def without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` of a parameter without FastAPI's ``{"type": "null"}`` branch: a query, path or
    header value is a string on the wire and cannot be null (leaving it out is ``required:
    false``), so the branch only misleads clients and generators."""
    options = [o for o in schema.get("anyOf", ()) if o.get("type") != "null"]
    if "anyOf" not in schema or len(options) != 1:
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return rest | options[0]


def document_parameters(doc: dict[str, Any]) -> None:
    """Drop the null branch of every parameter's schema (see ``without_null``)."""
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", ()):
                if "schema" in parameter:
                    parameter["schema"] = without_null(parameter["schema"])

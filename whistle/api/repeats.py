"""Refuse a query parameter given twice where the document says it takes one value, or one
without a name.

FastAPI keeps the last of ``?category=a&category=b`` and drops the rest, so the caller never
learns that half the request was ignored; the OpenAPI document says which parameters are lists,
and this dependency (on every route) answers 422 for a repeated one that is not.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import Request

from whistle.api.i18n import FIELD_MESSAGES, text
from whistle.api.problems import FieldError, ProblemError, request_lang


def takes_many(schema: dict[str, Any]) -> bool:
    """Whether a parameter schema allows an array (``type: array``, or one of ``anyOf``)."""
    options = [schema, *schema.get("anyOf", ()), *schema.get("oneOf", ())]
    return any(option.get("type") == "array" for option in options)


def operation_of(request: Request) -> dict[str, Any] | None:
    """The OpenAPI operation of the matched route (None for routes outside the document)."""
    route = request.scope.get("route")
    paths = request.app.openapi().get("paths", {})
    found: dict[str, Any] | None = paths.get(getattr(route, "path", None), {}).get(
        request.method.lower()
    )
    return found


def query_parameters(request: Request) -> list[dict[str, Any]]:
    """The documented query parameters of the matched operation."""
    operation = operation_of(request) or {}
    return [p for p in operation.get("parameters", ()) if p.get("in") == "query"]


def many_valued(request: Request) -> frozenset[str]:
    """The query parameters of the matched operation that take a list."""
    return frozenset(
        p["name"] for p in query_parameters(request) if takes_many(p.get("schema", {}))
    )


def unknown_parameters(request: Request, names: set[str]) -> list[str]:
    """Names the operation does not document (its value would be silently ignored).

    Not under ``/open311/`` (GeoReport clients send parameters of their own, such as
    ``jurisdiction_id``, that the spec lets a server ignore), nor on the pages outside the
    document (the dashboard's ``?lang=``)."""
    if request.url.path.startswith("/open311/") or operation_of(request) is None:
        return []
    known = {p["name"] for p in query_parameters(request)}
    return sorted(names - known - {""})


async def refuse_repeated_parameters(request: Request) -> None:
    """422 with one field error per query parameter that appears more than once and is not
    documented as a list (an undocumented one included: its values would be dropped too), and
    for a parameter without a name (``?=x``, dropped just the same)."""
    if not request.scope.get("query_string"):
        return  # most requests: nothing to look up in the document
    counts = Counter(name for name, _ in request.query_params.multi_items())
    repeated = {name for name, n in counts.items() if n > 1}
    errors = []
    lang = request_lang(request)
    if "" in counts:
        errors.append(FieldError(field="query", message=text(FIELD_MESSAGES, "no_name", lang)))
    unknown = unknown_parameters(request, set(counts))
    message = text(FIELD_MESSAGES, "unknown_parameter", lang)
    errors += [FieldError(field=f"query.{name}", message=message) for name in unknown]
    repeated -= set(unknown)
    if repeated:
        message = text(FIELD_MESSAGES, "repeated", lang)
        names = sorted(repeated - many_valued(request) - {""})
        errors += [FieldError(field=f"query.{name}", message=message) for name in names]
    if errors:
        raise ProblemError(422, "validation", errors=errors)

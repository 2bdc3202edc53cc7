"""Refuse NUL characters (U+0000) in the query, path and body with 422: PostgreSQL cannot store
them in text, so one that reached a query failed with 500, and one inside a command would reach
the event log and then every projection of it."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from whistle.api.problems import FieldError, ProblemError, problem_response

# a JSON \u0000 escape (not an escaped backslash before "u0000"), or %00 in a form body
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_FORM_NUL = re.compile(rb"%00|\x00")
_TAIL = 16  # bytes of the previous chunk kept, so that a split escape is still seen
BINARY_BODIES = frozenset({"/v1/attachments"})
"""Paths whose body is a file (a photo upload): its bytes are not text to guard."""
API_PREFIXES = ("/v1/", "/open311/")
"""A page's multipart form (photos with its fields) is not guarded here: its photos are bytes,
and ``whistle.web.pages.FormPage.value`` drops NUL characters from its text fields."""


def _refuse(field: str) -> ProblemError:
    message = "不能包含 NUL 字符（U+0000） / must not contain NUL characters (U+0000)"
    return ProblemError(422, "validation", errors=[FieldError(field=field, message=message)])


def nul_field(scope: Scope) -> str | None:
    """The first query parameter (or the path) that carries a NUL character, if any."""
    if "\x00" in unquote(scope.get("path", "")):
        return "path"
    query = scope.get("query_string", b"").decode("latin-1")
    if "%00" not in query and "\x00" not in query:
        return None
    for name, value in parse_qsl(query, keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return f"query.{name.replace(chr(0), '')}"
    return "query"


class NulGuard:
    """422 for NUL characters: in the query or path at once; in a JSON or form body while the
    app reads it (raised inside the app, so that its problem handler answers)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        field = nul_field(scope)
        if field is not None:
            error = _refuse(field)
            response = problem_response(Request(scope), 422, error.kind, errors=error.errors)
            await response(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").lower()
        path = str(scope.get("path", ""))
        page_files = content_type.startswith(b"multipart/") and not path.startswith(API_PREFIXES)
        if path in BINARY_BODIES or page_files:
            await self.app(scope, receive, send)
            return
        pattern = _JSON_NUL if b"json" in content_type else _FORM_NUL
        tail = b""

        async def checked_receive() -> Message:
            nonlocal tail
            message = await receive()
            if message["type"] == "http.request":
                chunk = tail + message.get("body", b"")
                if pattern.search(chunk):
                    raise _refuse("body")
                tail = chunk[-_TAIL:]
            return message

        await self.app(scope, checked_receive, send)


NO_NUL = "^[^\\u0000]*$"
"""The pattern the document gives every free-form request string: what this guard enforces."""
_CONSTRAINED = frozenset({"pattern", "format", "enum", "const"})
_NESTED = ("anyOf", "oneOf", "allOf", "prefixItems")


def _forbid_nul(schema: Any, components: dict[str, Any], seen: set[str]) -> None:
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[1]
        if name not in seen:
            seen.add(name)
            _forbid_nul(components.get(name), components, seen)
    if schema.get("type") == "string" and not _CONSTRAINED & schema.keys():
        schema["pattern"] = NO_NUL
    children = [schema.get("items"), schema.get("additionalProperties")]
    children += [sub for key in _NESTED for sub in schema.get(key, ())]
    children += list(schema.get("properties", {}).values())
    for child in children:
        _forbid_nul(child, components, seen)


def document_nul_refusal(doc: dict[str, Any]) -> None:
    """Say in the document what the guard does: free-form strings of parameters and request
    bodies (and the schemas they refer to) match ``NO_NUL``; others are constrained already."""
    components = doc.get("components", {}).get("schemas", {})
    seen: set[str] = set()
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", ()):
                _forbid_nul(parameter.get("schema"), components, seen)
            for media in operation.get("requestBody", {}).get("content", {}).values():
                _forbid_nul(media.get("schema"), components, seen)

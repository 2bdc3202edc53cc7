"""RFC 9457 problem details: the one error shape of the API, and the handlers that produce it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from whistle.api.i18n import DETAILS, FIELD_MESSAGES, TITLES, Lang, negotiate, text
from whistle.api.starlette_adapter import fully_matches
from whistle.logs import get_logger

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:whistle:problem:"
OPEN311_PREFIX = "/open311/"

log = get_logger()


class FieldError(BaseModel):
    """One invalid field: where (dotted path; ``query.``/``header.`` prefix outside the body)."""

    field: str
    message: str


class Problem(BaseModel):
    """application/problem+json (RFC 9457), with ``code`` and ``errors`` extensions."""

    type: str = Field(examples=["urn:whistle:problem:validation"])
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    code: str | None = Field(default=None, description="Stable machine code (rejections).")
    params: dict[str, str] | None = Field(
        default=None,
        description="A rejection's parameters (department, clock, case id): `detail` is the "
        "code's message filled with them, in the caller's language.",
    )
    errors: list[FieldError] | None = None


class ProblemError(StarletteHTTPException):
    """Raise to answer with a problem; ``kind`` names the title and the type URI.

    An HTTPException, so that FastAPI lets it through while it reads a body (413 mid-stream).
    """

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str | None = None,
        *,
        detail_key: str | None = None,
        detail_values: dict[str, object] | None = None,
        code: str | None = None,
        params: dict[str, str] | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, detail, headers)
        self.status = status
        self.kind = kind
        self.problem_detail = detail
        self.detail_key = detail_key
        self.detail_values = detail_values or {}
        self.code = code
        self.params = params
        self.errors = errors


def request_lang(request: Request) -> Lang:
    """The language the caller asked for."""
    return negotiate(request.headers.get("accept-language"))


def problem_response(
    request: Request,
    status: int,
    kind: str,
    detail: str | None = None,
    *,
    code: str | None = None,
    params: dict[str, str] | None = None,
    errors: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """Build the problem+json response for ``kind`` in the caller's language."""
    lang = request_lang(request)
    if request.url.path.startswith(OPEN311_PREFIX):
        return _open311_error(status, detail or text(TITLES, kind, lang), errors, headers)
    body = Problem(
        type=TYPE_PREFIX + (code or kind),
        title=text(TITLES, kind if kind in TITLES else "bad_request", lang),
        status=status,
        detail=detail,
        instance=request.url.path,
        code=code,
        params=params,
        errors=errors,
    )
    headers = dict(headers or {})
    headers["Content-Language"] = "en" if lang == "en" else "zh-CN"
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _open311_error(
    status: int,
    description: str,
    errors: list[FieldError] | None,
    headers: Mapping[str, str] | None,
) -> JSONResponse:
    """GeoReport v2 errors: an array of ``{code, description}``, one per invalid field."""
    items = [{"code": status, "description": f"{e.field}: {e.message}"} for e in errors or []]
    return JSONResponse(
        items or [{"code": status, "description": description}],
        status_code=status,
        headers=dict(headers or {}),
    )


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "requester", "phone")`` → ``requester.phone``; keeps ``query.``/``path.``."""
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or "body"


def field_errors(raw: list[Any], lang: Lang) -> list[FieldError]:
    """Field-level messages from pydantic errors, translated where we know the error type."""
    out: list[FieldError] = []
    for err in raw:
        kind = str(err.get("type", ""))
        ctx = dict(err.get("ctx") or {})
        if kind in FIELD_MESSAGES and (kind != "value_error" or "error" in ctx):
            message = text(FIELD_MESSAGES, kind, lang, **ctx)
        else:
            message = str(err.get("msg", kind))
        message = message.removeprefix("Value error, ")
        out.append(FieldError(field=field_path(err.get("loc", ())), message=message))
    return out


async def _problem_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    detail = exc.problem_detail
    if detail is None and exc.detail_key:
        detail = text(DETAILS, exc.detail_key, request_lang(request), **exc.detail_values)
    return problem_response(
        request,
        exc.status,
        exc.kind,
        detail,
        code=exc.code,
        params=exc.params,
        errors=exc.errors,
        headers=exc.headers,
    )


async def validation_problem(request: Request, exc: Exception) -> JSONResponse:
    """A request that does not validate, as problem+json with each field's error."""
    assert isinstance(exc, RequestValidationError)
    errors = field_errors(list(exc.errors()), request_lang(request))
    return problem_response(request, 422, "validation", errors=errors)


_HTTP_KINDS = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}


_HTTP_DETAILS = {400: "body_unparsable", 404: "route_not_found"}
"""Plain HTTP errors of the framework: a 400 only ever means a body that does not parse (not
UTF-8, a broken form), a 404 a path that matches no route."""


HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> str:
    """The ``Allow`` header of a 405: every method some route answers on this path, not only
    those of the first route that matched it (GET and POST of one path are two routes)."""
    routes = request.app.router.routes
    allowed = [
        method
        for method in HTTP_METHODS
        if any(fully_matches(route, {**request.scope, "method": method}) for route in routes)
    ]
    return ", ".join(allowed)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    kind = _HTTP_KINDS.get(exc.status_code, "bad_request")
    lang = request_lang(request)
    key = _HTTP_DETAILS.get(exc.status_code)
    detail = text(DETAILS, key, lang) if key else None
    if detail is None and isinstance(exc.detail, str) and exc.detail:
        detail = exc.detail
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request)
    return problem_response(request, exc.status_code, kind, detail, headers=headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", path=request.url.path, error=type(exc).__name__)
    detail = text(DETAILS, "internal", request_lang(request))
    return problem_response(request, 500, "internal", detail)


def install_problem_handlers(app: FastAPI) -> None:
    """Replace FastAPI's default error bodies with problem+json everywhere."""
    app.add_exception_handler(ProblemError, _problem_error)
    app.add_exception_handler(RequestValidationError, validation_problem)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


DESCRIPTIONS: dict[int, str] = {
    400: "Bad request, or a body that does not parse (not UTF-8 JSON / not a form)",
    401: "Missing or invalid bearer token",
    403: "The caller's role or scope does not allow this",
    404: "No such resource in the caller's scope",
    409: "Rejected by the decider: conflicts with the case's state (code, message)",
    413: "Body over the size limit",
    422: "Invalid input (errors per field) or a rejection of an invalid command",
    429: "At capacity: too many requests in flight (Retry-After)",
    503: "Not ready, or Kafka/PostgreSQL unreachable (Retry-After)",
}
"""What each error status means, for the OpenAPI document."""


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting problem+json for ``statuses``.

    Routes list only what their own logic raises (403, 404, 409, a 422 rejection); the statuses
    every route of its shape can answer are added by ``errordocs.document_errors``.
    """
    return {
        s: {
            "description": DESCRIPTIONS.get(s, "Problem"),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for s in statuses
    }

"""The five hot reads served without FastAPI's routing and dependency resolution.

``GET /v1/cases/{id}``, ``/v1/cases/{id}/timeline``, ``/v1/cases``, ``/v1/inbox`` and
``/v1/breaches`` are most of what clients poll, and FastAPI's routing, dependency solving and
parameter validation were a third of the API's CPU under the read mix (docs/benchmarks.md, API).
This ASGI app sits in front of the router, inside the middlewares and the exception handlers,
so load shedding, the size and NUL guards, ``Server-Timing`` and the problem+json answers
(401, 403, 404, 503) stay exactly what they are. It serves only the plain form of each read:
GET, a case id the route accepts, no query parameters beyond ``limit``/``offset`` in their
documented ranges. Anything else — HEAD, other parameters, a value FastAPI would refuse with
422 — goes to the FastAPI route, which stays the one documented in ``/openapi.json``.
The handlers' logic is the routes' own (same functions), so the answers are the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.security.utils import get_authorization_scheme_param
from pydantic_core import to_json
from starlette.types import ASGIApp, Receive, Scope, Send

from whistle.api.cases import timeline_payload
from whistle.api.deps import UNAUTHORIZED, Services, visible_case
from whistle.api.identity import Principal
from whistle.api.liaison import inbox_filters
from whistle.api.problems import ProblemError
from whistle.read.scope import CaseFilters, Row
from whistle.read.scope import Scope as ReadScope

CASES = "/v1/cases"
CASE_PREFIX = "/v1/cases/"
TIMELINE_SUFFIX = "/timeline"
MAX_CASE_ID = 64
"""As the routes' ``CaseId`` (longer: 422 from FastAPI)."""
PAGING = {b"limit": (1, 500), b"offset": (0, 100_000)}
"""The routes' ``limit``/``offset`` bounds (outside them: 422 from FastAPI)."""
_NUMBER = re.compile(rb"0|[1-9][0-9]{0,5}")
HEADERS = [(b"content-type", b"application/json")]
MAX_ENCODED = 1024

Read = Callable[[Services, Principal], Awaitable[bytes]]


def paging(query: bytes) -> tuple[int, int] | None:
    """``(limit, offset)`` of a query string that names nothing else, each once and as plain
    digits within bounds; None for anything else (left to FastAPI)."""
    values = {b"limit": 50, b"offset": 0}
    seen: set[bytes] = set()
    for part in query.split(b"&") if query else ():
        name, equals, value = part.partition(b"=")
        if name not in PAGING or name in seen or not equals or not _NUMBER.fullmatch(value):
            return None
        low, high = PAGING[name]
        if not low <= int(value) <= high:
            return None
        seen.add(name)
        values[name] = int(value)
    return values[b"limit"], values[b"offset"]


async def authenticate(services: Services, scope: Scope) -> Principal:
    """The caller, as ``deps.get_principal`` finds it (first Authorization header, Bearer)."""
    authorization = next(
        (v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None
    )
    scheme, token = get_authorization_scheme_param(authorization)
    if not (authorization and scheme and token) or scheme.lower() != "bearer":
        raise ProblemError(401, "unauthorized", detail_key="missing_token", headers=UNAUTHORIZED)
    principal = await services.users.principal(token)
    if principal is None:
        raise ProblemError(401, "unauthorized", detail_key="bad_token", headers=UNAUTHORIZED)
    return principal


class EncodedRows:
    """The JSON of a page of rows, kept while the read cache hands out the very same list.

    ``CachedReadModel`` returns one list object per scope and filters for its lifetime, so
    the bytes made from it stay right for exactly as long; a new list is encoded again."""

    def __init__(self) -> None:
        self._entries: dict[Any, tuple[list[Row], bytes]] = {}

    def encode(self, key: Any, rows: list[Row], payload: Row) -> bytes:
        """``to_json(payload)``, reused while ``rows`` is the list it was made from."""
        entry = self._entries.get(key)
        if entry is not None and entry[0] is rows:
            return entry[1]
        if len(self._entries) >= MAX_ENCODED:
            self._entries.clear()
        body = to_json(payload)
        self._entries[key] = (rows, body)
        return body


class DirectReads:
    """ASGI app in front of the FastAPI router: the plain hot reads, the rest to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.encoded = EncodedRows()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        read = self.match(scope) if scope["type"] == "http" else None
        if read is None:
            await self.app(scope, receive, send)
            return
        services: Services = scope["app"].state.services
        body = await read(services, await authenticate(services, scope))
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(body)).encode()), *HEADERS],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def match(self, scope: Scope) -> Read | None:
        """The read for this request, or None when FastAPI should answer it."""
        if scope["method"] != "GET" or scope.get("root_path"):
            return None
        path: str = scope["path"]
        if path == CASES or path == "/v1/inbox":
            page = paging(scope["query_string"])
            if page is None:
                return None
            return self.page(path, *page)
        if scope["query_string"]:
            return None  # FastAPI answers parameters these reads do not take (422)
        if path == "/v1/breaches":
            return self.breaches
        if not path.startswith(CASE_PREFIX):
            return None
        case_id = path[len(CASE_PREFIX) :]
        timeline = case_id.endswith(TIMELINE_SUFFIX)
        if timeline:
            case_id = case_id[: -len(TIMELINE_SUFFIX)]
        if not case_id or "/" in case_id or len(case_id) > MAX_CASE_ID:
            return None
        return self.timeline(case_id) if timeline else self.case(case_id)

    @staticmethod
    def case(case_id: str) -> Read:
        """``GET /v1/cases/{case_id}`` (``cases.get_case``)."""

        async def read(services: Services, principal: Principal) -> bytes:
            return to_json(await visible_case(services, principal, case_id))

        return read

    @staticmethod
    def timeline(case_id: str) -> Read:
        """``GET /v1/cases/{case_id}/timeline`` (``cases.get_timeline``)."""

        async def read(services: Services, principal: Principal) -> bytes:
            return to_json(await timeline_payload(services, principal, case_id))

        return read

    def page(self, path: str, limit: int, offset: int) -> Read:
        """``GET /v1/cases`` (``cases.list_cases``) or ``/v1/inbox`` (``liaison.inbox``)."""

        async def read(services: Services, principal: Principal) -> bytes:
            if path == CASES:
                filters = CaseFilters(limit=limit, offset=offset)
            else:
                filters = inbox_filters(principal, None, limit, offset)
            scope = ReadScope.of(principal)
            rows = await services.read.cases(scope, filters)
            payload = {"items": rows, "limit": limit, "offset": offset}
            return self.encoded.encode((scope, filters), rows, payload)

        return read

    async def breaches(self, services: Services, principal: Principal) -> bytes:
        """``GET /v1/breaches`` (``supervisor.breaches``)."""
        scope = ReadScope.of(principal)
        rows = await services.read.breaches(scope)
        return self.encoded.encode(("breaches", scope), rows, {"items": rows})

"""Load shedding: a bounded number of requests in flight per process, and 503 when Kafka or
PostgreSQL cannot be reached. Both answer problem+json with ``Retry-After`` at once, so that an
overloaded API stays responsive and its memory bounded instead of queueing without limit."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from whistle.api.i18n import DETAILS, negotiate, text
from whistle.api.limits import send_problem
from whistle.api.problems import problem_response
from whistle.logs import get_logger

log = get_logger()

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
EXEMPT_PREFIXES = ("/healthz", "/readyz", "/openapi.json", "/docs", "/dashboard", "/v1/stream/")
"""Probes, documents and long-lived streams never count against the limits."""
RETRY_AFTER_HEADER = {
    "description": "Seconds to wait before trying again (`WHISTLE_API_RETRY_AFTER_S`).",
    "schema": {"type": "integer"},
}

POSTGRES_DOWN: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.QueryCanceledError,
)
"""PostgreSQL errors that mean "not now" rather than "wrong request"."""
NETWORK_DOWN: tuple[type[Exception], ...] = (ConnectionError, TimeoutError, socket.gaierror)
"""Refused or reset connections, connect timeouts, names that do not resolve."""


@dataclass
class Gate:
    """A counter of requests in flight with an upper bound (one event loop: no lock needed)."""

    limit: int
    in_flight: int = 0
    shed: int = 0

    def enter(self) -> bool:
        """Take a place, or False when all ``limit`` places are taken."""
        if self.in_flight >= self.limit:
            self.shed += 1
            return False
        self.in_flight += 1
        return True

    def leave(self) -> None:
        """Give the place back."""
        self.in_flight -= 1


class InFlightLimit:
    """At most ``commands`` command requests (POST and other writes) and ``reads`` reads in
    flight; the next one is answered 429 with ``Retry-After`` without being read or queued."""

    def __init__(self, app: ASGIApp, commands: int, reads: int, retry_after_s: int) -> None:
        self.app = app
        self.commands = Gate(commands)
        self.reads = Gate(reads)
        self.retry_after_s = retry_after_s
        self._logged_at = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path or path.startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        gate = self.reads if scope.get("method") in READ_METHODS else self.commands
        if not gate.enter():
            self._note(gate)
            await self._shed(scope, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            gate.leave()

    def _note(self, gate: Gate) -> None:
        """One log line per second at most while shedding."""
        now = time.monotonic()
        if now - self._logged_at >= 1.0:
            self._logged_at = now
            kind = "commands" if gate is self.commands else "reads"
            log.warning("load_shed", kind=kind, limit=gate.limit, shed_total=gate.shed)

    async def _shed(self, scope: Scope, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        lang = negotiate(headers.get(b"accept-language", b"").decode("latin-1") or None)
        detail = text(DETAILS, "overloaded", lang, retry=self.retry_after_s)
        await send_problem(
            send,
            path=scope.get("path", ""),
            status=429,
            kind="overloaded",
            lang=lang,
            detail=detail,
            headers=[
                (b"retry-after", str(self.retry_after_s).encode()),
                (b"content-language", b"en" if lang == "en" else b"zh-CN"),
            ],
            extra={"code": "overloaded"},
        )


def install_unavailable_handlers(app: FastAPI, retry_after_s: int) -> None:
    """Kafka or PostgreSQL unreachable (or refusing work) → 503 + ``Retry-After``, not 500."""

    def handler(what: str, code: str) -> Any:
        async def unavailable(request: Request, exc: Exception) -> JSONResponse:
            log.warning(
                "dependency_unavailable", dependency=what, path=request.url.path,
                error=type(exc).__name__,
            )  # fmt: skip
            lang = negotiate(request.headers.get("accept-language"))
            return problem_response(
                request,
                503,
                "unavailable",
                text(DETAILS, "unavailable", lang, what=what, retry=retry_after_s),
                code=code,
                headers={"Retry-After": str(retry_after_s)},
            )

        return unavailable

    app.add_exception_handler(KafkaError, handler("Kafka", "kafka_unavailable"))
    for exc in POSTGRES_DOWN:
        app.add_exception_handler(exc, handler("PostgreSQL", "postgres_unavailable"))
    for exc in NETWORK_DOWN:  # from either client
        app.add_exception_handler(exc, handler("Kafka/PostgreSQL", "dependency_unavailable"))

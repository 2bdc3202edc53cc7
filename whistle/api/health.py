"""Liveness (/healthz) and readiness (/readyz: Kafka, PostgreSQL, projection lag)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from aiokafka.client import AIOKafkaClient
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from whistle.api.deps import CurrentServices, Services
from whistle.api.problems import request_lang

router = APIRouter(tags=["health"])
CHECK_TIMEOUT_S = 2.0


class Health(BaseModel):
    """Liveness: the process serves requests."""

    status: str


class ReadinessReason(BaseModel):
    """Why the service is degraded: a stable code and a message in the caller's language."""

    code: str
    message: str


class Readiness(BaseModel):
    """Readiness, with one entry per dependency.

    ``status`` is ``ready``, ``not_ready`` (503) or ``degraded`` (200: serving, but something
    needs an operator, listed in ``reasons``: the holiday calendar running out).
    """

    status: str
    checks: dict[str, dict[str, Any]]
    reasons: list[ReadinessReason] = []


def kafka_probe(bootstrap: str) -> Any:
    """A probe that fetches cluster metadata from ``bootstrap``."""

    async def probe() -> None:
        client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
        try:
            await client.bootstrap()
        finally:
            await client.close()

    return probe


async def _check(work: Awaitable[Any]) -> tuple[bool, Any, str | None]:
    try:
        return True, await asyncio.wait_for(work, CHECK_TIMEOUT_S), None
    except Exception as exc:
        return False, None, f"{type(exc).__name__}: {exc}"[:300]


@router.get("/healthz", response_model=Health, summary="Liveness", operation_id="healthz")
async def healthz() -> Health:
    """200 while the process is alive."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Readiness: Kafka and PostgreSQL reachable, projections not too far behind",
    responses={503: {"model": Readiness, "description": "Not ready"}},
    operation_id="readyz",
)
async def readyz(request: Request, services: CurrentServices) -> JSONResponse:
    """200 when ready (``degraded`` with reasons when the holiday calendar runs out), else 503;
    the body says which check failed."""
    (
        (k_ok, _, k_err),
        (p_ok, _, p_err),
        (l_ok, lag, l_err),
        (c_ok, snap, c_err),
    ) = await asyncio.gather(
        _check(services.kafka_probe()),
        _check(services.read.ping()),
        _check(services.read.lag()),
        _check(_calendar(services)),
    )
    lag_check: dict[str, Any] = {"ok": False, "max_events": services.max_lag_events}
    if l_ok:
        lag_check.update(events=lag.events, seconds=lag.seconds)
        lag_check["ok"] = lag.events <= services.max_lag_events
    else:
        lag_check["error"] = l_err
    checks = {
        "kafka": {"ok": k_ok} | ({"error": k_err} if k_err else {}),
        "postgres": {"ok": p_ok} | ({"error": p_err} if p_err else {}),
        "projection_lag": lag_check,
    }
    ready = all(check["ok"] for check in checks.values())
    reasons: list[Any] = []
    if services.calendar is not None:
        # never fails readiness: deadlines are still computed (weekends only), loudly
        checks["calendar"] = {"ok": True} | ({"error": c_err} if c_err else {})
        if c_ok and snap is not None:
            cover = snap.cover
            checks["calendar"].update(
                years=list(cover.years),
                covered_until=cover.covered_until.isoformat() if cover.covered_until else None,
                days_left=cover.days_left,
                clocks_beyond=snap.clocks_beyond,
            )
            reasons = [r.model_dump() for r in snap.reasons(request_lang(request))]
    status = "not_ready" if not ready else "degraded" if reasons else "ready"
    body = Readiness(status=status, checks=checks, reasons=reasons)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


async def _calendar(services: Services) -> Any:
    return None if services.calendar is None else await services.calendar.snapshot()

"""Liveness (/healthz) and readiness (/readyz: Kafka, PostgreSQL, projection lag)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from aiokafka.client import AIOKafkaClient
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from whistle.api.deps import CurrentServices

router = APIRouter(tags=["health"])
CHECK_TIMEOUT_S = 2.0


class Health(BaseModel):
    """Liveness: the process serves requests."""

    status: str


class Readiness(BaseModel):
    """Readiness, with one entry per dependency."""

    status: str
    checks: dict[str, dict[str, Any]]


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
async def readyz(services: CurrentServices) -> JSONResponse:
    """200 when ready, else 503; the body says which check failed."""
    (k_ok, _, k_err), (p_ok, _, p_err), (l_ok, lag, l_err) = await asyncio.gather(
        _check(services.kafka_probe()),
        _check(services.read.ping()),
        _check(services.read.lag()),
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
    body = Readiness(status="ready" if ready else "not_ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)

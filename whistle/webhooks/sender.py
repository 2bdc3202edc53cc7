"""One delivery attempt over HTTP, and what it means for the delivery (pure classification)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import httpx

from whistle.webhooks.payload import CONTENT_TYPE
from whistle.webhooks.schedule import RETRY_DELAYS_S, next_delay
from whistle.webhooks.signing import signed_headers
from whistle.webhooks.store import Due

Outcome = Literal["delivered", "retry", "dead", "gone"]
USER_AGENT = "Whistle-Webhooks/1.0"


@dataclass(frozen=True)
class AttemptResult:
    """What one POST returned: the status code or the transport error, and its timing."""

    started_at: datetime
    duration_ms: float
    status_code: int | None = None
    error: str | None = None
    retry_after: str | None = None


@dataclass(frozen=True)
class Verdict:
    """The consequence of an attempt: the outcome and, for a retry, the delay in seconds."""

    outcome: Outcome
    retry_in: float | None = None


def judge(
    result: AttemptResult, attempts_before: int, delays: tuple[int, ...] = RETRY_DELAYS_S
) -> Verdict:
    """2xx delivered; 410 disables the endpoint; otherwise retry on schedule or dead-letter."""
    code = result.status_code
    if code is not None and 200 <= code < 300:
        return Verdict("delivered")
    if code == 410:
        return Verdict("gone")
    delay = next_delay(attempts_before + 1, result.retry_after, delays)
    return Verdict("dead") if delay is None else Verdict("retry", float(delay))


async def post(client: httpx.AsyncClient, due: Due, timeout_s: float = 10.0) -> AttemptResult:
    """POST the signed CloudEvent once; never raises for HTTP or network failures."""
    body = due.body.encode()
    headers = signed_headers(due.secrets, due.event_id, body)
    headers["content-type"] = CONTENT_TYPE
    headers["user-agent"] = USER_AGENT
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    try:
        response = await client.post(due.url, content=body, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        elapsed = (time.perf_counter() - t0) * 1000
        return AttemptResult(started, elapsed, error=f"{type(exc).__name__}: {exc}"[:500])
    elapsed = (time.perf_counter() - t0) * 1000
    error = None if response.is_success else response.text[:500]
    return AttemptResult(
        started, elapsed, response.status_code, error, response.headers.get("retry-after")
    )

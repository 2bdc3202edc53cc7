"""One delivery attempt over HTTP, and what it means for the delivery (pure classification)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import aiohttp

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


async def post(session: aiohttp.ClientSession, due: Due, timeout_s: float = 10.0) -> AttemptResult:
    """POST the signed CloudEvent once; never raises for HTTP or network failures.

    aiohttp, not httpx: on this workload httpx's pool cost ~7 ms of CPU per request at 64
    concurrent connections against ~0.4 ms for aiohttp (see docs/benchmarks.md, Webhooks).
    """
    body = due.body.encode()
    headers = signed_headers(due.secrets, due.event_id, body)
    headers["content-type"] = CONTENT_TYPE
    headers["user-agent"] = USER_AGENT
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    try:
        async with session.post(
            due.url,
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            allow_redirects=False,
        ) as response:
            text = (await response.content.read(500)).decode(errors="replace")
            status, retry_after = response.status, response.headers.get("retry-after")
    except (aiohttp.ClientError, TimeoutError) as exc:
        elapsed = (time.perf_counter() - t0) * 1000
        return AttemptResult(started, elapsed, error=f"{type(exc).__name__}: {exc}"[:500])
    elapsed = (time.perf_counter() - t0) * 1000
    error = None if 200 <= status < 300 else text or f"HTTP {status}"
    return AttemptResult(started, elapsed, status, error, retry_after)

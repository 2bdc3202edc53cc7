"""One delivery attempt and what it means for its delivery (shared by webhooks and notify).

Every channel, whatever its protocol, reports an attempt as an :class:`AttemptResult`: a status
code when the receiver answered (HTTP status, or the SMTP reply code: 2xx means accepted in
both), or the transport error. A receiver that answers 200 yet refuses in its body (a chat
robot's ``errcode``, an SMS gateway's ``Code``) says so in ``refused``; :func:`judge` then
reads that instead of the status code.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import aiohttp
from yarl import URL

from whistle.delivery.schedule import RETRY_DELAYS_S, next_delay

Outcome = Literal["delivered", "retry", "dead", "gone"]
Refusal = Literal["retry", "dead", "gone"]


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt returned: the status code or the transport error, and its timing.

    ``refused``: the receiver's own answer, when its status code does not tell (HTTP 200 with
    an error code in the body): ``retry`` (try again on schedule, ``retry_after`` if it asked
    for a pause), ``dead`` (it will never accept this message) or ``gone`` (the address was
    removed, e.g. a deleted robot).
    """

    started_at: datetime
    duration_ms: float
    status_code: int | None = None
    error: str | None = None
    retry_after: str | None = None
    refused: Refusal | None = None


@dataclass(frozen=True)
class Verdict:
    """The consequence of an attempt: the outcome and, for a retry, the delay in seconds."""

    outcome: Outcome
    retry_in: float | None = None


def judge(
    result: AttemptResult, attempts_before: int, delays: tuple[int, ...] = RETRY_DELAYS_S
) -> Verdict:
    """2xx delivered; 410 (or a refusal as gone) makes the address gone; a refusal as dead
    dead-letters at once; otherwise retry on schedule or dead-letter after the last try."""
    code = result.status_code
    if result.refused == "gone" or code == 410:
        return Verdict("gone")
    if result.refused == "dead":
        return Verdict("dead")
    if result.refused is None and code is not None and 200 <= code < 300:
        return Verdict("delivered")
    delay = next_delay(attempts_before + 1, result.retry_after, delays)
    return Verdict("dead") if delay is None else Verdict("retry", float(delay))


@dataclass(frozen=True)
class HttpAnswer:
    """An HTTP attempt's result and the start of the answer's body (``read_limit`` bytes)."""

    result: AttemptResult
    body: bytes = b""


async def http_attempt(
    session: aiohttp.ClientSession,
    url: str | URL,
    body: bytes,
    headers: Mapping[str, str],
    timeout_s: float = 10.0,
    read_limit: int = 500,
) -> HttpAnswer:
    """POST ``body`` once, without following redirects; never raises for HTTP or network
    failures. A non-2xx answer's error is the start of its body (or ``HTTP <status>``).

    ``url`` as a ``yarl.URL(…, encoded=True)`` is sent byte for byte (a plain string is
    normalised by aiohttp: ``%2F`` in a query becomes ``/``)."""
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    try:
        async with session.post(
            url,
            data=body,
            headers=dict(headers),
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            allow_redirects=False,
        ) as response:
            raw = await response.content.read(read_limit)
            status, retry_after = response.status, response.headers.get("retry-after")
    except (aiohttp.ClientError, TimeoutError) as exc:
        elapsed = (time.perf_counter() - t0) * 1000
        error = f"{type(exc).__name__}: {exc}"[:500]
        return HttpAnswer(AttemptResult(started, elapsed, error=error))
    elapsed = (time.perf_counter() - t0) * 1000
    text = raw[:500].decode(errors="replace")
    failed = None if 200 <= status < 300 else text or f"HTTP {status}"
    return HttpAnswer(AttemptResult(started, elapsed, status, failed, retry_after), raw)

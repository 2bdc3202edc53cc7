"""The retry schedule of deliveries (webhooks and notifications) and the reading of
``Retry-After``."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRY_DELAYS_S: tuple[int, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
"""Delay before each attempt: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h."""

MAX_RETRY_AFTER_S = 36000


def delay_before(attempt: int, delays: tuple[int, ...] = RETRY_DELAYS_S) -> int | None:
    """Seconds to wait before attempt number ``attempt`` (1-based); None after the last one."""
    if attempt < 1 or attempt > len(delays):
        return None
    return delays[attempt - 1]


def parse_retry_after(value: str | None, now: datetime | None = None) -> int | None:
    """Seconds asked by a ``Retry-After`` header (delta-seconds or HTTP-date), capped at 10 h."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # not "²", and no 5,000-digit int() to refuse
        return MAX_RETRY_AFTER_S if len(value) > 6 else min(int(value), MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0, min(int(seconds), MAX_RETRY_AFTER_S))


def next_delay(
    attempts_made: int,
    retry_after: str | None = None,
    delays: tuple[int, ...] = RETRY_DELAYS_S,
    now: datetime | None = None,
) -> int | None:
    """Seconds until the next try after ``attempts_made`` failures; None means dead-letter."""
    scheduled = delay_before(attempts_made + 1, delays)
    if scheduled is None:
        return None
    asked = parse_retry_after(retry_after, now)
    return scheduled if asked is None else max(scheduled, asked)

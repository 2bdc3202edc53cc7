"""Loud about the working calendar running out: clocks counted past its last year.

A year without a holiday file is counted on weekends only (``whistle.domain.calendar``): a
deadline there may fall on a public holiday, or skip a make-up working day. That stays the
behaviour — nothing better is known — but it must not be silent. The read model's ``clocks``
table holds every running clock's mode and due time, so one indexed count says how many
working-time clocks reach outside the covered years; the API reports it on ``/readyz``
(``degraded``), on ``GET /v1/calendar/status`` (the dashboard's banner) and as the Prometheus
gauge ``whistle_clocks_beyond_calendar`` on ``/metrics``. From ``WARN_DAYS`` (60) days before
the last covered year ends, the coming year's missing notice is warned of the same way.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from pydantic import BaseModel, Field

from whistle.api.deps import CurrentPrincipal, CurrentServices
from whistle.api.i18n import Lang
from whistle.api.problems import ProblemError, problem_responses, request_lang
from whistle.domain.calendar import BusinessCalendar, Coverage, coverage, default_calendar
from whistle.read.gateway import ReadModel

REGISTRY = CollectorRegistry()
CLOCKS_BEYOND = Gauge(
    "whistle_clocks_beyond_calendar",
    "Running or paused working-time clocks whose window reaches a year without a holiday "
    "calendar (their deadline is counted on weekends only).",
    registry=REGISTRY,
)
DAYS_LEFT = Gauge(
    "whistle_calendar_days_left",
    "Days until the first day without a holiday calendar (0: today is already uncovered).",
    registry=REGISTRY,
)

REASONS: dict[str, tuple[str, str]] = {
    "clocks_beyond_calendar": (
        "{count} 个正在计时的工作日时限延伸到尚无节假日安排的 {year} 年，"
        "其截止时间只按周末计算：请导入国务院办公厅的节假日通知（whistle calendar import）",
        "{count} running working-time clocks reach {year}, which has no holiday calendar; "
        "their deadlines count weekends only: import the State Council's notice "
        "(whistle calendar import)",
    ),
    "calendar_ends_soon": (
        "节假日日历只覆盖到 {until}（还剩 {days} 天）：{year} 年的安排尚未导入，"
        "届时截止时间只按周末计算",
        "The holiday calendar ends on {until} ({days} days left): {year} is not imported "
        "yet, and deadlines there will count weekends only",
    ),
    "calendar_missing_this_year": (
        "{year} 年没有节假日安排：截止时间只按周末计算，请立即导入国务院办公厅的通知",
        "{year} has no holiday calendar: deadlines count weekends only; import the State "
        "Council's notice now",
    ),
}
"""Reason code → (Chinese, English) message."""


class Reason(BaseModel):
    """Why the calendar is degraded: a stable code and the message in the caller's language."""

    code: str
    message: str


class CalendarStatus(BaseModel):
    """What the holiday calendar covers and what reaches past it."""

    today: str = Field(description="Today in the calendar's time zone (YYYY-MM-DD).")
    years: list[int] = Field(description="Years with a holiday calendar.")
    covered_until: str | None = Field(description="Last day of the covered years around today.")
    days_left: int | None = Field(description="Days until the first uncovered day.")
    clocks_beyond: int = Field(description="Running working-time clocks reaching past it.")
    degraded: bool
    reasons: list[Reason]


@dataclass
class Snapshot:
    """One look: the coverage and the count, taken at ``taken`` (monotonic seconds)."""

    cover: Coverage
    clocks_beyond: int
    taken: float

    def reasons(self, lang: Lang) -> list[Reason]:
        """The warnings, in ``lang``."""
        pick = 1 if lang == "en" else 0
        found: list[Reason] = []
        cover = self.cover
        if cover.window is None:
            found.append(
                Reason(
                    code="calendar_missing_this_year",
                    message=REASONS["calendar_missing_this_year"][pick].format(
                        year=cover.today.year
                    ),
                )
            )
        if self.clocks_beyond:
            found.append(
                Reason(
                    code="clocks_beyond_calendar",
                    message=REASONS["clocks_beyond_calendar"][pick].format(
                        count=self.clocks_beyond, year=cover.next_year
                    ),
                )
            )
        if cover.window is not None and cover.ends_soon:
            found.append(
                Reason(
                    code="calendar_ends_soon",
                    message=REASONS["calendar_ends_soon"][pick].format(
                        until=cover.covered_until, days=cover.days_left, year=cover.next_year
                    ),
                )
            )
        return found

    def status(self, lang: Lang) -> CalendarStatus:
        """The snapshot as ``GET /v1/calendar/status`` answers it."""
        reasons = self.reasons(lang)
        until = self.cover.covered_until
        return CalendarStatus(
            today=self.cover.today.isoformat(),
            years=list(self.cover.years),
            covered_until=until.isoformat() if until else None,
            days_left=self.cover.days_left,
            clocks_beyond=self.clocks_beyond,
            degraded=bool(reasons),
            reasons=reasons,
        )


class CalendarWatch:
    """Counts the clocks beyond the calendar in the read model (``ReadModel.clocks_beyond``),
    at most every ``ttl_s``.

    ``calendar`` gives the calendar in force at each look (the API passes the configuration
    version in force, so a published year silences the warning within ``ttl_s``)."""

    def __init__(
        self,
        read: ReadModel,
        calendar: Callable[[], BusinessCalendar] = default_calendar,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        ttl_s: float = 10.0,
    ) -> None:
        self._read = read
        self._calendar = calendar
        self._now = now
        self._ttl = ttl_s
        self._last: Snapshot | None = None

    async def snapshot(self) -> Snapshot:
        """The current look (re-counted when older than ``ttl_s``); updates the gauges."""
        last = self._last
        if last is not None and time.monotonic() - last.taken < self._ttl:
            return last
        cover = coverage(self._calendar(), self._now())
        count = await self._read.clocks_beyond(cover.window)
        snap = Snapshot(cover=cover, clocks_beyond=count, taken=time.monotonic())
        CLOCKS_BEYOND.set(count)
        DAYS_LEFT.set(cover.days_left or 0)
        self._last = snap
        return snap


router = APIRouter(tags=["calendar"])


@router.get(
    "/v1/calendar/status",
    response_model=CalendarStatus,
    summary="Holiday calendar coverage, and running clocks reaching past it",
    responses=problem_responses(401, 503),
    operation_id="getCalendarStatus",
)
async def calendar_status(
    request: Request, principal: CurrentPrincipal, services: CurrentServices
) -> Any:
    """Degraded, with reasons in the caller's language, when running working-time clocks reach
    a year without a holiday calendar, or the covered years end within 60 days."""
    del principal  # every role may see it; it names no case
    if services.calendar is None:
        raise ProblemError(
            503,
            "unavailable",
            detail_key="unavailable",
            detail_values={"what": "calendar", "retry": 1},
            headers={"Retry-After": "1"},
        )
    return (await services.calendar.snapshot()).status(request_lang(request))


@router.get("/metrics", include_in_schema=False)
async def metrics(services: CurrentServices) -> Response:
    """Prometheus exposition of the API's gauges (the calendar's, refreshed when scraped)."""
    if services.calendar is not None:
        # on failure the gauges keep their last values; /readyz reports PostgreSQL
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            await services.calendar.snapshot()
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

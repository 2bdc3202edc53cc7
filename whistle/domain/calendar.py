"""Business calendar: working hours, weekends, public holidays and make-up working days (调休).

Holidays come from one JSON file per year in ``whistle/data/calendars`` (adding a year is a data
change); working hours and the time zone from ``whistle/data/calendar.toml``. Years without a
file count weekends only.
"""

from __future__ import annotations

import json
import tomllib
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from functools import cache, cached_property
from importlib import resources
from pathlib import Path

from whistle.domain.types import ClockMode

SHANGHAI_OFFSET = timezone(timedelta(hours=8), "CST")
ZERO = timedelta(0)
ONE_DAY = timedelta(days=1)


def shanghai() -> tzinfo:
    """Asia/Shanghai from zoneinfo, or a fixed +08:00 (China has no DST) without tzdata."""
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Asia/Shanghai")
    except Exception:  # zoneinfo data missing on the system
        return SHANGHAI_OFFSET


@dataclass(frozen=True)
class BusinessCalendar:
    """Working hours on working days, in one time zone."""

    tz: tzinfo
    working_hours: tuple[tuple[time, time], ...]
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    years: frozenset[int] = frozenset()
    sources: tuple[str, ...] = field(default=())
    _days: dict[date, list[tuple[datetime, datetime]]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    @cached_property
    def working_day(self) -> timedelta:
        """Length of one working day (sum of the working-hour intervals), computed once."""
        return sum((_span(s, e) for s, e in self.working_hours), ZERO)

    def is_working_day(self, day: date) -> bool:
        """Weekdays that are not holidays, plus make-up working days (调休上班)."""
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def _intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's working intervals as aware datetimes (memoised per day)."""
        found = self._days.get(day)
        if found is None:
            found = []
            if self.is_working_day(day):
                found = [
                    (datetime.combine(day, s, self.tz), datetime.combine(day, e, self.tz))
                    for s, e in self.working_hours
                ]
            if len(self._days) > 20_000:
                self._days.clear()
            self._days[day] = found
        return found

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        """The instant when ``duration`` of working time has elapsed after ``start``."""
        if duration <= ZERO:
            return start
        remaining = duration
        cursor = start.astimezone(self.tz)
        day = cursor.date()
        while True:
            for open_at, close_at in self._intervals(day):
                begin = max(cursor, open_at)
                if begin >= close_at:
                    continue
                available = close_at - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
            day += ONE_DAY
            cursor = datetime.combine(day, time(0), self.tz)

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time elapsed from ``a`` to ``b`` (zero when ``b`` is not after ``a``)."""
        if b <= a:
            return ZERO
        a, b = a.astimezone(self.tz), b.astimezone(self.tz)
        total = ZERO
        day = a.date()
        while day <= b.date():
            for open_at, close_at in self._intervals(day):
                begin, end = max(a, open_at), min(b, close_at)
                if begin < end:
                    total += end - begin
            day += ONE_DAY
        return total

    def add(self, start: datetime, duration: timedelta, mode: ClockMode) -> datetime:
        """``start`` + ``duration`` counted as calendar or working time."""
        if mode == "calendar":
            return start + duration
        return self.add_working_time(start, duration)

    def between(self, a: datetime, b: datetime, mode: ClockMode) -> timedelta:
        """Time from ``a`` to ``b`` counted as calendar or working time (never negative)."""
        if mode == "calendar":
            return max(b - a, ZERO)
        return self.working_time_between(a, b)


def _span(start: time, end: time) -> timedelta:
    return datetime.combine(date.min, end) - datetime.combine(date.min, start)


def _hhmm(text: str) -> time:
    return time.fromisoformat(text)


def parse_year(data: dict[str, object]) -> tuple[int, frozenset[date], frozenset[date], str]:
    """Year, holidays, make-up working days and source of one calendar year file."""
    year = data["year"]
    assert isinstance(year, int)
    holidays: set[date] = set()
    workdays: set[date] = set()
    for entry in data.get("holidays", []):  # type: ignore[attr-defined]
        holidays.update(date.fromisoformat(d) for d in entry["dates"])
        workdays.update(date.fromisoformat(d) for d in entry.get("workdays", []))
    for day in holidays | workdays:
        if day.year != year:
            raise ValueError(f"calendar {year}: {day} is outside the year")
    if holidays & workdays:
        raise ValueError(f"calendar {year}: a day is both holiday and make-up workday")
    return year, frozenset(holidays), frozenset(workdays), str(data.get("source", ""))


def build_calendar(settings: dict[str, object], years: list[dict[str, object]]) -> BusinessCalendar:
    """A calendar from working-hour settings and parsed year files."""
    hours = settings.get("working_hours", [["09:00", "12:00"], ["13:30", "17:30"]])
    assert isinstance(hours, list)
    tz = shanghai() if settings.get("timezone", "Asia/Shanghai") == "Asia/Shanghai" else None
    if tz is None:
        from zoneinfo import ZoneInfo

        tz = ZoneInfo(str(settings["timezone"]))
    holidays: set[date] = set()
    workdays: set[date] = set()
    known: set[int] = set()
    sources: list[str] = []
    for data in years:
        year, h, w, source = parse_year(data)
        known.add(year)
        holidays |= h
        workdays |= w
        sources.append(source)
    return BusinessCalendar(
        tz=tz,
        working_hours=tuple((_hhmm(s), _hhmm(e)) for s, e in hours),
        holidays=frozenset(holidays),
        workdays=frozenset(workdays),
        years=frozenset(known),
        sources=tuple(sources),
    )


def load_calendar(directory: Path | None = None) -> BusinessCalendar:
    """The calendar from ``directory`` (``calendar.toml`` + ``calendars/*.json``) or packaged."""
    if directory is None:
        return default_calendar()
    settings = tomllib.loads((directory / "calendar.toml").read_text(encoding="utf-8"))
    years = [
        json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((directory / "calendars").glob("*.json"))
    ]
    return build_calendar(settings, years)


@cache
def default_calendar() -> BusinessCalendar:
    """The packaged calendar (China, Asia/Shanghai), loaded once."""
    root = resources.files("whistle.data")
    settings = tomllib.loads(root.joinpath("calendar.toml").read_text(encoding="utf-8"))
    years = [
        json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(root.joinpath("calendars").iterdir(), key=lambda p: p.name)
        if p.name.endswith(".json")
    ]
    return build_calendar(settings, years)


_IN_FORCE: ContextVar[BusinessCalendar | None] = ContextVar("calendar_in_force", default=None)
"""The calendar of the configuration version in force for the decision being made (set by
the stream worker per command); None: the packaged one."""


def use_calendar(calendar: BusinessCalendar) -> None:
    """Make ``calendar`` the one ``calendar_in_force`` answers in the current context."""
    _IN_FORCE.set(calendar)


def calendar_in_force() -> BusinessCalendar:
    """The calendar in force for the decision being made (packaged unless one was set)."""
    return _IN_FORCE.get() or default_calendar()


def add_working_time(start: datetime, duration: timedelta) -> datetime:
    """``start`` + ``duration`` of working time on the packaged calendar."""
    return default_calendar().add_working_time(start, duration)


def working_time_between(a: datetime, b: datetime) -> timedelta:
    """Working time from ``a`` to ``b`` on the packaged calendar."""
    return default_calendar().working_time_between(a, b)


WARN_DAYS = 60
"""From this many days before the last covered year ends, the coming year's gap is warned of."""


@dataclass(frozen=True)
class Coverage:
    """Which years a calendar knows, seen from one day.

    ``window`` is the span of consecutive covered years around ``today`` (start of the first,
    start of the year after the last; None when ``today``'s year has no file): a working-time
    clock whose start and due time both fall inside it is counted on real holidays, any other
    reaches a year counted on weekends only.
    """

    today: date
    years: tuple[int, ...]
    window: tuple[datetime, datetime] | None
    warn_days: int = WARN_DAYS

    @property
    def covered_until(self) -> date | None:
        """The last day of the last consecutive covered year (None: this year is not covered)."""
        return None if self.window is None else self.window[1].date() - ONE_DAY

    @property
    def days_left(self) -> int | None:
        """Days from ``today`` until the first day without a calendar (None: it is today)."""
        return None if self.window is None else (self.window[1].date() - self.today).days

    @property
    def next_year(self) -> int:
        """The first year after ``today``'s without a calendar file (this year when uncovered)."""
        return self.today.year if self.window is None else self.window[1].year

    @property
    def ends_soon(self) -> bool:
        """Whether the covered years end within ``warn_days`` (or this year is not covered)."""
        return self.days_left is None or self.days_left <= self.warn_days


def coverage(calendar: BusinessCalendar, now: datetime, warn_days: int = WARN_DAYS) -> Coverage:
    """What ``calendar`` covers around ``now`` (an aware instant)."""
    today = now.astimezone(calendar.tz).date()
    years = calendar.years
    if today.year not in years:
        return Coverage(today=today, years=tuple(sorted(years)), window=None, warn_days=warn_days)
    first = last = today.year
    while first - 1 in years:
        first -= 1
    while last + 1 in years:
        last += 1
    window = (
        datetime.combine(date(first, 1, 1), time(0), calendar.tz),
        datetime.combine(date(last + 1, 1, 1), time(0), calendar.tz),
    )
    return Coverage(today=today, years=tuple(sorted(years)), window=window, warn_days=warn_days)

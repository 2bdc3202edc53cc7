"""The shipped holiday calendars agree, day by day, with an independent source.

PyPI's ``chinese-calendar`` transcribes the State Council's notices separately from us; it
covers the years up to its release, so a year it does not know is skipped, never guessed.
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import pytest

from whistle.domain.configuration import CalendarYear, packaged_configuration

YEARS = packaged_configuration().calendar_years


def their_days(year: int) -> tuple[set[date], set[date]]:
    """Public holidays and weekend working days of ``year`` according to chinese-calendar."""
    holidays: set[date] = set()
    workdays: set[date] = set()
    day = date(year, 1, 1)
    while day.year == year:
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
        if on_holiday and name is not None:
            holidays.add(day)
        if day.weekday() >= 5 and chinese_calendar.is_workday(day):
            workdays.add(day)
        day += timedelta(days=1)
    return holidays, workdays


@pytest.mark.parametrize("year", YEARS, ids=[str(y.year) for y in YEARS])
def test_the_shipped_year_matches_chinese_calendar(year: CalendarYear) -> None:
    try:
        holidays, workdays = their_days(year.year)
    except NotImplementedError:
        pytest.skip(f"chinese-calendar does not cover {year.year}")
    assert set(year.holidays) == holidays
    assert set(year.workdays) == workdays


def test_both_shipped_years_are_covered_by_the_check() -> None:
    assert {y.year for y in YEARS} >= {2025, 2026}
    for year in (2025, 2026):
        their_days(year)  # raises NotImplementedError if the source stopped covering them

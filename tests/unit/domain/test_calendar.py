"""Business calendar: working hours, weekends, China's holidays and make-up working days (调休)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from whistle.domain import add_working_time, default_calendar, load_calendar, working_time_between
from whistle.domain.calendar import shanghai

TZ = shanghai()
CAL = default_calendar()


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


def test_both_shipped_years_name_their_source() -> None:
    assert CAL.years >= {2025, 2026}
    assert all("国务院办公厅" in source for source in CAL.sources)


def test_a_working_day_is_six_and_a_half_hours() -> None:
    assert CAL.working_day == timedelta(hours=6, minutes=30)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2025, 9, 26), True),  # Friday
        (date(2025, 9, 27), False),  # Saturday
        (date(2025, 9, 28), True),  # Sunday, make-up working day for National Day
        (date(2025, 10, 1), False),
        (date(2025, 10, 8), False),  # the eighth day of the 2025 golden week
        (date(2025, 10, 9), True),
        (date(2025, 10, 11), True),  # Saturday, make-up working day
        (date(2025, 10, 12), False),
        (date(2025, 1, 26), True),  # Spring Festival make-up (Sunday)
        (date(2025, 1, 28), False),  # 除夕
        (date(2025, 2, 8), True),
        (date(2025, 5, 2), False),
        (date(2026, 1, 4), True),  # Sunday make-up after New Year 2026
        (date(2026, 2, 14), True),
        (date(2026, 2, 23), False),
        (date(2026, 2, 28), True),
        (date(2026, 9, 25), False),  # Mid-Autumn 2026
        (date(2026, 10, 7), False),
        (date(2026, 10, 10), True),
    ],
)
def test_working_days(day: date, working: bool) -> None:
    assert CAL.is_working_day(day) is working


def test_add_working_time_across_the_2025_golden_week() -> None:
    # Friday 26 Sep 16:30: one hour left that day; Sat off; Sun 28 (调休) works a full day;
    # Mon 29 and Tue 30 work; 1–8 Oct off; Thu 9 Oct works.
    start = at(2025, 9, 26, 16, 30)
    assert add_working_time(start, timedelta(hours=1)) == at(2025, 9, 26, 17, 30)
    assert add_working_time(start, timedelta(hours=2)) == at(2025, 9, 28, 9, 30)
    three_days = 3 * CAL.working_day
    # 1 h Fri + 6.5 h Sun + 6.5 h Mon + 5.5 h Tue = 19.5 h → Tue 30 Sep 16:30
    assert add_working_time(start, three_days) == at(2025, 9, 30, 16, 30)
    # One more working day lands after the golden week, on Thursday 9 October.
    assert add_working_time(start, three_days + CAL.working_day) == at(2025, 10, 9, 16, 30)


def test_working_time_between_skips_the_holiday() -> None:
    assert working_time_between(at(2025, 9, 30, 17, 30), at(2025, 10, 9, 8, 30)) == timedelta(0)
    assert working_time_between(at(2025, 9, 30, 9, 0), at(2025, 10, 9, 9, 0)) == timedelta(
        hours=6, minutes=30
    )


def test_starting_outside_working_hours_waits_for_the_next_opening() -> None:
    assert add_working_time(at(2025, 9, 22, 12, 30), timedelta(minutes=30)) == at(
        2025, 9, 22, 15, 0
    )
    assert add_working_time(at(2025, 9, 22, 6, 0), timedelta(minutes=30)) == at(2025, 9, 22, 9, 0)


def test_add_and_between_are_inverse() -> None:
    start = at(2025, 9, 25, 10, 17)
    for hours in (0.5, 3, 7, 20, 40, 100):
        end = add_working_time(start, timedelta(hours=hours))
        assert working_time_between(start, end) == timedelta(hours=hours)


def test_zero_duration_and_reversed_interval() -> None:
    start = at(2025, 10, 3, 3, 3)
    assert add_working_time(start, timedelta(0)) == start
    assert working_time_between(start, start - timedelta(hours=1)) == timedelta(0)


def test_calendar_mode_is_plain_time() -> None:
    start = at(2025, 9, 30, 20, 0)
    assert CAL.add(start, timedelta(days=2), "calendar") == at(2025, 10, 2, 20, 0)
    assert CAL.between(start, at(2025, 10, 2, 20, 0), "calendar") == timedelta(days=2)


def test_other_time_zones_are_converted() -> None:
    from datetime import UTC

    utc_start = datetime(2025, 9, 22, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    assert add_working_time(utc_start, timedelta(hours=1)) == at(2025, 9, 22, 10, 0)


def test_adding_a_year_is_a_data_change(tmp_path: Path) -> None:
    (tmp_path / "calendars").mkdir()
    (tmp_path / "calendar.toml").write_text(
        'timezone = "Asia/Shanghai"\nworking_hours = [["09:00", "17:00"]]\n', encoding="utf-8"
    )
    (tmp_path / "calendars" / "cn-2027.json").write_text(
        json.dumps(
            {
                "year": 2027,
                "source": "test",
                "holidays": [{"name": "元旦", "dates": ["2027-01-01"], "workdays": ["2027-01-02"]}],
            }
        ),
        encoding="utf-8",
    )
    cal = load_calendar(tmp_path)
    assert cal.years == {2027} and cal.working_day == timedelta(hours=8)
    assert not cal.is_working_day(date(2027, 1, 1)) and cal.is_working_day(date(2027, 1, 2))
    assert cal.add_working_time(at(2026, 12, 31, 16, 0), timedelta(hours=2)) == at(
        2027, 1, 2, 10, 0
    )


def test_a_day_cannot_be_both_holiday_and_workday(tmp_path: Path) -> None:
    (tmp_path / "calendars").mkdir()
    (tmp_path / "calendar.toml").write_text("", encoding="utf-8")
    bad = {"year": 2027, "holidays": [{"dates": ["2027-01-01"], "workdays": ["2027-01-01"]}]}
    (tmp_path / "calendars" / "cn-2027.json").write_text(json.dumps(bad), encoding="utf-8")
    with pytest.raises(ValueError, match="both"):
        load_calendar(tmp_path)

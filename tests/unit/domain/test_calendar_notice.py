"""A State Council notice file: read, validated, and taken into a proposed configuration; and
what the calendar covers seen from a given day."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from whistle.domain.calendar import WARN_DAYS, coverage, default_calendar
from whistle.domain.configuration import (
    CalendarYear,
    check,
    check_calendar_year,
    diff,
    packaged_configuration,
    parse_notice,
    read_notice,
    with_calendar_year,
)

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "docs" / "calendars" / "cn-2027-provisional.toml"
PACKAGED = sorted((ROOT / "whistle" / "data" / "calendars").glob("*.json"))
CST = timezone(timedelta(hours=8))


def notice(*holidays: dict[str, Any], year: int = 2027) -> dict[str, Any]:
    return {"year": year, "source": "test", "holidays": list(holidays)}


def day(d: str, *worked: str, name: str = "x") -> dict[str, Any]:
    """A holiday on ``d`` with make-up workdays ``worked``."""
    return notice({"name": name, "dates": [d], "workdays": list(worked)})


def codes(data: Any) -> list[str]:
    return [f.code for f in parse_notice(data)[1]]


def test_the_2027_sample_is_valid_and_marked_provisional() -> None:
    year, findings = read_notice(SAMPLE)
    assert findings == []
    assert year is not None and year.year == 2027 and year.provisional
    assert "PROVISIONAL" in year.source and "not an official notice" in year.source
    assert [r.name for r in year.ranges] == [
        "元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节",
    ]  # fmt: skip
    spring = year.ranges[1]
    assert (spring.dates[0], spring.dates[-1], len(spring.dates)) == (
        date(2027, 2, 5),
        date(2027, 2, 13),
        9,
    )
    assert all(d.weekday() >= 5 for d in year.workdays)
    assert "provisional" in SAMPLE.read_text(encoding="utf-8").lower()


@pytest.mark.parametrize("path", PACKAGED, ids=lambda p: p.name)
def test_the_packaged_years_read_as_notices_to_the_calendar_in_use(path: Path) -> None:
    year, findings = read_notice(path)
    assert findings == [] and year is not None and not year.provisional
    cal = default_calendar()
    assert set(year.holidays) == {d for d in cal.holidays if d.year == year.year}
    assert set(year.workdays) == {d for d in cal.workdays if d.year == year.year}


def test_a_range_and_a_list_of_dates_are_the_same_holiday() -> None:
    ranged, _ = parse_notice(notice({"name": "国庆节", "from": "2027-10-01", "to": "2027-10-03"}))
    listed, _ = parse_notice(
        notice({"name": "国庆节", "dates": ["2027-10-03", "2027-10-01", "2027-10-02"]})
    )
    assert ranged is not None and listed is not None
    assert ranged.holidays == listed.holidays == (
        date(2027, 10, 1), date(2027, 10, 2), date(2027, 10, 3),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (day("2027-05-01", "2027-05-01"), "holiday_and_workday"),
        (day("2027-05-03", "2027-05-06"), "workday_not_weekend"),
        (notice({"name": "元旦", "from": "2026-12-31", "to": "2027-01-02"}), "day_outside_year"),
        (day("2027-05-03", "2028-01-01"), "day_outside_year"),
        (notice({"name": "x", "from": "2027-05-05", "to": "2027-05-01"}), "range_reversed"),
        (notice({"name": "x", "from": "2027-05-01", "to": "2027-05-31"}), "holiday_too_long"),
        (
            notice(
                {"name": "劳动节", "from": "2027-05-01", "to": "2027-05-05"},
                {"name": "又一个", "dates": ["2027-05-05"]},
            ),
            "holiday_twice",
        ),
        (notice(), "empty_year"),
        (notice({"name": "x", "dates": ["2027-13-01"]}), "notice_unreadable"),
        (notice({"name": "", "dates": ["2027-05-01"]}), "notice_unreadable"),
        (notice({"name": "x"}), "notice_unreadable"),
        (notice({"name": "x", "dates": ["2027-05-01"], "to": "2027-05-02"}), "notice_unreadable"),
        (notice({"name": "x", "dates": ["2027-05-01"], "colour": "red"}), "notice_unreadable"),
        ({"year": "2027", "holidays": []}, "notice_unreadable"),
        ({"year": 1999, "holidays": []}, "notice_unreadable"),
        ([1, 2], "notice_unreadable"),
        ({**day("2027-05-01"), "provisional": "yes"}, "notice_unreadable"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)  # fmt: skip
def test_what_a_bad_notice_is_told(data: Any, code: str) -> None:
    found = codes(data)
    assert code in found, found


def test_every_finding_has_both_languages() -> None:
    _, findings = parse_notice(day("2027-05-01", "2027-05-01", "2027-05-06", name="劳动节"))
    assert len(findings) == 2
    for f in findings:
        zh, en = f.message("zh"), f.message("en")
        assert "2027-05-0" in zh and "2027-05-0" in en and zh != en
    assert "周四" in findings[1].message("zh") and "Thursday" in findings[1].message("en")


def test_files_that_cannot_be_read(tmp_path: Path) -> None:
    bad_toml = tmp_path / "n.toml"
    bad_toml.write_text("year = = 2027", encoding="utf-8")
    bad_json = tmp_path / "n.json"
    bad_json.write_text("{", encoding="utf-8")
    other = tmp_path / "n.txt"
    other.write_text("year 2027", encoding="utf-8")
    for path in (bad_toml, bad_json, other, tmp_path / "missing.toml"):
        year, findings = read_notice(path)
        assert year is None and [f.code for f in findings] == ["notice_unreadable"], path
    good = tmp_path / "n.json"
    good.write_text(json.dumps(notice({"name": "x", "dates": ["2027-05-03"]})), encoding="utf-8")
    assert read_notice(good)[1] == []


def test_the_imported_year_joins_or_replaces_its_year_in_a_proposed_version() -> None:
    current = packaged_configuration()
    year, _ = read_notice(SAMPLE)
    assert year is not None
    proposed = with_calendar_year(current, year)
    assert [y.year for y in proposed.calendar_years] == [2025, 2026, 2027]
    assert check(proposed) == []
    change = diff(current, proposed)
    assert set(change.holidays_added) == set(year.holidays) and not change.holidays_removed
    shorter = year.model_copy(update={"holidays": year.holidays[1:]})
    again = with_calendar_year(proposed, shorter)
    assert [y.year for y in again.calendar_years] == [2025, 2026, 2027]
    assert diff(proposed, again).holidays_removed == (year.holidays[0],)


def test_a_flat_year_is_checked_the_same_way() -> None:
    year = CalendarYear(year=2027, holidays=(date(2027, 1, 1),), workdays=(date(2027, 1, 4),))
    assert [f.code for f in check_calendar_year(year)] == ["workday_not_weekend"]
    assert [f.code for f in check_calendar_year(CalendarYear(year=2027))] == ["empty_year"]
    # from_notice reads what it can and leaves the verdict to check(); unreadable raises
    both = CalendarYear.from_notice(
        notice({"name": "x", "dates": ["2027-05-01"], "workdays": ["2027-05-01"]})
    )
    assert [f.code for f in check_calendar_year(both)] == ["holiday_and_workday"]
    with pytest.raises(ValueError, match="not a date"):
        CalendarYear.from_notice(notice({"name": "x", "dates": ["2027-02-30"]}))


def at(day: str) -> datetime:
    return datetime.fromisoformat(day + "T10:00:00").replace(tzinfo=CST)


def test_coverage_on_the_second_of_december_2026_warns_of_2027() -> None:
    cover = coverage(default_calendar(), at("2026-12-02"))
    assert cover.years == (2025, 2026)
    assert cover.covered_until == date(2026, 12, 31)
    assert cover.days_left == 30 and cover.next_year == 2027 and cover.ends_soon
    assert cover.window is not None
    assert cover.window[0].isoformat() == "2025-01-01T00:00:00+08:00"
    assert cover.window[1].isoformat() == "2027-01-01T00:00:00+08:00"


def test_the_warning_starts_sixty_days_before_the_year_ends() -> None:
    cal = default_calendar()
    assert WARN_DAYS == 60
    assert not coverage(cal, at("2026-11-01")).ends_soon  # 61 days left
    assert coverage(cal, at("2026-11-02")).days_left == 60
    assert coverage(cal, at("2026-11-02")).ends_soon
    assert not coverage(cal, at("2025-12-02")).ends_soon  # 2026 is covered: 395 days left


def test_a_year_without_a_file_is_uncovered() -> None:
    cover = coverage(default_calendar(), at("2027-01-04"))
    assert cover.window is None and cover.days_left is None and cover.covered_until is None
    assert cover.next_year == 2027 and cover.ends_soon
    # the day is taken in the calendar's zone: 2026-12-31T17:00Z is already 2027 in Shanghai
    late = coverage(default_calendar(), datetime(2026, 12, 31, 17, tzinfo=UTC))
    assert late.today == date(2027, 1, 1) and late.window is None


def test_an_unreadable_notice_is_told_in_both_languages() -> None:
    [finding] = parse_notice(day("2027-02-30"))[1]
    assert finding.message("zh") == (
        "calendar 2027 x：无法读取（不是日期（YYYY-MM-DD）：2027-02-30）"
    )
    assert finding.message("en") == (
        "calendar 2027 x: cannot be read (not a date (YYYY-MM-DD): 2027-02-30)"
    )
    [typo] = parse_notice(notice({"name": "x", "dates": ["2027-05-01"], "workday": []}))[1]
    assert "未知的键 workday" in typo.message("zh") and "unknown keys workday" in typo.message("en")

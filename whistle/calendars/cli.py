"""`whistle calendar import FILE | status`: check a State Council holiday notice, see coverage.

``import`` reads one year's notice (TOML or JSON: holidays by name with their days off and the
make-up workdays they bring), validates it (``whistle.domain.configuration.parse_notice``) and
shows what it holds and what it would change against the calendar in use. Bad input is one
line on stderr and exit status 2. Publishing the year is a configuration version
(``whistle config publish calendars FILE``); ``import`` only shows ``proposed_configuration``
(``with_calendar_year`` of the current one) against the calendar in use.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from whistle.calendars.publish import proposed_configuration
from whistle.console.text import pad
from whistle.domain.calendar import coverage, default_calendar
from whistle.domain.configuration import (
    WEEKDAYS,
    CalendarYear,
    Configuration,
    Finding,
    check,
    diff,
    packaged_configuration,
    read_notice,
)

TEXT: dict[str, tuple[str, str]] = {
    "bad": (
        "whistle calendar import：{file}：{findings}",
        "whistle calendar import: {file}: {findings}",
    ),
    "more": ("（另有 {n} 处问题）", " (and {n} more)"),
    "ok": (
        "{year} 年节假日安排校验通过：{holidays} 个节日，放假 {days} 天，调休上班 {workdays} 天",
        "The {year} holiday notice is valid: {holidays} holidays, {days} days off, "
        "{workdays} make-up workdays",
    ),
    "source": ("来源：{source}", "Source: {source}"),
    "provisional": (
        "注意：此文件标注为临时（provisional），日期不是正式通知",
        "Note: this file is marked provisional; its dates are not an official notice",
    ),
    "holiday": (
        "  {name} {first} 至 {last}（{days} 天）",
        "  {name:<20} {first} to {last} ({days} {unit})",
    ),
    "workdays": ("调休上班 {days}", "make-up workdays {days}"),
    "new_year": (
        "与当前日历相比：新增 {year} 年（此前该年只按周末计算）",
        "Against the calendar in use: adds {year} (which counted weekends only)",
    ),
    "replace_year": (
        "与当前日历相比：替换 {year} 年：节假日 +{h_add} −{h_del}，调休上班 +{w_add} −{w_del}",
        "Against the calendar in use: replaces {year}: holidays +{h_add} −{h_del}, "
        "make-up workdays +{w_add} −{w_del}",
    ),
    "same_year": (
        "与当前日历相比：{year} 年没有变化",
        "Against the calendar in use: {year} is unchanged",
    ),
    "not_published": (
        "未发布：校验只读取文件。发布为配置版本后，工作日时限才按这些日期计算。",
        "Not published: checking only reads the file. Working-time clocks use these dates "
        "once they are published as a configuration version.",
    ),
    "proposed_bad": (
        "whistle calendar import：加入后配置不可发布：{findings}",
        "whistle calendar import: the configuration with it could not be published: {findings}",
    ),
    "status": ("节假日日历覆盖：{years}", "Holiday calendar covers: {years}"),
    "until": (
        "覆盖到 {until}，还剩 {days} 天",
        "Covered until {until}, {days} days left",
    ),
    "uncovered": (
        "{year} 年没有节假日安排：工作日时限只按周末计算",
        "{year} has no holiday calendar: working-time clocks count weekends only",
    ),
    "soon": (
        "警告：{year} 年的节假日安排尚未导入（whistle calendar import 文件）",
        "Warning: the {year} holiday notice is not imported yet (whistle calendar import FILE)",
    ),
}


def say(key: str, lang: str, **values: object) -> str:
    """``key``'s text in ``lang``."""
    zh, en = TEXT[key]
    return (en if lang == "en" else zh).format(**values)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``calendar`` command group to the ``whistle`` parser."""
    group = subparsers.add_parser("calendar", help="节假日日历 / the holiday calendar")
    sub = group.add_subparsers(dest="calendar_command", required=True)
    imp = sub.add_parser(
        "import", help="校验国务院节假日通知文件 / check a State Council holiday notice file"
    )
    imp.add_argument("file", type=Path, help="one year's notice, .toml or .json")
    imp.add_argument("--lang", choices=["zh", "en"], default=None, help="zh (default) or en")
    imp.add_argument(
        "--json", action="store_true", help="print the validated year as JSON (CalendarYear)"
    )
    imp.set_defaults(func=_import)
    status = sub.add_parser("status", help="日历覆盖到哪一年 / which years are covered")
    status.add_argument("--lang", choices=["zh", "en"], default=None)
    status.set_defaults(func=_status)


def _lang(args: argparse.Namespace) -> str:
    return args.lang or ("en" if os.environ.get("WHISTLE_LANG") == "en" else "zh")


def _import(args: argparse.Namespace) -> int:
    lang = _lang(args)
    path: Path = args.file
    year, findings = read_notice(path)
    if findings or year is None:
        print(_one_line("bad", lang, findings, file=path.name), file=sys.stderr)
        return 2
    current = packaged_configuration()
    proposed = proposed_configuration(year, current)
    problems = check(proposed)
    if problems:
        print(_one_line("proposed_bad", lang, problems), file=sys.stderr)
        return 2
    if args.json:
        print(year.model_dump_json(indent=2))
        return 0
    print(
        say(
            "ok",
            lang,
            year=year.year,
            holidays=len(year.ranges),
            days=len(year.holidays),
            workdays=len(year.workdays),
        )
    )
    if year.source:
        print(say("source", lang, source=year.source))
    if year.provisional:
        print(say("provisional", lang))
    for entry in year.ranges:
        line = say(
            "holiday",
            lang,
            name=(entry.name_en or entry.name) if lang == "en" else pad(entry.name, 6),
            first=entry.dates[0].isoformat(),
            last=entry.dates[-1].isoformat(),
            days=len(entry.dates),
            unit="day" if len(entry.dates) == 1 else "days",
        )
        if entry.workdays:
            days = ", ".join(_day(d, lang) for d in entry.workdays)
            line += ("；" if lang != "en" else "; ") + say("workdays", lang, days=days)
        print(line)
    print(_change_line(current, proposed, year, lang))
    print(say("not_published", lang))
    return 0


def _change_line(
    current: Configuration, proposed: Configuration, year: CalendarYear, lang: str
) -> str:
    if all(y.year != year.year for y in current.calendar_years):
        return say("new_year", lang, year=year.year)
    change = diff(current, proposed)
    if change.empty():
        return say("same_year", lang, year=year.year)
    return say(
        "replace_year",
        lang,
        year=year.year,
        h_add=len(change.holidays_added),
        h_del=len(change.holidays_removed),
        w_add=len(change.workdays_added),
        w_del=len(change.workdays_removed),
    )


def _day(day: date, lang: str) -> str:
    zh, en = WEEKDAYS[day.weekday()]
    return f"{day.isoformat()} ({en[:3]})" if lang == "en" else f"{day.isoformat()}（{zh}）"


def _one_line(key: str, lang: str, findings: list[Finding], **values: object) -> str:
    first = findings[0].message(lang) if findings else ""
    more = say("more", lang, n=len(findings) - 1) if len(findings) > 1 else ""
    return say(key, lang, findings=first + more, **values).replace("\n", " ")


def _status(args: argparse.Namespace) -> int:
    lang = _lang(args)
    cal = default_calendar()
    cover = coverage(cal, datetime.now(UTC))
    print(say("status", lang, years=", ".join(str(y) for y in cover.years) or "–"))
    if cover.window is None:
        print(say("uncovered", lang, year=cover.today.year))
        return 1
    print(say("until", lang, until=cover.covered_until, days=cover.days_left))
    if cover.ends_soon:
        print(say("soon", lang, year=cover.next_year))
    return 0

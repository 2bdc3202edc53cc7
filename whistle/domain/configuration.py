"""Configuration as data: what a version holds, what makes it unacceptable, how two differ.

A configuration version holds the area tree, the departments, the routing rules (with the
categories), the SLA policies and the working-calendar years. It is pure data: ``check`` lists
everything wrong with one (an empty list means it may be published) and ``diff`` says what a
proposed version changes against the current one — which communities' categories change owner
and which clock budgets change. Where versions are stored and how workers take them up is the
adapters' business.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from datetime import date, timedelta
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any

from pydantic import Field

from whistle.domain.areas import Area, Department, load_areas, load_departments
from whistle.domain.base import Frozen
from whistle.domain.routing import WILDCARD, RoutingRules, Rule, load_rules
from whistle.domain.sla import SlaPolicy, load_policies
from whistle.domain.types import TIER_ORDER

COMMUNITY_KINDS = frozenset({"community", "village"})
STEP_ORDER: dict[str, int] = {"reminder": 0, "supervision": 1, "public_notice": 2}
WEEKEND = (5, 6)


class HolidayRange(Frozen):
    """One holiday of the notice: its name, its days off and the make-up workdays it brings."""

    name: str
    name_en: str = ""
    dates: tuple[date, ...]
    workdays: tuple[date, ...] = ()


class CalendarYear(Frozen):
    """One year of the State Council's notice: public holidays and make-up working days (调休)."""

    year: int = Field(ge=2000, le=2100)
    holidays: tuple[date, ...] = ()
    workdays: tuple[date, ...] = Field(default=(), description="Weekend days worked (调休).")
    source: str = ""
    ranges: tuple[HolidayRange, ...] = Field(
        default=(), description="The notice's holidays by name (empty for a year given flat)."
    )
    provisional: bool = Field(
        default=False, description="Marked as an example or estimate, not the official notice."
    )

    @classmethod
    def from_notice(cls, data: dict[str, Any]) -> CalendarYear:
        """A year from the ``calendars/cn-<year>.json`` form (holiday ranges with workdays).

        Raises on a malformed file; :func:`parse_notice` says what is wrong instead.
        """
        year, findings = parse_notice(data)
        if year is None:
            raise ValueError("; ".join(f.message("en") for f in findings))
        return year


NOTICE_KEYS = frozenset({"year", "country", "source", "checked", "provisional", "holidays"})
HOLIDAY_KEYS = frozenset({"name", "name_en", "dates", "from", "to", "workdays"})
LONGEST_HOLIDAY = 14
"""Days: no holiday of a notice has been longer (春节 is 8 or 9); longer is a typing error."""


def _day(value: Any) -> date:
    """A date from TOML (a date) or JSON (an ISO string); ValueError otherwise."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value}") from None


def parse_notice(data: Any) -> tuple[CalendarYear | None, list[Finding]]:
    """A year from one State Council notice file (TOML or JSON, parsed), and what is wrong.

    Each holiday gives its days as ``dates`` (a list) or ``from``/``to`` (a range) and may give
    the make-up ``workdays`` it brings. The year is None when the file cannot be read as a notice
    at all; otherwise the findings are :func:`check_calendar_year`'s too (empty: acceptable).
    """
    if not isinstance(data, dict):
        return None, [_bad("notice", "不是由年份和节假日组成的表", "not a table of year, holidays")]
    if not isinstance(data.get("year"), int) or not 2000 <= data["year"] <= 2100:
        return None, [_bad("notice", "缺少 year（2000 至 2100 年）", "year: 2000 to 2100, please")]
    where = f"calendar {data['year']}"
    findings: list[Finding] = []
    unknown = sorted(set(data) - NOTICE_KEYS)
    if unknown:
        keys = ", ".join(unknown)
        findings.append(_bad(where, f"未知的键 {keys}", f"unknown keys {keys}"))
    if not isinstance(data.get("provisional", False), bool):
        findings.append(_bad(where, "provisional 只能是 true 或 false", "provisional: a boolean"))
    entries = data.get("holidays")
    if not isinstance(entries, list) or not entries:
        return None, [*findings, Finding(code="empty_year", where=where)]
    ranges: list[HolidayRange] = []
    for n, entry in enumerate(entries, start=1):
        found = _holiday(f"{where} holiday {n}", entry)
        if isinstance(found, Finding):
            findings.append(found)
        else:
            ranges.append(found)
    if findings:
        return None, findings
    owners: dict[date, str] = {}
    for entry in ranges:
        for day in entry.dates:
            if day in owners:
                findings.append(
                    Finding(
                        code="holiday_twice",
                        where=where,
                        values={"day": day.isoformat(), "first": owners[day], "second": entry.name},
                    )
                )
            owners.setdefault(day, entry.name)
    year = CalendarYear(
        year=data["year"],
        holidays=tuple(sorted({d for r in ranges for d in r.dates})),
        workdays=tuple(sorted({d for r in ranges for d in r.workdays})),
        source=str(data.get("source", "")),
        ranges=tuple(ranges),
        provisional=data.get("provisional") is True,
    )
    return year, [*findings, *check_calendar_year(year)]


def _holiday(where: str, entry: Any) -> HolidayRange | Finding:
    """One holiday entry, or why it cannot be read."""
    if not isinstance(entry, dict):
        return _bad(where, "不是表", "not a table")
    unknown = sorted(set(entry) - HOLIDAY_KEYS)
    if unknown:
        return _bad(where, f"未知的键 {', '.join(unknown)}", f"unknown keys {', '.join(unknown)}")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        return _bad(where, "缺少 name（节日名称）", "name is required")
    where = f"{where.rsplit(' holiday ', 1)[0]} {name}"
    try:
        if "dates" in entry:
            if "from" in entry or "to" in entry:
                return _bad(where, "dates 与 from/to 只能给一种", "give dates or from/to, not both")
            if not isinstance(entry["dates"], list) or not entry["dates"]:
                return _bad(where, "dates 须是非空的日期列表", "dates: a non-empty list of days")
            dates = sorted({_day(d) for d in entry["dates"]})
        elif "from" in entry and "to" in entry:
            first, last = _day(entry["from"]), _day(entry["to"])
            if last < first:
                return Finding(
                    code="range_reversed",
                    where=where,
                    values={"first": first.isoformat(), "last": last.isoformat()},
                )
            dates = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        else:
            return _bad(where, "须给出 dates，或 from 和 to", "dates, or from and to, are required")
        workdays = entry.get("workdays", [])
        if not isinstance(workdays, list):
            return _bad(where, "workdays 须是日期列表", "workdays: a list of days")
        worked = sorted({_day(d) for d in workdays})
    except ValueError as exc:
        return _bad(where, f"不是日期（YYYY-MM-DD）：{exc}", f"not a date (YYYY-MM-DD): {exc}")
    if len(dates) > LONGEST_HOLIDAY:
        return Finding(
            code="holiday_too_long",
            where=where,
            values={"days": str(len(dates)), "most": str(LONGEST_HOLIDAY)},
        )
    return HolidayRange(
        name=name.strip(),
        name_en=str(entry.get("name_en", "")),
        dates=tuple(dates),
        workdays=tuple(worked),
    )


def _bad(where: str, zh: str, en: str) -> Finding:
    return Finding(code="notice_unreadable", where=where, values={"detail_zh": zh, "detail": en})


def read_notice(path: Path) -> tuple[CalendarYear | None, list[Finding]]:
    """:func:`parse_notice` of a ``.toml`` or ``.json`` file."""
    where = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [_bad(where, f"无法打开：{exc}", f"cannot open: {exc}")]
    try:
        if path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            return None, [_bad(where, "须是 .toml 或 .json 文件", "a .toml or .json file, please")]
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        return None, [_bad(where, f"格式错误：{exc}", f"malformed: {exc}")]
    return parse_notice(data)


class Configuration(Frozen):
    """The contents of one configuration version."""

    areas: dict[str, Area]
    departments: dict[str, Department]
    routing: RoutingRules
    policies: dict[str, SlaPolicy]
    calendar_years: tuple[CalendarYear, ...] = ()

    def communities(self) -> list[str]:
        """Codes of the communities and villages, sorted."""
        return sorted(c for c, a in self.areas.items() if a.kind in COMMUNITY_KINDS)

    def categories(self) -> list[str]:
        """Codes of the categories, sorted."""
        return sorted(self.routing.categories)


def packaged_configuration() -> Configuration:
    """Version 1: the data files shipped in ``whistle/data``."""
    root = resources.files("whistle.data").joinpath("calendars")
    years = [
        CalendarYear.from_notice(json.loads(p.read_text(encoding="utf-8")))
        for p in sorted(root.iterdir(), key=lambda p: p.name)
        if p.name.endswith(".json")
    ]
    return Configuration(
        areas=load_areas(),
        departments=load_departments(),
        routing=load_rules(),
        policies=load_policies(),
        calendar_years=tuple(years),
    )


class Finding(Frozen):
    """One thing wrong with a proposed version: a stable code, where, and the details."""

    code: str
    where: str
    values: dict[str, str] = Field(default_factory=dict)

    def message(self, lang: str = "zh") -> str:
        """The finding in Chinese (default) or English."""
        zh, en = FINDING_MESSAGES[self.code]
        return (en if lang == "en" else zh).format(where=self.where, **self.values)


FINDING_MESSAGES: dict[str, tuple[str, str]] = {
    "unknown_department": (
        "{where}：部门 {department} 不存在",
        "{where}: no department {department}",
    ),
    "unknown_area": ("{where}：区域 {area} 不存在", "{where}: no area {area}"),
    "unknown_category": ("{where}：类别 {category} 不存在", "{where}: no category {category}"),
    "category_without_group": (
        "{where}：类别没有归入任何分组（如 城市管理、交通）",
        "{where}: the category is in no group (such as urban management or traffic)",
    ),
    "unknown_policy": ("{where}：时限政策 {policy} 不存在", "{where}: no SLA policy {policy}"),
    "no_owner": (
        "{where}：类别 {category} 在 {community} 无人负责（兜底部门 {department} 不存在）",
        "{where}: nobody owns {category} in {community} (fallback {department} is unknown)",
    ),
    "ladder_out_of_order": (
        "{where}：第 {rung} 级升级顺序有误（{detail}）",
        "{where}: escalation rung {rung} is out of order ({detail})",
    ),
    "holiday_and_workday": (
        "{where}：{day} 既是节假日又是调休上班日",
        "{where}: {day} is both a holiday and a make-up workday",
    ),
    "day_outside_year": ("{where}：{day} 不在 {year} 年内", "{where}: {day} is not in {year}"),
    "workday_not_weekend": (
        "{where}：调休上班日 {day} 是{weekday}，不是周末",
        "{where}: make-up workday {day} is a {weekday_en}, not a weekend day",
    ),
    "duplicate_year": ("{where}：{year} 年的日历重复", "{where}: the year {year} appears twice"),
    "notice_unreadable": (
        "{where}：无法读取（{detail_zh}）",
        "{where}: cannot be read ({detail})",
    ),
    "empty_year": (
        "{where}：没有任何节假日（整年只按周末计算）",
        "{where}: no holidays at all (the year would count weekends only)",
    ),
    "range_reversed": (
        "{where}：假期起始日 {first} 晚于结束日 {last}",
        "{where}: the holiday starts on {first}, after its last day {last}",
    ),
    "holiday_too_long": (
        "{where}：假期长达 {days} 天，超过 {most} 天，请核对",
        "{where}: the holiday lasts {days} days, more than {most}; check the dates",
    ),
    "holiday_twice": (
        "{where}：{day} 同时属于 {first} 和 {second}",
        "{where}: {day} belongs to both {first} and {second}",
    ),
}
"""Finding code → (Chinese, English) message templates."""

WEEKDAYS = (
    ("周一", "Monday"),
    ("周二", "Tuesday"),
    ("周三", "Wednesday"),
    ("周四", "Thursday"),
    ("周五", "Friday"),
    ("周六", "Saturday"),
    ("周日", "Sunday"),
)


def check(config: Configuration) -> list[Finding]:
    """Everything that makes ``config`` unacceptable; empty when it may be published."""
    return [
        *_rule_findings(config),
        *_owner_findings(config),
        *_ladder_findings(config),
        *_calendar_findings(config),
    ]


def _rule_findings(config: Configuration) -> Iterator[Finding]:
    for code, category in sorted(config.routing.categories.items()):
        if not category.group:
            yield Finding(code="category_without_group", where=f"category {code}")
    for rule in (*config.routing.rules, config.routing.fallback):
        where = f"rule {rule.id}"
        for department in (rule.lead, *rule.supporting):
            if department not in config.departments:
                yield Finding(
                    code="unknown_department", where=where, values={"department": department}
                )
        if rule.area != WILDCARD and rule.area not in config.areas:
            yield Finding(code="unknown_area", where=where, values={"area": rule.area})
        if rule.category != WILDCARD and rule.category not in config.routing.categories:
            yield Finding(code="unknown_category", where=where, values={"category": rule.category})
        if rule.policy not in config.policies:
            yield Finding(code="unknown_policy", where=where, values={"policy": rule.policy})


def _owner_findings(config: Configuration) -> Iterator[Finding]:
    """Every category × community whose matching rule (after the fallback) has no known lead."""
    for category in config.categories():
        for community in config.communities():
            rule = config.routing.match(category, community)
            if rule.lead not in config.departments:
                yield Finding(
                    code="no_owner",
                    where=f"rule {rule.id}",
                    values={"category": category, "community": community, "department": rule.lead},
                )


def _ladder_findings(config: Configuration) -> Iterator[Finding]:
    """Rungs climb: 催办 → 督办 → 通报, community → street → district, each later than the last."""
    for name, policy in config.policies.items():
        specs = policy.escalation
        for n, (before, after) in enumerate(pairwise(specs), start=2):
            problems = []
            if STEP_ORDER[after.step] < STEP_ORDER[before.step]:
                problems.append(f"{after.step} after {before.step}")
            if TIER_ORDER[after.tier] < TIER_ORDER[before.tier]:
                problems.append(f"{after.tier} after {before.tier}")
            if after.after <= before.after:
                problems.append(f"{_iso(after.after)} not after {_iso(before.after)}")
            if problems:
                yield Finding(
                    code="ladder_out_of_order",
                    where=f"policy {name}",
                    values={"rung": str(n), "detail": "; ".join(problems)},
                )


def _calendar_findings(config: Configuration) -> Iterator[Finding]:
    seen: set[int] = set()
    for year in config.calendar_years:
        if year.year in seen:
            yield Finding(
                code="duplicate_year",
                where=f"calendar {year.year}",
                values={"year": str(year.year)},
            )
        seen.add(year.year)
        yield from check_calendar_year(year)


def check_calendar_year(year: CalendarYear) -> list[Finding]:
    """What is wrong with one year: days outside it, a day both off and worked, a make-up
    workday that is not a weekend day, no holidays at all."""
    where = f"calendar {year.year}"
    found: list[Finding] = []
    if not year.holidays:
        found.append(Finding(code="empty_year", where=where))
    for day in sorted(set(year.holidays) | set(year.workdays)):
        if day.year != year.year:
            found.append(
                Finding(
                    code="day_outside_year",
                    where=where,
                    values={"day": day.isoformat(), "year": str(year.year)},
                )
            )
    for day in sorted(set(year.holidays) & set(year.workdays)):
        found.append(
            Finding(code="holiday_and_workday", where=where, values={"day": day.isoformat()})
        )
    for day in year.workdays:
        if day.weekday() not in WEEKEND:
            zh, en = WEEKDAYS[day.weekday()]
            found.append(
                Finding(
                    code="workday_not_weekend",
                    where=where,
                    values={"day": day.isoformat(), "weekday": zh, "weekday_en": en},
                )
            )
    return found


def with_calendar_year(config: Configuration, year: CalendarYear) -> Configuration:
    """``config`` with ``year`` added, or replacing the same year: the version to propose when a
    notice is imported (publish it through the configuration versions, after :func:`check`)."""
    years = sorted(
        (*(y for y in config.calendar_years if y.year != year.year), year), key=lambda y: y.year
    )
    return config.model_copy(update={"calendar_years": tuple(years)})


def _iso(delta: timedelta) -> str:
    """A budget as people say it: ``7d``, ``2h``, ``30min``."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class OwnerChange(Frozen):
    """A category × community whose departments change between two versions."""

    category: str
    community: str
    before: Rule
    after: Rule


class BudgetChange(Frozen):
    """A clock whose budget or counting mode changes between two versions."""

    policy: str
    urgency: str
    clock: str
    before: str | None
    after: str | None


class ConfigDiff(Frozen):
    """What publishing a proposed version changes against the current one."""

    owner_changes: tuple[OwnerChange, ...] = ()
    budget_changes: tuple[BudgetChange, ...] = ()
    holidays_added: tuple[date, ...] = ()
    holidays_removed: tuple[date, ...] = ()
    workdays_added: tuple[date, ...] = ()
    workdays_removed: tuple[date, ...] = ()

    def empty(self) -> bool:
        """Whether nothing that routing or clocks use changes."""
        return not any(getattr(self, name) for name in type(self).model_fields)


def diff(current: Configuration, proposed: Configuration) -> ConfigDiff:
    """Owners, clock budgets and calendar days that change from ``current`` to ``proposed``."""
    holidays = (_days(current, "holidays"), _days(proposed, "holidays"))
    workdays = (_days(current, "workdays"), _days(proposed, "workdays"))
    return ConfigDiff(
        owner_changes=tuple(_owner_changes(current, proposed)),
        budget_changes=tuple(_budget_changes(current, proposed)),
        holidays_added=tuple(sorted(holidays[1] - holidays[0])),
        holidays_removed=tuple(sorted(holidays[0] - holidays[1])),
        workdays_added=tuple(sorted(workdays[1] - workdays[0])),
        workdays_removed=tuple(sorted(workdays[0] - workdays[1])),
    )


def _owner_changes(current: Configuration, proposed: Configuration) -> Iterator[OwnerChange]:
    categories = sorted(set(current.categories()) | set(proposed.categories()))
    communities = sorted(set(current.communities()) | set(proposed.communities()))
    for category in categories:
        for community in communities:
            before = current.routing.match(category, community)
            after = proposed.routing.match(category, community)
            if (before.lead, before.supporting, before.policy) != (
                after.lead,
                after.supporting,
                after.policy,
            ):
                yield OwnerChange(
                    category=category, community=community, before=before, after=after
                )


def _budget_changes(current: Configuration, proposed: Configuration) -> Iterator[BudgetChange]:
    for name in sorted(set(current.policies) | set(proposed.policies)):
        old, new = _budgets(current.policies.get(name)), _budgets(proposed.policies.get(name))
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                urgency, clock = key
                yield BudgetChange(
                    policy=name,
                    urgency=urgency,
                    clock=clock,
                    before=old.get(key),
                    after=new.get(key),
                )


def _budgets(policy: SlaPolicy | None) -> dict[tuple[str, str], str]:
    if policy is None:
        return {}
    return {
        (urgency, clock): f"{_iso(spec.within)} {spec.mode}"
        for urgency, clocks in policy.clocks.items()
        for clock, spec in clocks.items()
    }


def _days(config: Configuration, which: str) -> set[date]:
    return {day for year in config.calendar_years for day in getattr(year, which)}

"""Configuration versions: what is refused before publishing, and what a change would change."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from whistle.domain.configuration import (
    FINDING_MESSAGES,
    CalendarYear,
    Configuration,
    check,
    diff,
    packaged_configuration,
)
from whistle.domain.routing import Category, Rule
from whistle.domain.sla import EscalationSpec

JINHAI = "tongan.datong.jinhai"


@pytest.fixture(scope="module")
def shipped() -> Configuration:
    return packaged_configuration()


def with_rules(config: Configuration, *rules: Rule, fallback: Rule | None = None) -> Configuration:
    routing = config.routing.model_copy(
        update={
            "rules": (*config.routing.rules, *rules),
            "fallback": fallback or config.routing.fallback,
        }
    )
    return config.model_copy(update={"routing": type(routing).model_validate(routing.model_dump())})


def codes(config: Configuration) -> list[str]:
    return [f.code for f in check(config)]


def test_the_shipped_configuration_is_acceptable(shipped: Configuration) -> None:
    assert check(shipped) == []
    assert {y.year for y in shipped.calendar_years} >= {2025, 2026}
    assert JINHAI in shipped.communities() and "parking" in shipped.categories()


def test_a_rule_naming_an_unknown_department_area_category_or_policy_is_refused(
    shipped: Configuration,
) -> None:
    bad = Rule(
        id="bad", category="ghosts", area="tongan.nowhere", lead="ministry_of_magic",
        supporting=("urban_management", "aurors"), policy="instant",
    )  # fmt: skip
    findings = check(with_rules(shipped, bad))
    assert [(f.code, f.where) for f in findings] == [
        ("unknown_department", "rule bad"),
        ("unknown_department", "rule bad"),
        ("unknown_area", "rule bad"),
        ("unknown_category", "rule bad"),
        ("unknown_policy", "rule bad"),
    ]
    assert findings[0].message() == "rule bad：部门 ministry_of_magic 不存在"
    assert findings[1].message("en") == "rule bad: no department aurors"


def test_a_category_with_no_owner_after_the_fallback_is_refused(shipped: Configuration) -> None:
    typhoon = shipped.routing.model_copy(
        update={
            "categories": {
                **shipped.routing.categories,
                "typhoon_damage": Category(name="台风灾损", group="公共安全"),
            }
        }
    )
    config = shipped.model_copy(update={"routing": typhoon})
    assert check(config) == []  # a new category without rules goes to the fallback owner
    orphan = shipped.routing.fallback.model_copy(update={"lead": "gone_office"})
    findings = [f for f in check(with_rules(config, fallback=orphan)) if f.code == "no_owner"]
    orphaned = [f.values["community"] for f in findings]
    assert orphaned and set(orphaned) <= set(config.communities())
    assert all(config.routing.match("typhoon_damage", c).id == orphan.id for c in orphaned)
    assert {f.values["category"] for f in findings} == {"typhoon_damage"}
    assert "无人负责" in findings[0].message()


def test_a_ladder_that_steps_down_or_back_in_time_is_refused(shipped: Configuration) -> None:
    policy = shipped.policies["standard"]
    broken = (
        EscalationSpec(step="supervision", tier="street", after=timedelta(days=1)),
        EscalationSpec(step="reminder", tier="community", after=timedelta(hours=2)),
    )
    config = shipped.model_copy(
        update={
            "policies": {
                **shipped.policies,
                "standard": policy.model_copy(update={"escalation": broken}),
            }
        }
    )
    [finding] = check(config)
    assert finding.code == "ladder_out_of_order" and finding.where == "policy standard"
    assert finding.values["rung"] == "2"
    assert finding.values["detail"] == (
        "reminder after supervision; community after street; 2h not after 1d"
    )


def test_calendar_years_are_checked_against_themselves_and_the_weekdays(
    shipped: Configuration,
) -> None:
    wrong = CalendarYear(
        year=2027,
        holidays=(date(2027, 1, 1), date(2027, 2, 6), date(2026, 12, 31)),
        workdays=(date(2027, 2, 6), date(2027, 2, 3)),  # a Saturday twice; a Wednesday
    )
    config = shipped.model_copy(update={"calendar_years": (*shipped.calendar_years, wrong, wrong)})
    found = [(f.code, f.values.get("day")) for f in check(config)]
    assert ("day_outside_year", "2026-12-31") in found
    assert ("holiday_and_workday", "2027-02-06") in found
    assert ("workday_not_weekend", "2027-02-03") in found
    assert ("duplicate_year", None) in found
    message = next(f for f in check(config) if f.code == "workday_not_weekend").message()
    assert message == "calendar 2027：调休上班日 2027-02-03 是周三，不是周末"


def test_a_category_must_be_listed_under_a_group(shipped: Configuration) -> None:
    loose = {**shipped.routing.categories, "typhoon_damage": Category(name="台风灾损")}
    config = shipped.model_copy(
        update={"routing": shipped.routing.model_copy(update={"categories": loose})}
    )
    [finding] = check(config)
    assert (finding.code, finding.where) == ("category_without_group", "category typhoon_damage")


def test_every_finding_code_speaks_chinese_and_english() -> None:
    for code, (zh, en) in FINDING_MESSAGES.items():
        assert re.search(r"[\u4e00-\u9fff]", zh), code
        assert not re.search(r"[\u4e00-\u9fff]", en), code


def test_the_2026_notice_matches_the_state_councils_days(shipped: Configuration) -> None:
    year = next(y for y in shipped.calendar_years if y.year == 2026)
    assert date(2026, 2, 15) in year.holidays and date(2026, 10, 7) in year.holidays
    assert set(year.workdays) == {
        date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9),
        date(2026, 9, 20), date(2026, 10, 10),
    }  # fmt: skip


def test_diff_names_the_communities_whose_category_changes_owner(shipped: Configuration) -> None:
    moved = Rule(
        id="jinhai.sanitation.greening", category="sanitation", area=JINHAI, lead="greening",
    )  # fmt: skip
    changes = diff(shipped, with_rules(shipped, moved))
    assert [(c.category, c.community) for c in changes.owner_changes] == [("sanitation", JINHAI)]
    [change] = changes.owner_changes
    assert change.after.id == "jinhai.sanitation.greening" and change.before.lead != "greening"
    assert changes.budget_changes == () and not changes.holidays_added


def test_a_rule_for_a_street_changes_every_community_below_it(shipped: Configuration) -> None:
    street = Rule(
        id="datong.noise", category="noise", area="tongan.datong", lead="urban_management"
    )
    changed = {c.community for c in diff(shipped, with_rules(shipped, street)).owner_changes}
    below = {c for c in shipped.communities() if c.startswith("tongan.datong.")}
    assert changed and changed <= below


def test_diff_names_the_clocks_whose_budget_changes(shipped: Configuration) -> None:
    policy = shipped.policies["standard"]
    general = dict(policy.clocks["general"])
    general["resolve"] = general["resolve"].model_copy(update={"within": timedelta(days=5)})
    shorter = policy.model_copy(update={"clocks": {**policy.clocks, "general": general}})
    proposed = shipped.model_copy(update={"policies": {**shipped.policies, "standard": shorter}})
    [change] = diff(shipped, proposed).budget_changes
    assert (change.policy, change.urgency, change.clock) == ("standard", "general", "resolve")
    assert (change.before, change.after) == ("7d calendar", "5d calendar")


def test_diff_of_a_new_calendar_year_lists_its_days(shipped: Configuration) -> None:
    year = CalendarYear(year=2027, holidays=(date(2027, 1, 1),), workdays=(date(2027, 1, 2),))
    changes = diff(
        shipped, shipped.model_copy(update={"calendar_years": (*shipped.calendar_years, year)})
    )
    assert changes.holidays_added == (date(2027, 1, 1),)
    assert changes.workdays_added == (date(2027, 1, 2),)
    assert not changes.owner_changes and not changes.empty()
    assert diff(shipped, shipped).empty()

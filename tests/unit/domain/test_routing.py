"""Routing precedence: exact category along compound → community → street → district → city."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.stories import ADMIN, T0, Story, raise_whistle
from whistle.domain import (
    CaseState,
    RoutingRules,
    Rule,
    WhistleRaised,
    fold,
    load_areas,
    load_departments,
    load_policies,
    load_rules,
    route,
)
from whistle.domain.areas import ancestors, lineage

VANKE = "haicang.xinyang.xinyang.vanke"

RULES = RoutingRules(
    version="test.1",
    fallback=Rule(id="fallback", category="*", area="*", lead="district_office"),
    rules=(
        Rule(id="city", category="noise", area="*", lead="environment"),
        Rule(id="district", category="noise", area="tongan", lead="public_security"),
        Rule(id="street", category="noise", area="tongan.datong", lead="urban_management"),
        Rule(id="community", category="noise", area="tongan.datong.jinhai", lead="housing"),
        Rule(id="compound", category="noise", area=VANKE, lead="fire"),
        Rule(id="haicang-any", category="*", area="haicang", lead="civil_affairs"),
    ),
)


@pytest.mark.parametrize(
    ("area", "category", "rule_id"),
    [
        ("tongan.datong.jinhai", "noise", "community"),
        ("tongan.datong.fengxiang", "noise", "street"),
        ("tongan.xiangping.lufeng", "noise", "district"),
        ("xiangan.maxiang.wumei", "noise", "city"),
        (VANKE, "noise", "compound"),
        ("haicang.xinyang.xinyang", "noise", "city"),  # exact category beats an area wildcard
        ("haicang.xinyang.xinyang", "greening", "haicang-any"),
        ("xiangan.maxiang.wumei", "greening", "fallback"),
    ],
)
def test_most_specific_rule_wins(area: str, category: str, rule_id: str) -> None:
    assert RULES.match(category, area).id == rule_id


def test_two_rules_for_the_same_area_and_category_are_an_error() -> None:
    with pytest.raises(ValueError, match="both match"):
        RoutingRules(
            version="x",
            fallback=RULES.fallback,
            rules=(RULES.rules[0], RULES.rules[0].model_copy(update={"id": "dup"})),
        )


def routed_state(**fields: Any) -> CaseState:
    """A raised (not yet routed) case with ``fields`` in its whistle."""
    story = Story()
    story.do(raise_whistle(**fields))
    return story.s


def test_route_records_rule_version_policy_and_every_due_time() -> None:
    state = routed_state()
    command = route(load_rules(), state, T0)
    assert command.command_id == f"route:{state.case_id}"
    assert command.rule_id == "tongan.datong.jinhai.tourist_crowds"
    assert command.rules_version == load_rules().version
    assert command.policy == "whistle"
    dues = {p.key: p.due_at for p in command.clocks}
    assert dues["ack:urban_management"] == T0 + timedelta(minutes=30)
    assert dues["resolve:urban_management"] == T0 + timedelta(days=7)
    assert command.escalation[0].step == "reminder"


def test_unknown_category_goes_to_the_district_office() -> None:
    command = route(load_rules(), routed_state(category="stray_dogs"), T0)
    assert command.lead == "district_office" and command.rule_id == "fallback.district_office"


def test_compound_rule_in_vanke() -> None:
    state = routed_state(
        community="haicang.xinyang.xinyang",
        compound=VANKE,
        category="square_dancing",
        actor=ADMIN,
    )
    command = route(load_rules(), state, T0)
    assert command.rule_id == "haicang.vanke.square_dancing" and command.lead == "housing"


def test_a_rule_change_never_alters_a_routed_case(tmp_path: Path) -> None:
    story = Story()
    story.do(raise_whistle())
    story.do(route(load_rules(), story.s, T0))
    before = story.s
    text = Path(__file__).resolve().parents[3] / "whistle" / "data" / "routing_rules.toml"
    changed = (
        text.read_text(encoding="utf-8")
        .replace('version = "2025.12.1"', 'version = "2099.1"')
        .replace(
            'lead = "urban_management"\n'
            'supporting = ["public_security", "transport", "culture_tourism"]',
            'lead = "transport"\nsupporting = []',
        )
    )
    (tmp_path / "rules.toml").write_text(changed, encoding="utf-8")
    new_rules = load_rules(tmp_path / "rules.toml")
    assert new_rules.version == "2099.1"
    assert route(new_rules, before, T0).lead == "transport"
    # The routed case replays to the same state: its events carry the old routing.
    assert fold(story.events) == before
    assert before.lead == "urban_management" and before.rules_version == "2025.12.1"


def test_working_day_policy_counts_on_the_calendar() -> None:
    state = routed_state(category="property_management", urgency="complex")
    command = route(load_rules(), state, datetime(2025, 9, 30, 9, 0, tzinfo=T0.tzinfo))
    assert command.policy == "working_days"
    resolve = next(p for p in command.clocks if p.kind == "resolve")
    assert resolve.mode == "working"
    # 13 working days (84.5 h) from Tue 30 Sep 09:00: 6 h that day, then the 1–8 Oct golden week
    # is skipped, Sat 11 Oct (调休) counts, and twelve full days end on Thu 23 Oct; 30 min remain.
    assert resolve.due_at == datetime(2025, 10, 24, 9, 0, tzinfo=T0.tzinfo)


def test_every_rule_names_known_departments_areas_and_policies() -> None:
    departments, areas, policies = load_departments(), load_areas(), load_policies()
    rules = load_rules()
    for rule in (*rules.rules, rules.fallback):
        assert rule.lead in departments, rule.id
        assert all(d in departments for d in rule.supporting), rule.id
        assert rule.area == "*" or rule.area in areas, rule.id
        assert rule.policy in policies, rule.id
    for category in (
        "parking",
        "noise",
        "square_dancing",
        "street_vendors",
        "sanitation",
        "greening",
        "property_management",
        "tourist_crowds",
    ):
        assert category in rules.categories


def test_registry_holds_the_seed_names() -> None:
    names = {a.name_zh for a in load_areas().values()}
    for name in (
        "海沧区",
        "同安区",
        "翔安区",
        "大同街道",
        "祥平街道",
        "大嶝街道",
        "马巷镇",
        "新店镇",
        "新圩镇",
        "内厝镇",
        "金海社区",
        "凤祥社区",
        "芸溪社区",
        "西池社区",
        "凤山社区",
        "陆丰社区",
        "双沪社区",
        "鼓岩社区",
        "舫星社区",
        "曾林社区",
        "五美社区",
        "万科城",
    ):
        assert name in names
    assert load_departments()["district_office"].name_zh.startswith("区政府办")


def test_ancestors_roll_up_the_hierarchy() -> None:
    assert ancestors(VANKE) == ("haicang.xinyang.xinyang", "haicang.xinyang", "haicang")
    assert lineage("tongan") == ("tongan",)


def test_route_accepts_the_raised_event_as_well_as_the_state() -> None:
    story = Story()
    [raised] = story.do(raise_whistle())
    assert isinstance(raised, WhistleRaised)
    assert route(load_rules(), raised, T0) == route(load_rules(), story.s, T0)

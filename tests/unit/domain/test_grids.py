"""Grids (网格) are the lowest level of the area tree: validated at intake, routed, in scope.

A case raised in a grid must stay visible to its community, street and district: the scope
checks match an area and everything beneath it, so the case's area must be the grid's dotted
code, never free text.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from projections.apply import ApplyStats, apply_event, decode
from projections.model import Model
from tests.stories import ADMIN, JINHAI, SECRETARY, Story, raise_whistle
from whistle.domain import RoutingRules, Rule, WhistleRaised, load_areas, load_rules, route
from whistle.domain.areas import case_area, within
from whistle.domain.authz import covers
from whistle.domain.base import Actor
from whistle.domain.codec import encode

GRID = "tongan.datong.jinhai.g01"
VANKE = "haicang.xinyang.xinyang.vanke"
VANKE_GRID = f"{VANKE}.g01"


def projected_area(story: Story) -> str:
    """The ``area`` the projector writes for the story's case."""
    model = Model()
    for i, event in enumerate(story.events):
        raw = encode(event)
        decoded = decode(raw)
        assert decoded is not None
        apply_event(model, decoded, raw.decode(), 0, i, ApplyStats())
    area = model.cases[story.events[0].case_id].case["area"]
    assert isinstance(area, str)
    return area


def test_the_demo_grids_are_named_children_of_a_community_or_compound() -> None:
    areas = load_areas()
    grids = {code: a for code, a in areas.items() if a.kind == "grid"}
    assert GRID in grids and VANKE_GRID in grids
    assert areas[GRID].name_zh == "金海社区第一网格" and areas[GRID].parent == JINHAI
    assert areas[VANKE_GRID].name_zh == "万科城第一网格" and areas[VANKE_GRID].parent == VANKE
    for grid in grids.values():
        assert grid.parent is not None
        assert areas[grid.parent].kind in ("community", "village", "compound"), grid.code


HAICANG_COMMUNITY = "haicang.xinyang.xinyang"


def test_the_tree_refuses_a_grid_under_a_street(tmp_path: Path) -> None:
    rows = [("tongan", "district"), ("tongan.datong", "street"), ("tongan.datong.g01", "grid")]
    toml = "".join(
        f'[[areas]]\ncode = "{code}"\nkind = "{kind}"\nname_zh = "x"\nname_en = "x"\n\n'
        for code, kind in rows
    )
    (tmp_path / "areas.toml").write_text(toml, encoding="utf-8")
    with pytest.raises(ValueError, match="its parent must be a community"):
        load_areas(tmp_path / "areas.toml")
    (tmp_path / "areas.toml").write_text(toml.replace('"street"', '"community"'), "utf-8")
    assert load_areas(tmp_path / "areas.toml")["tongan.datong.g01"].parent == "tongan.datong"


@pytest.mark.parametrize(
    ("community", "compound", "grid", "why"),
    [
        (JINHAI, None, "3号网格", "not a known grid"),
        (JINHAI, None, "tongan.datong.jinhai.g09", "not a known grid"),
        (JINHAI, None, JINHAI, "not a known grid"),
        ("tongan.datong.fengxiang", None, GRID, "not a grid of"),
        (HAICANG_COMMUNITY, None, VANKE_GRID, "not a grid of"),
        (HAICANG_COMMUNITY, VANKE, GRID, "not a grid of"),
    ],
)
def test_a_grid_outside_the_tree_or_the_community_is_rejected(
    community: str, compound: str | None, grid: str, why: str
) -> None:
    rejection = Story().rejected(
        raise_whistle(community=community, compound=compound, grid=grid, actor=ADMIN),
        "unknown_grid",
    )
    assert "not a known grid of" in rejection.message and grid in rejection.message
    assert rejection.params["area"] == (compound or community), why
    assert rejection.message_zh is not None and "网格" in rejection.message_zh


def test_a_case_in_a_grid_projects_the_grid_as_its_area_and_stays_in_scope() -> None:
    story = Story()
    story.do(raise_whistle(grid=GRID))
    assert story.s.grid == GRID and story.s.area == GRID
    area = projected_area(story)
    assert area == GRID
    for above in (JINHAI, "tongan.datong", "tongan"):
        assert within(area, above), above
        assert covers(Actor(user_id="u", role="supervisor", area=above), story.s.area)
    assert not within(area, "tongan.datong.fengxiang")
    assert not covers(Actor(user_id="u", role="secretary", area="tongan.datong.fengxiang"), area)


def test_a_grid_in_a_compound_lies_beneath_the_compound() -> None:
    story = Story()
    story.do(
        raise_whistle(community=HAICANG_COMMUNITY, compound=VANKE, grid=VANKE_GRID, actor=ADMIN)
    )
    assert story.s.area == VANKE_GRID == projected_area(story)
    assert within(VANKE_GRID, VANKE) and within(VANKE_GRID, HAICANG_COMMUNITY)


def test_an_old_free_text_grid_falls_back_to_the_community() -> None:
    """Events raised before grids were validated carry free text; they stay in scope."""
    story = Story()
    story.do(raise_whistle())
    raised = json.loads(encode(story.events[0]))
    raised["grid"] = "3号网格"
    story.events[0] = type(story.events[0]).model_validate(raised)
    assert projected_area(story) == JINHAI
    assert case_area(JINHAI, None, "3号网格") == JINHAI
    assert case_area(JINHAI, None, "tongan.datong.jinhaix.g01") == JINHAI


def test_routing_matches_a_grid_rule_before_the_community_rule() -> None:
    rules = RoutingRules(
        version="t",
        fallback=Rule(id="fallback", category="*", area="*", lead="district_office"),
        rules=(
            Rule(id="community", category="parking", area=JINHAI, lead="transport"),
            Rule(id="grid", category="parking", area=GRID, lead="urban_management"),
        ),
    )
    in_grid, elsewhere = Story(), Story()
    in_grid.do(raise_whistle(category="parking", grid=GRID))
    elsewhere.do(raise_whistle(category="parking", grid="tongan.datong.jinhai.g02"))
    raised = in_grid.events[0]
    assert isinstance(raised, WhistleRaised)
    assert route(rules, in_grid.s, in_grid.now).rule_id == "grid"
    assert route(rules, raised, in_grid.now).rule_id == "grid"
    assert route(rules, elsewhere.s, elsewhere.now).rule_id == "community"


def test_the_packaged_rules_name_a_grid() -> None:
    story = Story()
    story.do(raise_whistle(category="parking", grid=GRID, actor=SECRETARY))
    command = route(load_rules(), story.s, story.now)
    assert command.rule_id == f"{GRID}.parking"
    assert command.lead == "urban_management"

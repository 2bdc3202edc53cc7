"""Routing rules as versioned data: category × area, most specific area wins, a fallback owner.

Rules for the exact category are tried first, along the hierarchy grid → compound →
community → street → district → citywide (area ``*``); then the category wildcard ``*`` the
same way (an area's default owner); then the fallback owner, the district government office.
The routed case records the rule id, the rule-set version and every clock's due time, so a
later rule or policy change never alters it.
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import Field, PrivateAttr

from whistle.domain.areas import case_area, lineage
from whistle.domain.base import SYSTEM, Frozen
from whistle.domain.calendar import BusinessCalendar
from whistle.domain.commands import RouteCase
from whistle.domain.events import WhistleRaised
from whistle.domain.sla import SlaPolicy, load_policies, plan_clocks
from whistle.domain.state import CaseState

WILDCARD = "*"


class Rule(Frozen):
    """Who handles ``category`` in ``area`` (and below), under which SLA policy."""

    id: str
    category: str
    area: str = Field(description="Area code; '*' for citywide.")
    lead: str
    supporting: tuple[str, ...] = ()
    policy: str = "standard"


class Category(Frozen):
    """A case category as residents and 311 apps see it: its name, the group it is listed
    under (城市管理, 交通, 治安…) and words to find it by."""

    name: str = Field(description="Chinese name, e.g. 违章停车.")
    group: str = Field(default="", description="Group of categories, e.g. 交通.")
    keywords: tuple[str, ...] = Field(default=(), description="Words to find it by.")


class RoutingRules(Frozen):
    """A versioned rule set with its fallback owner (the district government office)."""

    version: str
    fallback: Rule
    rules: tuple[Rule, ...] = ()
    categories: dict[str, Category] = Field(default_factory=dict, description="Code → category.")

    _table: dict[tuple[str, str], Rule] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        """Index the rules by (area, category); two rules for the same pair are an error."""
        for rule in self.rules:
            key = (rule.area, rule.category)
            if key in self._table:
                raise ValueError(f"rules {self._table[key].id} and {rule.id} both match {key}")
            self._table[key] = rule

    def match(self, category: str, area: str) -> Rule:
        """The most specific rule for ``category`` in ``area``, else the fallback (memoised)."""
        key = (id(self), category, area)
        found = _MATCHES.get(key)
        if found is not None and found[0] is self:
            return found[1]
        rule = self._lookup(category, area)
        if len(_MATCHES) > MAX_CACHED_MATCHES:
            _MATCHES.clear()
        _MATCHES[key] = (self, rule)
        return rule

    def _lookup(self, category: str, area: str) -> Rule:
        table = self._table
        areas = (*lineage(area), WILDCARD)
        for cat in (category, WILDCARD):
            for code in areas:
                rule = table.get((code, cat))
                if rule is not None:
                    return rule
        return self.fallback


_MATCHES: dict[tuple[int, str, str], tuple[RoutingRules, Rule]] = {}
"""(id(rules), category, area) → (rules, the matching rule); rule sets never change once built."""
MAX_CACHED_MATCHES = 10_000


def _parse(data: dict[str, object]) -> RoutingRules:
    fallback = data["fallback"]
    assert isinstance(fallback, dict)
    categories = data.get("categories", {})
    assert isinstance(categories, dict)
    return RoutingRules.model_validate(
        {
            "version": data["version"],
            "fallback": {"category": WILDCARD, "area": WILDCARD, **fallback},
            "rules": data.get("rules", []),
            # a bare string is a name alone (the format before categories had groups)
            "categories": {
                code: {"name": value} if isinstance(value, str) else value
                for code, value in categories.items()
            },
        }
    )


@cache
def _packaged() -> RoutingRules:
    text = resources.files("whistle.data").joinpath("routing_rules.toml").read_text("utf-8")
    return _parse(tomllib.loads(text))


def load_rules(path: Path | None = None) -> RoutingRules:
    """The rule set from ``path`` or the packaged ``routing_rules.toml``."""
    if path is None:
        return _packaged()
    return _parse(tomllib.loads(path.read_text(encoding="utf-8")))


def route(
    rules: RoutingRules,
    case: CaseState | WhistleRaised,
    now: datetime,
    policies: dict[str, SlaPolicy] | None = None,
    calendar: BusinessCalendar | None = None,
    policy_version: str | None = None,
) -> RouteCase:
    """The system's RouteCase for a raised case: departments, policy and every clock's due."""
    area = case_area(case.community, case.compound, case.grid)
    rule = rules.match(case.category, area)
    catalogue = policies if policies is not None else load_policies()
    policy = catalogue.get(rule.policy)
    if policy is None:
        raise ValueError(f"rule {rule.id} names unknown SLA policy {rule.policy!r}")
    return RouteCase(
        command_id=f"route:{case.case_id}",
        case_id=case.case_id,
        actor=SYSTEM,
        lead=rule.lead,
        supporting=rule.supporting,
        rule_id=rule.id,
        rules_version=rules.version,
        policy=policy.name,
        clocks=plan_clocks(policy, case.urgency, rule.lead, rule.supporting, now, calendar),
        escalation=policy.ladder(),
        policy_version=policy_version,
    )

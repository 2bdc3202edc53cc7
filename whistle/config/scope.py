"""What a district configuration admin (``config_admin``) may change: its district only.

A ``config_admin`` is scoped to one district (area code ``D``). A proposed version is within
its scope when every difference from the current version lies in ``D``:

* areas: each area added, removed or changed is ``D`` itself or beneath it;
* routing: each rule added, removed or changed has an area that is ``D`` or beneath it (a
  citywide ``*`` rule is not), and the fallback owner is unchanged;
* departments, categories, SLA policies and calendars are shared by every district: a
  ``config_admin`` may not change them at all.

An admin may change anything.
"""

from __future__ import annotations

from whistle.config.versions import KINDS, Kind, kind_document
from whistle.domain import areas
from whistle.domain.configuration import Configuration
from whistle.domain.routing import Rule

CITYWIDE_KINDS: frozenset[Kind] = frozenset({"departments", "categories", "policies", "calendars"})


def within(code: str, district: str) -> bool:
    """Whether area ``code`` (``*``: every area) is ``district`` or lies beneath it."""
    return code != "*" and areas.within(code, district)


def outside_scope(current: Configuration, proposed: Configuration, district: str) -> list[str]:
    """What ``proposed`` changes outside ``district`` (empty: a config_admin may publish it)."""
    found: list[str] = []
    for kind in KINDS:
        if kind in CITYWIDE_KINDS and kind_document(current, kind) != kind_document(proposed, kind):
            found.append(kind)
    before, after = current.areas, proposed.areas
    for code in sorted(set(before) | set(after)):
        if before.get(code) != after.get(code) and not within(code, district):
            found.append(f"area {code}")
    if current.routing.fallback != proposed.routing.fallback:
        found.append("fallback")
    old = {(r.category, r.area): r for r in current.routing.rules}
    new = {(r.category, r.area): r for r in proposed.routing.rules}
    for key in sorted(set(old) | set(new)):
        rule_before, rule_after = old.get(key), new.get(key)
        if _rule_key(rule_before) != _rule_key(rule_after) and not within(key[1], district):
            rule = rule_after or rule_before
            assert rule is not None
            found.append(f"rule {rule.id}")
    return found


def _rule_key(rule: Rule | None) -> dict[str, object] | None:
    return None if rule is None else rule.model_dump()

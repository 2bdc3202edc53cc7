"""A configuration diff (``whistle.domain.configuration.ConfigDiff``) in the admin's words:
each owner change as "金海社区的违章停车：牵头 A → B，配合 … → 无（rule）", each budget change as
"standard策略 · 紧急 · 签收时限：30 分钟（按自然时间计） → 20 分钟（按自然时间计）", each calendar
day as a date; names in the visitor's language from the proposed configuration, codes where
unknown."""

from __future__ import annotations

import re

from whistle.domain.configuration import BudgetChange, ConfigDiff, Configuration, OwnerChange
from whistle.web.messages import PAGES
from whistle.web.pages import Page
from whistle.whatif.report import names

UNITS = {"d": "unit_days", "h": "unit_hours", "min": "unit_minutes", "s": "unit_seconds"}
_BUDGET = re.compile(r"^(\d+)(d|h|min|s) (calendar|working)$")


def diff_lines(page: Page, diff: ConfigDiff, config: Configuration) -> dict[str, list[str]]:
    """Section name (the catalogue's heading key) → its lines, sections without lines left
    out."""
    known = names(config, page.lang)
    sections = {
        "owner_changes": [_owner(page, c, config, known) for c in diff.owner_changes],
        "budget_changes": [_budget(page, c) for c in diff.budget_changes],
        **{
            name: [d.isoformat() for d in getattr(diff, name)]
            for name in ("holidays_added", "holidays_removed", "workdays_added", "workdays_removed")
        },
    }
    return {name: lines for name, lines in sections.items() if lines}


def _owner(page: Page, change: OwnerChange, config: Configuration, known: dict[str, str]) -> str:
    def department(code: str) -> str:
        return known.get(code, code)

    def supporting(codes: tuple[str, ...]) -> str:
        return page.t("diff_list_sep").join(department(c) for c in codes) or page.t("diff_none")

    area = config.areas.get(change.community)
    place = (
        change.community if area is None else (area.name_en if page.lang == "en" else area.name_zh)
    )
    b, a = change.before, change.after
    parts = [page.t("diff_lead", before=department(b.lead), after=department(a.lead))]
    if b.supporting != a.supporting:
        parts.append(
            page.t(
                "diff_supporting", before=supporting(b.supporting), after=supporting(a.supporting)
            )
        )
    if b.policy != a.policy:
        parts.append(page.t("diff_policy", before=b.policy, after=a.policy))
    rule = b.id if b.id == a.id else page.t("diff_rule", before=b.id, after=a.id)
    what = known.get(change.category, change.category)
    return page.t("diff_owner_line", place=place, category=what,
                  parts=page.t("diff_list_sep").join(parts), rule=rule)  # fmt: skip


def _budget(page: Page, change: BudgetChange) -> str:
    clock = _known(page, f"clock_{change.clock}", change.clock)
    urgency = _known(page, f"urgency_{change.urgency}", change.urgency)
    urgency = urgency.split("（")[0].split(" (")[0]  # the name, not the default budget
    before, after = _words(page, change.before), _words(page, change.after)
    return page.t("diff_budget_line", policy=change.policy, urgency=urgency, clock=clock,
                  before=before, after=after)  # fmt: skip


def _known(page: Page, key: str, fallback: str) -> str:
    """The catalogue's words for ``key``; ``fallback`` (a code) for what the admin added."""
    return page.t(key) if key in PAGES else fallback


def _words(page: Page, budget: str | None) -> str:
    """``30min calendar`` as ``30 分钟（按自然时间计）``; none as the catalogue's "none"."""
    if budget is None:
        return page.t("diff_none")
    found = _BUDGET.match(budget)
    if found is None:
        return budget
    n, unit, mode = found.groups()
    return page.t("diff_budget", n=n, unit=page.t(UNITS[unit]), mode=page.t(f"clock_mode_{mode}"))

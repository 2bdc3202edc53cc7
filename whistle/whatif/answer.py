"""The answer of a what-if, as JSON-ready data: both sides side by side, and what moved."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from whistle.config.versions import ConfigVersion
from whistle.read.resolution_metrics import GROUPS
from whistle.whatif.tally import Tally, keep_first

FIGURES = (
    "dispatched",
    "acknowledged_in_time",
    "callbacks",
    "solved",
    "satisfied",
    "cases",
    "breaches",
    "escalations",
    "response_rate",
    "resolution_rate",
    "satisfaction_rate",
    "average_score",
    "score",
)
"""The columns of each side's row in the answer (the read side's names)."""


def _figures(row: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if row is None else {name: row.get(name) for name in FIGURES}


def answer(tally: Tally, version: ConfigVersion, horizon: datetime) -> dict[str, Any]:
    """The comparison: the log as it happened (``original``) beside the replay (``proposed``)."""
    overall = {
        "original": _figures(tally.original.rows("all").get("all")),
        "proposed": _figures(tally.proposed.rows("all").get("all")),
    }
    by: dict[str, list[dict[str, Any]]] = {}
    for grouping in GROUPS:
        before, after = tally.original.rows(grouping), tally.proposed.rows(grouping)
        by[grouping] = [
            {
                "group": group,
                "original": _figures(before.get(group)),
                "proposed": _figures(after.get(group)),
            }
            for group in sorted(set(before) | set(after))
        ]
    weeks = sorted(set(tally.original.weekly) | set(tally.proposed.weekly))
    return {
        "since": tally.since.isoformat(),
        "until": tally.until.isoformat(),
        "horizon": horizon.isoformat(),
        "proposed_version": {
            "version": version.version,
            "rules_version": version.rules_version,
            "policy_version": version.policy_version,
            "kinds": list(version.kinds),
            "reason": version.reason,
        },
        "cases": tally.cases,
        "events": tally.events,
        "skipped": tally.skipped,
        "overall": overall,
        "by": by,
        "moved": {"count": tally.moved, "examples": keep_first(tally.moved_examples)},
        "rerouted": [
            {"department": d, "week": w, "assignments": n}
            for (d, w), n in sorted(tally.rerouted.items())
        ],
        "weekly_load": [
            {
                "department": d,
                "week": w,
                "original": tally.original.weekly.get((d, w), 0),
                "proposed": tally.proposed.weekly.get((d, w), 0),
            }
            for d, w in weeks
        ],
        "clocks": {
            "changes": [
                {"department": d, "original": a, "proposed": b, "clocks": n}
                for (d, a, b), n in sorted(tally.clock_changes.items())
            ],
            "examples": keep_first(tally.clock_examples),
        },
        "refused": [
            {"command": c, "department": d, "count": n}
            for (c, d), n in sorted(tally.refused.items())
        ],
    }

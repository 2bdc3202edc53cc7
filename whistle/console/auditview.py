"""The audit log as the console prints it: one line per change, newest first, like a timeline."""

from __future__ import annotations

from typing import Any

from whistle.audit.entries import KIND_NAMES
from whistle.console.text import local_time, pad, pick, width

EMPTY = ("没有符合条件的记录。", "No entries match.")
MORE = ("更早的记录：--before {before}", "Older entries: --before {before}")


def _value(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "–"
    return str(value)


def changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """What differs: ``key: old → new`` for a change, ``key=value`` for a creation."""
    if before is None:
        created = (after or {}).items()
        return ", ".join(f"{k}={_value(v)}" for k, v in created if v not in (None, ""))
    after = after or {}
    return ", ".join(
        f"{k}: {_value(before.get(k))} → {_value(after.get(k))}"
        for k in [*before, *(k for k in after if k not in before)]
        if before.get(k) != after.get(k)
    )


def audit_lines(page: dict[str, Any], lang: str) -> list[str]:
    """``GET /v1/audit``'s page as lines: time, actor, what, subject, changes (the actor and
    subject columns as wide as the page's longest, up to 32 and 40 columns)."""
    items = page.get("items", [])
    if not items:
        return [EMPTY[1] if lang == "en" else EMPTY[0]]
    actors = min(32, max(width(str(e.get("actor", ""))) for e in items))
    subjects = min(40, max(width(str(e.get("subject", ""))) for e in items))
    lines = []
    for e in items:
        what = pick(KIND_NAMES, e.get("kind"), lang)
        detail = changes(e.get("before"), e.get("after"))
        note = f"  ({e['note']})" if e.get("note") else ""
        lines.append(
            "  ".join(
                [
                    pad(local_time(e.get("at")), 11),
                    pad(str(e.get("actor", "")), actors),
                    pad(what, 22 if lang == "en" else 12),
                    pad(str(e.get("subject", "")), subjects),
                    detail + note,
                ]
            ).rstrip()
        )
    if page.get("next") and items:
        before = items[-1]["entry_id"]
        lines.append((MORE[1] if lang == "en" else MORE[0]).format(before=before))
    return lines

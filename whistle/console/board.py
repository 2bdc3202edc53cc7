"""Render the breach board as terminal text (pure: a snapshot and names in, lines out)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from whistle.console.text import CLOCKS, STEPS, TIERS, ago, local_time, pad, pick, say

Names = dict[str, dict[str, dict[str, str]]]

RED, BOLD, DIM, RESET = "\x1b[31m", "\x1b[1m", "\x1b[2m", "\x1b[0m"


def _name(names: Names, kind: str, code: str | None, lang: str) -> str:
    entry = names.get(kind, {}).get(code or "")
    return entry.get(lang, code or "–") if entry else (code or "–")


def render(
    board: dict[str, Any], names: Names, lang: str, color: bool = True, now: datetime | None = None
) -> list[str]:
    """The board as lines: breaches (with escalation), then disputes awaiting a ruling."""
    red, bold, dim, reset = (RED, BOLD, DIM, RESET) if color else ("", "", "", "")
    breaches = board.get("breaches", [])
    disputes = board.get("disputes", [])
    stamp = (now or datetime.now()).strftime("%H:%M:%S")
    lines = [
        f"{bold}{say('board', lang)}{reset}  {red}{len(breaches)}{reset}  "
        f"{dim}{say('updated', lang)} {stamp}{reset}",
        "",
    ]
    if not breaches:
        lines.append(say("no_breaches", lang))
    for b in breaches:
        escalation = ""
        if b.get("escalation_step"):
            tier = pick(TIERS, b.get("escalation_tier"), lang) if b.get("escalation_tier") else ""
            escalation = tier + pick(STEPS, b["escalation_step"], lang)
        lines.append(
            "  ".join(
                [
                    pad(str(b.get("case_id", "")), 24),
                    pad(pick(CLOCKS, b.get("clock"), lang), 12),
                    pad(_name(names, "departments", b.get("department"), lang), 22),
                    pad(_name(names, "areas", b.get("community"), lang), 14),
                    pad(local_time(b.get("due_at")), 11),
                    f"{red}{pad(say('late', lang) + ' ' + ago(b.get('due_at'), lang, now), 16)}"
                    f"{reset}",
                    escalation,
                ]
            ).rstrip()
        )
    escalations = board.get("escalations", [])
    lines += ["", f"{bold}{say('escalations', lang)}{reset}  {len(escalations)}"]
    for e in escalations:
        tier = pick(TIERS, e.get("tier"), lang)
        lines.append(
            "  ".join(
                [
                    pad(str(e.get("case_id", "")), 24),
                    pad(f"{tier}{pick(STEPS, e.get('step'), lang)}", 14),
                    pad(_name(names, "areas", e.get("community"), lang), 14),
                    pad(_name(names, "departments", e.get("lead_department"), lang), 22),
                    local_time(e.get("escalated_at")),
                ]
            ).rstrip()
        )
    lines += ["", f"{bold}{say('disputes', lang)}{reset}  {len(disputes)}"]
    for d in disputes:
        lines.append(
            "  ".join(
                [
                    pad(str(d.get("case_id", "")), 24),
                    pad(_name(names, "departments", d.get("department"), lang), 22),
                    pad(str(d.get("title") or ""), 24),
                    str(d.get("note") or d.get("reason") or ""),
                ]
            ).rstrip()
        )
    return lines

"""``whistle show`` as terminal text (pure: a case from the API and names in, lines out)."""

from __future__ import annotations

from typing import Any

from whistle.console.text import CLOCKS, STATUSES, local_time, name_of, pick, say


def case_lines(case: dict[str, Any], names: dict[str, Any], lang: str) -> list[str]:
    """The case: what and where, its departments, clocks and joint actions (集结)."""
    lines = [
        f"{say('case', lang)}  {case['case_id']}  {pick(STATUSES, case.get('status'), lang)}",
        f"{say('title', lang)}  {case.get('title') or ''}",
    ]
    lines += _where(case, names, lang)
    lines.append(f"{say('raised', lang)}  {local_time(case.get('raised_at'))}")
    lines.append(f"{say('departments', lang)}:")
    for a in case.get("assignments", []):
        role = f"({say('lead', lang)})" if a.get("role") == "lead" else ""
        acked = say("acked", lang) if a.get("acknowledged_at") else say("not_acked", lang)
        department = name_of(names, "departments", a.get("department"), lang)
        lines.append(f"  - {department} {role} {acked}")
    if case.get("clocks"):
        lines.append(f"{say('clocks', lang)}:")
    for k in case.get("clocks", []):
        flag = f"  {say('breached', lang)}" if k.get("breached_at") else ""
        lines.append(
            f"  - {pick(CLOCKS, k.get('clock'), lang)}"
            f" {name_of(names, 'departments', k.get('department'), lang)}"
            f"  {say('due', lang)} {local_time(k.get('due_at'))}  {k.get('status')}{flag}"
        )
    return lines + _joint_actions(case.get("joint_actions") or [], names, lang)


def _where(case: dict[str, Any], names: dict[str, Any], lang: str) -> list[str]:
    """Description, address, location (those given) and the community."""
    lines = []
    if case.get("description"):
        lines.append(f"{say('description', lang)}  {case['description']}")
    if case.get("address"):
        lines.append(f"{say('address', lang)}  {case['address']}")
    if case.get("location_lat") is not None and case.get("location_lon") is not None:
        lines.append(f"{say('location', lang)}  {case['location_lat']}, {case['location_lon']}")
    community = case.get("community") or case.get("area")
    lines.append(f"{say('community', lang)}  {name_of(names, 'areas', community, lang)}")
    if case.get("area") not in (None, community):
        lines.append(f"{say('within', lang)}  {name_of(names, 'areas', case['area'], lang)}")
    return lines


def _joint_actions(actions: list[dict[str, Any]], names: dict[str, Any], lang: str) -> list[str]:
    """Each 集结: id, time, place, note; every department with its 报到."""
    if not actions:
        return []
    lines = [f"{say('joint_actions', lang)}:"]
    for ja in actions:
        done = f"  {say('assembled', lang)}" if ja.get("assembled_at") else ""
        note = f"  {ja['note']}" if ja.get("note") else ""
        lines.append(
            f"  - {ja.get('action_id')}  {local_time(ja.get('at'))}  {ja.get('place')}{note}{done}"
        )
        for d in ja.get("departments", []):
            at = d.get("reported_in_at")
            state = say("not_reported_in", lang)
            if at:
                state = f"{say('reported_in', lang)} {local_time(at)}"
            department = name_of(names, "departments", d.get("department"), lang)
            lines.append(f"      {department}  {state}")
    return lines

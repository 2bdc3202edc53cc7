"""Which departments an event concerns: those routed to the case, reassignments applied."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def departments_after(current: Sequence[str], event: Mapping[str, Any]) -> list[str]:
    """The case's departments once ``event`` is applied (lead first, no duplicates)."""
    kind = event.get("type")
    if kind == "CaseRouted":
        routed = [str(event["lead"]), *(str(d) for d in event.get("supporting") or ())]
        return list(dict.fromkeys(routed))
    if kind == "DisputeRuled" and event.get("outcome") == "reassign":
        old = str(event.get("department"))
        new = event.get("new_department")
        moved = [str(new) if d == old and new else d for d in current]
        if new and str(new) not in moved:
            moved.append(str(new))
        return list(dict.fromkeys(d for d in moved if d != old or d == new))
    return list(current)


def concerned(before: Sequence[str], after: Sequence[str], event: Mapping[str, Any]) -> list[str]:
    """Departments to notify of ``event``: every department of the case before or after it."""
    named = [str(event["department"])] if event.get("department") else []
    named += [str(d) for d in event.get("departments") or ()]  # joint action (集结)
    return list(dict.fromkeys([*after, *before, *named]))

"""A command naming an original case (``MarkDuplicate``, ``MergeDuplicate``), checked across
cases before it is sent: the decider holds one case.

The original must be a case the caller may read (an unknown one and one outside the caller's
scope are refused alike, as reading it answers 404 for both), must not be a duplicate itself,
and a case that others already duplicate cannot become a duplicate: no chains. Self-reference
is the domain's own ``self_duplicate``. The checks read the read models, so two requests within
the projection lag can still cross (see ``docs/api.md``).
"""

from __future__ import annotations

from fastapi import Request

from whistle.api.commands import rejection_error
from whistle.api.deps import Services, visible
from whistle.api.identity import Principal
from whistle.api.readmodel import CaseFilters, Scope
from whistle.domain.base import Command


async def check_original(
    request: Request, services: Services, principal: Principal, command: Command
) -> None:
    """Raise the rejection problem unless ``command`` may make its case a duplicate of the
    ``original_case_id`` it names."""
    original = getattr(command, "original_case_id", None)
    assert isinstance(original, str), f"{command.type} names no original_case_id"
    if original == command.case_id:
        return
    row = await services.read.case(original)
    if row is None or not visible(principal, row):
        raise rejection_error(request, "duplicate_of_unknown_case", {"original": original})
    if row.get("status") == "duplicate":
        raise rejection_error(request, "duplicate_of_duplicate", {"original": original})
    others = await services.read.cases(Scope(), CaseFilters(duplicate_of=command.case_id, limit=1))
    if others:
        raise rejection_error(request, "case_has_duplicates", {"original": original})

"""合并: merge a duplicate case into its original.

A secretary or supervisor merges case B into case A. B is closed as a duplicate pointing to A
(``CaseMergedInto`` on B), and A's timeline records the merge (``DuplicateMerged`` on A): the
people following A see that B's reporter raised the same problem. The decider holds one case,
so the part that can be refused is decided on B; what follows on A is a system command sent in
reaction (``RecordMerge``), which A's decider records whatever A's status, as it is a fact about
A. That the original exists, is in the caller's scope and is no duplicate itself is checked by
the API before the command is sent (``whistle.api.duplicates``), as for ``MarkDuplicate``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from whistle.domain.base import SYSTEM, Command, Event, Role
from whistle.domain.decisions.base import Ctx, Decision, decides, unfinished
from whistle.domain.evolve import Updates, evolves
from whistle.domain.reactions import reaction_command_id, reacts_to
from whistle.domain.state import CaseState

CaseId = Field(min_length=1, max_length=64)
Note = Field(default="", max_length=2000)


class MergeDuplicate(Command):
    """合并: close this case as a duplicate and record it on the original case's timeline."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({"secretary", "supervisor", "admin"})
    type: Literal["MergeDuplicate"] = "MergeDuplicate"
    original_case_id: str = CaseId
    note: str = Note


class CaseMergedInto(Event):
    """This case was merged into ``original_case_id`` and is closed as its duplicate."""

    CE_NAME: ClassVar[str] = "merged_into"
    type: Literal["CaseMergedInto"] = "CaseMergedInto"
    original_case_id: str
    title: str = Field(description="This case's title, told to the original.")
    note: str = ""


class RecordMerge(Command):
    """System: record on the original case that a duplicate was merged into it."""

    ROLES: ClassVar[frozenset[Role]] = frozenset({"system"})
    INTERNAL: ClassVar[bool] = True
    type: Literal["RecordMerge"] = "RecordMerge"
    duplicate_case_id: str = CaseId
    title: str = Field(max_length=200)
    note: str = Note
    merged_by: str = Field(min_length=1, max_length=128, description="Who merged it.")


class DuplicateMerged(Event):
    """合并了: the case ``duplicate_case_id`` was merged into this one by ``merged_by``."""

    CE_NAME: ClassVar[str] = "duplicate_merged"
    type: Literal["DuplicateMerged"] = "DuplicateMerged"
    duplicate_case_id: str
    title: str
    note: str = ""
    merged_by: str


@decides(MergeDuplicate)
def _merge(ctx: Ctx, s: CaseState, c: MergeDuplicate) -> Decision:
    if c.original_case_id == s.case_id:
        return ctx.reject("self_duplicate")
    return unfinished(ctx, s) or ctx.emit(
        CaseMergedInto, original_case_id=c.original_case_id, title=s.title, note=c.note
    )


@evolves(CaseMergedInto)
def _merged_into(s: CaseState, e: CaseMergedInto) -> Updates:
    return {"status": "duplicate", "duplicate_of": e.original_case_id, "closed_at": e.occurred_at}


@reacts_to(CaseMergedInto)
def _tell_the_original(e: CaseMergedInto) -> list[Command]:
    return [
        RecordMerge(
            command_id=reaction_command_id(e, RecordMerge),
            case_id=e.original_case_id,
            actor=SYSTEM,
            duplicate_case_id=e.case_id,
            title=e.title,
            note=e.note,
            merged_by=e.actor.user_id,
        )
    ]


@decides(RecordMerge)
def _record_merge(ctx: Ctx, s: CaseState, c: RecordMerge) -> Decision:
    if c.duplicate_case_id == s.case_id:
        return ctx.reject("self_duplicate")
    return ctx.emit(
        DuplicateMerged,
        duplicate_case_id=c.duplicate_case_id,
        title=c.title,
        note=c.note,
        merged_by=c.merged_by,
    )


@evolves(DuplicateMerged)
def _duplicate_merged(s: CaseState, e: DuplicateMerged) -> Updates:
    return {}  # a fact for the original's timeline; its own state does not change

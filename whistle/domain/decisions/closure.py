"""Decisions after resolution: callback (回访), reopen, close, publish (晒事)."""

from __future__ import annotations

from whistle.domain.commands import (
    CloseCase,
    PublishCase,
    RecordCallback,
    ReopenCase,
)
from whistle.domain.decisions.base import (
    Ctx,
    Decision,
    decides,
    status_rejection,
)
from whistle.domain.events import (
    CallbackRecorded,
    CaseClosed,
    CasePublished,
    CaseReopened,
)
from whistle.domain.sla import plan_clock
from whistle.domain.state import CaseState
from whistle.domain.types import FINAL_STATUSES


@decides(RecordCallback)
def _callback(ctx: Ctx, s: CaseState, c: RecordCallback) -> Decision:
    if s.status in FINAL_STATUSES:
        return status_rejection(ctx, s) or []
    if s.status != "resolved":
        return ctx.reject("callback_before_resolution")
    return ctx.emit(
        CallbackRecorded,
        solved=c.solved,
        satisfied=c.satisfied,
        score=c.score,
        comment=c.comment,
        fault=c.fault,
    )


@decides(ReopenCase)
def _reopen(ctx: Ctx, s: CaseState, c: ReopenCase) -> Decision:
    if s.status not in ("resolved", "closed"):
        if s.status in ("withdrawn", "duplicate"):
            return status_rejection(ctx, s) or []
        return ctx.reject("not_resolved", status=s.status)
    verdict = s.last_callback
    if verdict is None:
        return ctx.reject("callback_missing")
    if (verdict.solved and verdict.satisfied) or verdict.fault in ("requester", "external"):
        return ctx.reject("reopen_not_warranted")
    plans = tuple(
        plan_clock("resolve", k.department, k.mode, k.budget, ctx.now, ctx.calendar)
        for k in s.clocks.values()
        if k.kind == "resolve"
    )
    return ctx.emit(CaseReopened, reason=c.reason, reopen_count=s.reopen_count + 1, clocks=plans)


@decides(CloseCase)
def _close(ctx: Ctx, s: CaseState, c: CloseCase) -> Decision:
    if s.status in FINAL_STATUSES:
        return status_rejection(ctx, s) or []
    if s.status != "resolved":
        return ctx.reject("not_resolved", status=s.status)
    if s.callbacks == 0:
        return ctx.reject("callback_missing")
    return ctx.emit(CaseClosed, note=c.note)


@decides(PublishCase)
def _publish(ctx: Ctx, s: CaseState, c: PublishCase) -> Decision:
    if s.status not in ("resolved", "closed"):
        if s.status in ("withdrawn", "duplicate"):
            return status_rejection(ctx, s) or []
        return ctx.reject("not_resolved", status=s.status)
    if s.published_at is not None:
        return ctx.reject("already_published")
    return ctx.emit(CasePublished, summary=c.summary)

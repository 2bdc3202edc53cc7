"""Department liaisons: the inbox, and signing for, disputing and working a case."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from whistle.api.commands import add_command_route, department_from_principal
from whistle.api.deps import CurrentPrincipal, CurrentServices, require_role
from whistle.api.identity import Principal
from whistle.api.problems import problem_responses
from whistle.api.views import CaseList, json_response
from whistle.domain import commands
from whistle.domain.base import Command
from whistle.read.scope import CaseFilters, Scope

router = APIRouter(tags=["liaison"])

OPEN_STATUSES = ("raised", "routed", "in_progress", "resolved")


@router.get(
    "/v1/inbox",
    response_model=CaseList,
    summary="The liaison's department inbox (open cases assigned to it)",
    responses=problem_responses(401, 403),
    operation_id="getInbox",
)
async def inbox(
    principal: CurrentPrincipal,
    services: CurrentServices,
    status: Annotated[list[str] | None, Query(description="Default: every open status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Response:
    """Open cases assigned to the caller's department, newest first."""
    filters = inbox_filters(principal, status, limit, offset)
    rows = await services.read.cases(Scope.of(principal), filters)
    return json_response({"items": rows, "limit": limit, "offset": offset})


def inbox_filters(
    principal: Principal, status: list[str] | None, limit: int, offset: int
) -> CaseFilters:
    """What the inbox lists (403 for anyone but a liaison): open statuses by default."""
    require_role(principal, ("liaison",))
    return CaseFilters(status=tuple(status or OPEN_STATUSES), limit=limit, offset=offset)


def _department_route(suffix: str, command: type[Command], summary: str) -> None:
    add_command_route(router, suffix, command, summary=summary, fill=department_from_principal)


_department_route("/acknowledge", commands.Acknowledge, "Acknowledge (签收)")
_department_route("/dispute", commands.DisputeAssignment, "Dispute the routing (退单)")
_department_route("/contact", commands.ContactRequester, "Record contact with the requester")
_department_route("/report-in", commands.ReportIn, "Report in at a joint action (报到 at the 集结)")
_department_route("/progress", commands.ReportProgress, "Report progress (办理)")
_department_route("/complete", commands.ReportCompletion, "Report the department's part complete")
_department_route("/extension", commands.RequestExtension, "Request an extension (延期)")
add_command_route(router, "/resolve", commands.ResolveCase, summary="Resolve (办结)")
add_command_route(
    router, "/pause", commands.PauseClock, summary="Pause clocks (waiting for requester)"
)
add_command_route(router, "/resume", commands.ResumeClock, summary="Resume paused clocks")

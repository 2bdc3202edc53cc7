"""Cases: raise a whistle, list and read cases in scope, timeline, time travel, and the
community's own steps (callback, reopen, close, withdraw, publish, duplicate, merge)."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field, create_model

from whistle.api.account_store import IdempotencyMismatch
from whistle.api.attachment_routes import PhotoHash, attach_raised, uploaded_photos
from whistle.api.commands import (
    COMMAND_RESPONSES,
    add_command_route,
    build,
    decide,
    new_case_id,
    new_command_id,
    request_model,
    roles_for,
)
from whistle.api.deps import (
    CurrentPrincipal,
    CurrentServices,
    Services,
    check_visible,
    not_found,
    require_role,
    visible,
    visible_case,
)
from whistle.api.duplicates import check_original
from whistle.api.identity import Principal
from whistle.api.instants import Instant
from whistle.api.problems import ProblemError, problem_responses, request_lang
from whistle.api.views import (
    CaseAsOf,
    CaseDetail,
    CaseList,
    CommandStatus,
    Timeline,
    json_response,
)
from whistle.domain import commands
from whistle.domain.areas import within
from whistle.domain.base import Command
from whistle.domain.state import state_document
from whistle.domain.steps.attach import MAX_PHOTOS
from whistle.domain.steps.merge import MergeDuplicate
from whistle.read.scope import NOBODY, CaseFilters, Row, Scope

router = APIRouter(tags=["cases"])

CaseId = Annotated[str, Path(max_length=64, description="Case id, e.g. WH-20261126-7K3M9QX2PA")]
RAISERS = roles_for(commands.RaiseWhistle)
SEES_REQUESTER = frozenset({"secretary", "liaison", "admin"})
"""Who reads the requester's contact in a timeline: the community and the departments that
must call back; supervisors see it masked."""

RaiseWhistleRequest = create_model(
    "RaiseWhistleRequest",
    __base__=request_model(commands.RaiseWhistle, optional=frozenset({"community"})),
    photos=(
        list[PhotoHash],
        Field(
            default_factory=list,
            max_length=MAX_PHOTOS,
            description="SHA-256 of photos uploaded first (POST /v1/attachments), attached "
            "as the whistle's own (stage raise).",
        ),
    ),
)


def raise_community(principal: Principal, asked: str | None) -> str:
    """The community a whistle is raised in: the secretary's own, or the one an admin names."""
    community = asked or (principal.area if principal.role == "secretary" else None)
    if community is None:
        raise ProblemError(422, "validation", detail_key="need_community")
    if principal.role != "admin" and not within(community, principal.area or NOBODY):
        raise ProblemError(
            403, "forbidden_role", detail_key="out_of_scope", detail_values={"what": community}
        )
    return community


def mask_requester(event: dict[str, Any]) -> dict[str, Any]:
    """The event with the requester's name and phone masked (personal data)."""
    body = event.get("body") or {}
    if not body.get("requester"):
        return event
    masked = {k: ("***" if v else v) for k, v in body["requester"].items()}
    return event | {"body": body | {"requester": masked}}


def request_digest(values: dict[str, Any]) -> str:
    """SHA-256 of a request body in canonical JSON (detects a changed retry)."""
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@router.post(
    "/v1/cases",
    status_code=201,
    summary="Raise a whistle (吹哨)",
    response_model=None,
    responses={201: COMMAND_RESPONSES[200] | {"description": "Raised"}, **COMMAND_RESPONSES},
    operation_id="raiseWhistle",
)
async def raise_whistle(
    request: Request,
    body: RaiseWhistleRequest,  # type: ignore[valid-type]
    principal: CurrentPrincipal,
    services: CurrentServices,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=200,
            description="A retried POST with the same key returns the same case, never a new one.",
        ),
    ] = None,
) -> JSONResponse:
    """Secretaries raise in their community, admins in the community they name; the case id
    is made here. With ``Idempotency-Key`` a retry returns the first request's case."""
    require_role(principal, RAISERS)
    values: dict[str, Any] = body.model_dump(exclude_none=True)  # type: ignore[attr-defined]
    hashes: list[str] = values.pop("photos", [])
    values["community"] = raise_community(principal, values.get("community"))
    photos = await uploaded_photos(services, principal, hashes) if hashes else ()
    command = build(
        commands.RaiseWhistle,
        request_lang(request),
        command_id=new_command_id(),
        case_id=new_case_id(),
        actor=principal.actor(),
        **values,
    )
    if idempotency_key:  # bound only once the body is valid, so a corrected retry may reuse it
        asked = {**values, "photos": hashes} if hashes else values
        command = await first_of_retries(services, principal, idempotency_key, asked, command)
    response = await decide(request, services, command, created=True)
    return await attach_raised(request, services, principal, command, photos, response)


async def first_of_retries(
    services: Services,
    principal: Principal,
    key: str,
    values: dict[str, Any],
    command: Command,
    within: timedelta | None = None,
) -> Command:
    """``command`` with the case and command ids first bound to the caller's ``key``, so that
    a retry raises the first request's case again (the decider sees a duplicate), never a
    second one; 422 when the key was used with another body. ``within``: how long the key
    stays bound (default: for ever)."""
    try:
        claim = await services.idempotency.claim(
            principal.user_id,
            key,
            request_digest(values),
            command.case_id,
            command.command_id,
            within,
        )
    except IdempotencyMismatch as exc:
        raise ProblemError(422, "idempotency_mismatch", detail_key="idempotency_mismatch") from exc
    return command.model_copy(update={"case_id": claim.case_id, "command_id": claim.command_id})


@router.get(
    "/v1/cases",
    response_model=CaseList,
    summary="List cases in the caller's scope",
    responses=problem_responses(401, 422),
    operation_id="listCases",
)
async def list_cases(
    principal: CurrentPrincipal,
    services: CurrentServices,
    status: Annotated[list[str] | None, Query(description="Repeatable: raised, routed…")] = None,
    category: Annotated[str | None, Query(max_length=128)] = None,
    department: Annotated[str | None, Query(max_length=128)] = None,
    area: Annotated[str | None, Query(max_length=128, description="Area code prefix")] = None,
    raised_after: Instant | None = None,
    raised_before: Instant | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Response:
    """Secretaries see their community, liaisons their department's cases, supervisors their
    street or district, admins everything; filters narrow within that."""
    filters = CaseFilters(
        status=tuple(status or ()),
        category=category,
        department=department,
        area=area,
        raised_after=raised_after,
        raised_before=raised_before,
        limit=limit,
        offset=offset,
    )
    rows = await services.read.cases(Scope.of(principal), filters)
    return json_response({"items": rows, "limit": limit, "offset": offset})


@router.get(
    "/v1/cases/{case_id}",
    response_model=CaseDetail,
    summary="One case with its assignments and clocks",
    responses=problem_responses(401, 404),
    operation_id="getCase",
)
async def get_case(
    case_id: CaseId, principal: CurrentPrincipal, services: CurrentServices
) -> Response:
    """The case, or 404 when it is outside the caller's scope."""
    return json_response(await visible_case(services, principal, case_id))


@router.get(
    "/v1/cases/{case_id}/timeline",
    response_model=Timeline,
    summary="Every event of the case (audit timeline)",
    responses=problem_responses(401, 404),
    operation_id="getTimeline",
)
async def get_timeline(
    case_id: CaseId, principal: CurrentPrincipal, services: CurrentServices
) -> Response:
    """The case's events in order."""
    return json_response(await timeline_payload(services, principal, case_id))


async def timeline_payload(services: Services, principal: Principal, case_id: str) -> Row:
    """The timeline's body: the scope check and the events in one round trip; 404 outside
    the caller's scope; the requester masked for those who do not call back."""
    found = await services.read.case_timeline(case_id)
    if found is None or not visible(principal, found[0]):
        raise not_found()
    events = found[1]
    if principal.role not in SEES_REQUESTER:
        events = [mask_requester(e) for e in events]
    return {"case_id": case_id, "events": events}


@router.get(
    "/v1/cases/{case_id}/at",
    response_model=CaseAsOf,
    summary="Time travel: the case as it stood at an instant",
    responses=problem_responses(401, 404, 422),
    operation_id="getCaseAt",
)
async def get_case_at(
    case_id: CaseId,
    t: Annotated[Instant, Query(description="ISO 8601 instant with offset")],
    principal: CurrentPrincipal,
    services: CurrentServices,
) -> CaseAsOf:
    """Folds the case's events up to ``t`` with the domain's own ``evolve``."""
    await check_visible(services, principal, case_id)
    state = await services.read.case_as_of(case_id, t)
    if state is None:
        raise ProblemError(404, "not_found", detail_key="case_not_found")
    return CaseAsOf(case_id=case_id, at=t, seq=state.seq, state=state_document(state))


@router.get(
    "/v1/cases/{case_id}/commands/{command_id}",
    response_model=CommandStatus,
    summary="Whether a command has been applied (poll target of a 202)",
    responses=problem_responses(401, 404),
    operation_id="getCommandStatus",
)
async def get_command_status(
    case_id: CaseId,
    command_id: Annotated[str, Path(max_length=128)],
    principal: CurrentPrincipal,
    services: CurrentServices,
) -> CommandStatus:
    """200 with the command's events once applied; 404 until then (or when it was rejected)."""
    await check_visible(services, principal, case_id)
    events = [r for r in await services.read.timeline(case_id) if r.get("command_id") == command_id]
    if not events:
        raise ProblemError(404, "not_found", detail_key="case_not_found")
    return CommandStatus.model_validate(
        {"case_id": case_id, "command_id": command_id, "status": "applied", "events": events}
    )


add_command_route(
    router, "/callback", commands.RecordCallback, summary="Record the callback (回访)"
)
add_command_route(router, "/reopen", commands.ReopenCase, summary="Reopen a resolved case")
add_command_route(router, "/close", commands.CloseCase, summary="Close an evaluated case")
add_command_route(router, "/withdraw", commands.WithdrawCase, summary="Withdraw the whistle")
add_command_route(router, "/publish", commands.PublishCase, summary="Publish the result (晒事)")
add_command_route(
    router,
    "/duplicate",
    commands.MarkDuplicate,
    summary="Mark as a duplicate",
    check=check_original,
)
add_command_route(
    router, "/merge", MergeDuplicate, summary="Merge into the original (合并)", check=check_original
)
add_command_route(
    router, "/joint-action", commands.ScheduleJointAction, summary="Schedule a joint action (集结)"
)

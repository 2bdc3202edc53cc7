"""From an HTTP request to a domain command and back: request bodies, the bus, the outcome."""

from __future__ import annotations

import inspect
import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from whistle.api.deps import (
    CurrentPrincipal,
    CurrentServices,
    Services,
    check_visible,
    require_role,
)
from whistle.api.i18n import Lang
from whistle.api.identity import USER_ROLES, Principal, UserRole
from whistle.api.instants import rfc3339_field
from whistle.api.problems import ProblemError, field_errors, problem_responses, request_lang
from whistle.bus import DecisionTimeout
from whistle.domain.base import Command
from whistle.domain.rejections import render
from whistle.logs import get_logger

ENVELOPE = frozenset({"type", "command_id", "case_id", "actor"})
CHINA = timezone(timedelta(hours=8))
_ID_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L
IDEMPOTENCY_NAMESPACE = uuid.UUID("0b7e3a52-6a0c-4d59-9d8e-3f8d2a1c5e77")

# Rejection codes of the decider that mean "this request can never succeed as written" (422),
# or an authorization refusal (403) or a missing case (404); every other code is a state
# conflict (409).
REJECTION_STATUS: dict[str, int] = {
    **dict.fromkeys(
        (
            "unknown_area",
            "unknown_grid",
            "unknown_department",
            "unknown_command",
            "unknown_joint_action",
            "invalid_joint_action",
            "invalid_routing",
            "self_duplicate",
            "duplicate_of_unknown_case",
            "extension_not_later",
        ),
        422,
    ),
    **dict.fromkeys(
        ("role_not_allowed", "not_your_department", "outside_your_area", "photo_stage_role"), 403
    ),
    "case_not_found": 404,
}

log = get_logger()


class CommandResult(BaseModel):
    """The decider's answer to one command."""

    case_id: str
    command_id: str
    status: str = Field(description="accepted | duplicate | pending")
    events: list[dict[str, Any]] = Field(default_factory=list)


def new_case_id(now: datetime | None = None) -> str:
    """A case id: ``WH-<China date>-<10 random chars>`` (50 random bits, readable aloud)."""
    day = (now or datetime.now(CHINA)).astimezone(CHINA).strftime("%Y%m%d")
    return f"WH-{day}-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))


def new_command_id() -> str:
    """A fresh command id."""
    return str(uuid.uuid4())


def command_id_for(
    principal: Principal, case_id: str, command: type[Command], idempotency_key: str | None
) -> str:
    """A fresh id, or one derived from the caller's ``Idempotency-Key`` for this command on
    this case, so that the decider recognises a retry as a duplicate."""
    if not idempotency_key:
        return new_command_id()
    name = "\x00".join((principal.user_id, case_id, command.__name__, idempotency_key))
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, name))


def request_model(
    command: type[Command],
    *,
    drop: frozenset[str] = frozenset(),
    optional: frozenset[str] = frozenset(),
    name: str | None = None,
) -> type[BaseModel]:
    """The request body of ``command``: its own fields less the envelope, unknown fields refused.

    Cross-field rules stay in the command class and run when the command is built.
    """
    fields: dict[str, Any] = {}
    for field_name, info in command.model_fields.items():
        if field_name in ENVELOPE or field_name in drop:
            continue
        annotation: Any = rfc3339_field(info.annotation)
        if field_name in optional:
            fields[field_name] = (
                annotation | None,
                Field(default=None, description=info.description),
            )
        else:
            fields[field_name] = (annotation, info)
    model: type[BaseModel] = create_model(
        name or f"{command.__name__}Request",
        __config__=ConfigDict(extra="forbid"),
        __doc__=command.__doc__,
        **fields,
    )
    return model


def build(command: type[Command], lang: Lang, **values: Any) -> Command:
    """Construct a command; its validation errors become a 422 problem with field errors."""
    try:
        return command(**values)
    except ValidationError as exc:
        raise ProblemError(
            422, "validation", errors=field_errors(list(exc.errors()), lang)
        ) from exc


def rejection_error(
    request: Request, code: str, params: dict[str, str], english: str | None = None
) -> ProblemError:
    """The problem of rejection ``code``: its message rendered from ``params`` in the caller's
    language; a code this API does not know yet shows ``english`` to English readers only."""
    lang = request_lang(request)
    detail = render(code, params, lang) or (english if lang == "en" else None)
    status = REJECTION_STATUS.get(code, 409)
    return ProblemError(status, "rejected", detail, code=code, params=params)


def roles_for(command: type[Command]) -> tuple[UserRole, ...]:
    """The user roles the domain lets issue ``command`` (its authorization table)."""
    return tuple(r for r in USER_ROLES if r in command.ROLES)


async def decide(
    request: Request, services: Services, command: Command, *, created: bool = False
) -> JSONResponse:
    """Submit ``command`` and answer with the decider's outcome (201/200, 409/422, or 202)."""
    case_id, command_id = command.case_id, command.command_id
    try:
        decision = await services.bus.submit(command, case_id, command_id)
    except DecisionTimeout:
        log.warning("decision_timeout", case_id=case_id, command_id=command_id)
        body = CommandResult(case_id=case_id, command_id=command_id, status="pending")
        return JSONResponse(
            body.model_dump(mode="json"),
            status_code=202,
            headers={
                "Location": f"/v1/cases/{case_id}/commands/{command_id}",
                "Retry-After": "1",
            },
        )
    if decision.status == "rejected":
        raise rejection_error(
            request, decision.code or "rejected", decision.params, decision.message
        )
    body = CommandResult(
        case_id=case_id, command_id=command_id, status=decision.status, events=decision.events
    )
    status = 201 if created and decision.status == "accepted" else 200
    headers = {"Location": f"/v1/cases/{case_id}"} if created else {}
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


COMMAND_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": CommandResult, "description": "Accepted (or a duplicate of a command seen)"},
    202: {
        "model": CommandResult,
        "description": "No decision within the bounded wait; poll the `Location` header "
        "(`/v1/cases/{id}/commands/{command_id}`). The command may still be applied.",
    },
    **problem_responses(401, 403, 404, 409, 413, 422),
}

Fill = Callable[[Principal, dict[str, Any]], dict[str, Any]]
Check = Callable[[Request, Services, Principal, Command], Awaitable[None]]
"""A check of a built command against the read models before it is sent (raises a problem)."""


def department_from_principal(principal: Principal, values: dict[str, Any]) -> dict[str, Any]:
    """A liaison acts for their own department; others must name one."""
    given = values.get("department")
    if principal.role == "liaison":
        if given is not None and given != principal.department:
            raise ProblemError(
                403, "forbidden_role", detail_key="out_of_scope", detail_values={"what": given}
            )
        return {**values, "department": principal.department}
    return values


def add_command_route(
    router: APIRouter,
    suffix: str,
    command: type[Command],
    *,
    summary: str,
    drop: frozenset[str] = frozenset(),
    fill: Fill | None = None,
    check: Check | None = None,
) -> None:
    """``POST /v1/cases/{case_id}<suffix>``: check scope and role, build ``command``, decide."""
    roles = roles_for(command)
    optional = frozenset({"department"}) if fill is department_from_principal else frozenset()
    body_model = request_model(command, drop=drop, optional=optional)

    async def handler(
        request: Request,
        case_id: str,
        body: BaseModel,
        principal: Principal,
        services: Services,
        idempotency_key: str | None,
    ) -> JSONResponse:
        await check_visible(services, principal, case_id)
        require_role(principal, roles)
        values = body.model_dump(exclude_none=True)
        if fill is not None:
            values = fill(principal, values)
        built = build(
            command,
            request_lang(request),
            command_id=command_id_for(principal, case_id, command, idempotency_key),
            case_id=case_id,
            actor=principal.actor(),
            **values,
        )
        if check is not None:
            await check(request, services, principal, built)
        return await decide(request, services, built)

    endpoint = _with_signature(handler, body_model)
    roles_text = ", ".join(roles)
    router.add_api_route(
        "/v1/cases/{case_id}" + suffix,
        endpoint,
        methods=["POST"],
        summary=summary,
        description=f"{command.__doc__ or ''}\n\nRoles: {roles_text} (within scope).",
        response_model=CommandResult,
        responses=COMMAND_RESPONSES,
        operation_id=command.__name__[0].lower() + command.__name__[1:],
    )


def _with_signature(
    handler: Callable[..., Awaitable[JSONResponse]], body_model: type[BaseModel]
) -> Callable[..., Awaitable[JSONResponse]]:
    """Give ``handler`` a signature FastAPI can read, with ``body_model`` as the JSON body."""

    async def endpoint(**kwargs: Any) -> JSONResponse:
        return await handler(**kwargs)

    kw = inspect.Parameter.KEYWORD_ONLY
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("request", kw, annotation=Request),
            inspect.Parameter("case_id", kw, annotation=Annotated[str, Path(max_length=64)]),
            inspect.Parameter("body", kw, annotation=Annotated[body_model, Body()]),
            inspect.Parameter("principal", kw, annotation=CurrentPrincipal),
            inspect.Parameter("services", kw, annotation=CurrentServices),
            inspect.Parameter(
                "idempotency_key",
                kw,
                default=None,
                annotation=Annotated[
                    str | None,
                    Header(
                        max_length=200,
                        description="Retries with the same key are deduplicated by the decider.",
                    ),
                ],
            ),
        ]
    )
    return endpoint

"""Configuration versions over HTTP: list, show, validate, diff (dry run), publish.

One set of routes per kind (areas, departments, categories, routing, policies, calendars);
a proposal is the kind's whole document, put in place of that kind in the latest version.
Admins may change anything; a ``config_admin`` only what lies in its district
(``whistle.config.scope``). Every change is checked (``whistle.domain.configuration.check``)
and refused with the list of findings; a publish names the version it replaces
(``expected_version``) and is refused with 409 when another was published meanwhile.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from whistle.api.deps import CurrentPrincipal, CurrentServices, require_role
from whistle.api.identity import Principal, UserRole
from whistle.api.problems import (
    FieldError,
    ProblemError,
    field_errors,
    problem_responses,
    request_lang,
)
from whistle.config.follower import PublishRefused
from whistle.config.service import ConfigService, DryRun, Invalid, Publisher, Refused
from whistle.config.versions import (
    ConfigVersion,
    Kind,
    VersionMeta,
    changed_kinds,
    kind_document,
)
from whistle.domain.configuration import ConfigDiff, Finding

router = APIRouter(tags=["configuration"])

CONFIG_ROLES: tuple[UserRole, ...] = ("admin", "config_admin")
VersionNumber = Annotated[int, Path(ge=1, le=2**31 - 1)]


class ProposalIn(BaseModel):
    """A proposed document of one kind (the whole kind, as ``GET …/current`` shows it)."""

    model_config = ConfigDict(extra="forbid")

    document: Any = Field(description="The kind's whole document.")


class PublishIn(ProposalIn):
    """A proposal to publish, naming the version it replaces."""

    reason: str = Field(min_length=1, max_length=500, description="Why (kept in the history).")
    expected_version: int = Field(
        ge=1, le=2**31 - 1, strict=True, description="The latest version now; 409 if not."
    )
    effective_from: AwareDatetime | None = Field(
        default=None,
        description="When it takes effect: at least 3 s from now (no backdating); "
        "default 3 s from now.",
    )


class FindingOut(BaseModel):
    """One thing wrong with a proposal."""

    code: str
    where: str
    message: str
    values: dict[str, str]


class ValidationOut(BaseModel):
    """The findings of a proposal (nothing is changed)."""

    valid: bool
    base_version: int
    findings: list[FindingOut]
    outside_scope: list[str] = Field(description="What a config_admin may not change here.")


class DiffOut(ValidationOut):
    """A dry run: what publishing the proposal would change against the latest version."""

    kinds: list[Kind] = Field(description="The kinds the proposal changes.")
    changes: ConfigDiff


class VersionDocument(BaseModel):
    """One version of one kind: the version's metadata and the kind's document."""

    version: VersionMeta
    kind: Kind
    document: Any


def _service(services: Any) -> ConfigService:
    config: ConfigService | None = services.config
    if config is None:
        raise ProblemError(
            503,
            "unavailable",
            detail_key="unavailable",
            detail_values={"what": "configuration", "retry": 1},
            headers={"Retry-After": "1"},
        )
    return config


def _district(principal: Principal) -> str | None:
    return principal.area if principal.role == "config_admin" else None


def _findings(findings: list[Finding], lang: str) -> list[FindingOut]:
    return [
        FindingOut(code=f.code, where=f.where, message=f.message(lang), values=f.values)
        for f in findings
    ]


def _dry_run(
    service: ConfigService, kind: Kind, document: Any, principal: Principal, request: Request
) -> DryRun:
    try:
        return service.dry_run(kind, document, _district(principal))
    except ValidationError as exc:
        errors = field_errors(
            [{**e, "loc": ("document", *e.get("loc", ()))} for e in exc.errors()],
            request_lang(request),
        )
        raise ProblemError(422, "validation", errors=errors) from None
    except ValueError as exc:
        raise ProblemError(
            422, "validation", errors=[FieldError(field="document", message=str(exc)[:500])]
        ) from None


@router.get(
    "/v1/config/versions",
    response_model=list[VersionMeta],
    summary="Every configuration version, newest first",
    responses=problem_responses(401, 403, 503),
    operation_id="listConfigVersions",
)
async def list_all_versions(principal: CurrentPrincipal, services: CurrentServices) -> Any:
    """Version number, author, time, reason, effective_from and the kinds each changed."""
    require_role(principal, CONFIG_ROLES)
    return await _service(services).list_versions()


@router.get(
    "/v1/config/{kind}/versions",
    response_model=list[VersionMeta],
    summary="The versions that changed one kind, newest first",
    responses=problem_responses(401, 403, 503),
    operation_id="listConfigKindVersions",
)
async def list_versions(kind: Kind, principal: CurrentPrincipal, services: CurrentServices) -> Any:
    """Versions whose ``kinds`` include ``kind`` (version 1 includes all)."""
    require_role(principal, CONFIG_ROLES)
    return await _service(services).list_versions(kind)


@router.get(
    "/v1/config/{kind}/current",
    response_model=VersionDocument,
    summary="The document of one kind in force now",
    responses=problem_responses(401, 403, 503),
    operation_id="showCurrentConfig",
)
async def show_current(kind: Kind, principal: CurrentPrincipal, services: CurrentServices) -> Any:
    """The version in force now (by the API's clock) and its ``kind`` document."""
    require_role(principal, CONFIG_ROLES)
    return _document(_service(services).current(), kind)


@router.get(
    "/v1/config/{kind}/versions/{version}",
    response_model=VersionDocument,
    summary="The document of one kind in one version",
    responses=problem_responses(401, 403, 404, 503),
    operation_id="showConfigVersion",
)
async def show_version(
    kind: Kind, version: VersionNumber, principal: CurrentPrincipal, services: CurrentServices
) -> Any:
    """The metadata of ``version`` and its ``kind`` document."""
    require_role(principal, CONFIG_ROLES)
    service = _service(services)
    found = service.follower.history.get(version)
    if found is None:  # published through another API process a moment ago?
        await service.follower.refresh()
        found = service.follower.history.get(version)
    if found is None:
        raise ProblemError(
            404, "not_found", detail_key="no_config_version", detail_values={"version": version}
        )
    return _document(found, kind)


def _document(version: ConfigVersion, kind: Kind) -> VersionDocument:
    return VersionDocument(
        version=version.meta(), kind=kind, document=kind_document(version.document, kind)
    )


@router.post(
    "/v1/config/{kind}/validate",
    response_model=ValidationOut,
    summary="Check a proposed document (nothing is changed)",
    responses=problem_responses(401, 403, 422, 503),
    operation_id="validateConfig",
)
async def validate(
    kind: Kind,
    body: ProposalIn,
    request: Request,
    principal: CurrentPrincipal,
    services: CurrentServices,
) -> Any:
    """The findings of the latest version with ``kind`` replaced by the document: an owner
    for every category × community, known departments and areas, ladders in order, calendars
    consistent with the weekdays. 422 only when the document is not of the kind's shape."""
    require_role(principal, CONFIG_ROLES)
    run = _dry_run(_service(services), kind, body.document, principal, request)
    return _validation(run, request_lang(request))


def _validation(run: DryRun, lang: str) -> dict[str, Any]:
    return {
        "valid": not run.findings and not run.outside,
        "base_version": run.base.version,
        "findings": _findings(run.findings, lang),
        "outside_scope": run.outside,
    }


@router.post(
    "/v1/config/{kind}/diff",
    response_model=DiffOut,
    summary="Dry run: what publishing a proposed document would change",
    responses=problem_responses(401, 403, 422, 503),
    operation_id="diffConfig",
)
async def dry_run(
    kind: Kind,
    body: ProposalIn,
    request: Request,
    principal: CurrentPrincipal,
    services: CurrentServices,
) -> Any:
    """Which communities' categories change owner, which clocks change budget, which
    calendar days are added or removed, against the latest version; and the findings."""
    require_role(principal, CONFIG_ROLES)
    run = _dry_run(_service(services), kind, body.document, principal, request)
    kinds = changed_kinds(run.base.document, run.proposed)
    return {**_validation(run, request_lang(request)), "kinds": kinds, "changes": run.diff}


@router.post(
    "/v1/config/{kind}/publish",
    status_code=201,
    response_model=VersionMeta,
    summary="Publish a proposed document as the next version",
    responses=problem_responses(401, 403, 409, 422, 503),
    operation_id="publishConfig",
)
async def publish(
    kind: Kind,
    body: PublishIn,
    request: Request,
    principal: CurrentPrincipal,
    services: CurrentServices,
) -> JSONResponse:
    """Checked, then appended to the configuration topic as version ``expected_version + 1``;
    every worker, API and projector takes it up at ``effective_from`` without a restart.

    409: ``expected_version`` is not the latest. 422: findings (each in ``errors``), an
    ``effective_from`` sooner than 3 s from now, or no change. 403: a config_admin's
    proposal changes something outside its district."""
    require_role(principal, CONFIG_ROLES)
    service = _service(services)
    lang = request_lang(request)
    _dry_run(service, kind, body.document, principal, request)  # the shape, before the lock
    publisher = Publisher(principal.user_id, principal.role, _district(principal))
    try:
        version = await service.publish(
            [(kind, body.document)],
            publisher=publisher,
            reason=body.reason,
            effective_from=body.effective_from,
            expected_version=body.expected_version,
        )
    except Invalid as exc:
        errors = [FieldError(field=f.where, message=f.message(lang)) for f in exc.findings]
        raise ProblemError(
            422, "config_invalid", detail_key="config_invalid", errors=errors
        ) from None
    except Refused as exc:
        raise _refusal(exc) from None
    except PublishRefused as exc:
        raise ProblemError(
            409, "config_stale", detail_key="config_not_taken", detail_values={"why": exc.reason}
        ) from None
    return JSONResponse(
        version.meta().model_dump(mode="json"),
        status_code=201,
        headers={"Location": f"/v1/config/{kind}/versions/{version.version}"},
    )


def _refusal(exc: Refused) -> ProblemError:
    values: dict[str, object] = {k: str(v) for k, v in exc.values.items()}
    if exc.why == "stale":
        return ProblemError(409, "config_stale", detail_key="config_stale", detail_values=values)
    if exc.why == "outside_scope":
        return ProblemError(403, "forbidden_role", detail_key="out_of_scope", detail_values=values)
    key = "config_backdated" if exc.why == "backdated" else "config_no_change"
    return ProblemError(422, "validation", detail_key=key, detail_values=values)

"""Open311 GeoReport v2 under ``/open311/v2/`` (JSON format): 311 apps raise and follow whistles.

Services are the categories of the routing rules in use (``WHISTLE_ROUTING_RULES_FILE``).
``api_key`` is a user's API token: POST needs a secretary's; a retried POST returns the first
request. Any request is answered by id without a key, in its public fields only (no requester
ever; description and place once published, 晒事); the listing without a key shows published
cases, with one the caller's scope. Errors are the spec's array of ``{code, description}``
(see ``problems.problem_response``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Form, Header, Path, Query, Request
from pydantic import BaseModel, Field

from whistle.api.attachment_routes import attach_raised, library, photo_problem, store_photo
from whistle.api.cases import first_of_retries, request_digest
from whistle.api.commands import build, decide, new_case_id, new_command_id
from whistle.api.deps import CurrentServices, Services, visible
from whistle.api.identity import Principal
from whistle.api.instants import Instant
from whistle.api.problems import ProblemError, request_lang
from whistle.attachments.photos import PhotoError
from whistle.domain import commands
from whistle.domain.base import Command
from whistle.domain.routing import Category, RoutingRules
from whistle.domain.steps.attach import Photo
from whistle.domain.types import CaseStatus
from whistle.read.scope import CaseFilters, Row, Scope

router = APIRouter(prefix="/open311/v2", tags=["open311"])

OPEN = frozenset({"raised", "routed", "in_progress"})
RESOLUTION_STATUS = {
    "solved": "fixed",
    "partially_solved": "fixed",
    "explained": "no further action",
    "not_solvable": "unable to fix",
}
DEFAULT_WINDOW = timedelta(days=90)
RETRY_WINDOW = timedelta(minutes=10)
"""A POST with the same api_key and the same fields within this long is a retry of the first
one (apps resend when an answer is lost) and returns its request, never a second case."""
RETRY_HELP = (
    "A retried POST with the same key returns the same request. Without one, the same api_key"
    f" and fields within {RETRY_WINDOW.seconds // 60} minutes count as a retry."
)


class Open311Error(BaseModel):
    """One error, as GeoReport v2 reports them."""

    code: int
    description: str


class Service(BaseModel):
    """A GeoReport service: one case category."""

    service_code: str
    service_name: str
    description: str
    metadata: bool = False
    type: str = "realtime"
    keywords: str = ""
    group: str = ""


class ServiceDefinition(BaseModel):
    """A service's extra attributes (none: every category takes the standard fields)."""

    service_code: str
    attributes: list[dict[str, Any]] = Field(default_factory=list)


class ServiceRequest(BaseModel):
    """One request (case) in GeoReport v2 form, plus FixMyStreet's extended status."""

    service_request_id: str
    status: str = Field(description="open | closed")
    extended_status: str = Field(
        description="FixMyStreet's: open, in progress, action scheduled, fixed, "
        "no further action, unable to fix, duplicate, closed"
    )
    status_notes: str | None = None
    service_name: str | None = None
    service_code: str | None = None
    description: str | None = None
    agency_responsible: str | None = None
    service_notice: str | None = None
    requested_datetime: datetime | None = None
    updated_datetime: datetime | None = None
    expected_datetime: datetime | None = None
    address: str | None = None
    address_id: str | None = None
    zipcode: str | None = None
    lat: float | None = None
    long: float | None = None
    media_url: str | None = None


class Created(BaseModel):
    """The answer to a POST: the id, or a token to look it up once the decision is in."""

    service_request_id: str | None = None
    token: str | None = None
    service_notice: str | None = None
    account_id: str | None = None


class TokenLookup(BaseModel):
    """A token resolved to its request id."""

    service_request_id: str
    token: str


ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": list[Open311Error], "description": d}
    for s, d in (
        (400, "Missing or invalid field"),
        (403, "Invalid api_key"),
        (404, "Not found"),
        (422, "Invalid input"),
    )
}


def get_rules(request: Request) -> RoutingRules:
    """The routing rules in force now (the followed configuration), else those the app was
    started with (``create_app`` loads them once; unit tests with fake services)."""
    services = getattr(request.app.state, "services", None)
    config = getattr(services, "config", None)
    if config is not None:
        return config.current().document.routing
    rules: RoutingRules = request.app.state.routing_rules
    return rules


CurrentRules = Annotated[RoutingRules, Depends(get_rules)]


def as_service(code: str, category: Category) -> Service:
    """A category as a GeoReport service: its group, its keywords comma-separated."""
    return Service(
        service_code=code,
        service_name=category.name,
        description=category.name,
        keywords=",".join(category.keywords),
        group=category.group,
    )


def extended_status(row: Row) -> str:
    """FixMyStreet's extended status of a case row."""
    status = row.get("status")
    if status == "duplicate":
        return "duplicate"
    if status in ("closed", "withdrawn"):
        return "closed"
    if status == "resolved":
        return RESOLUTION_STATUS.get(row.get("resolution") or "", "fixed")
    if row.get("joint_action_at"):
        return "action scheduled"
    if status == "in_progress":
        return "in progress"
    return "open"


def as_request(
    row: Row,
    raised: Row | None,
    follow_up: Row | None,
    categories: dict[str, Category],
    *,
    in_scope: bool,
) -> ServiceRequest:
    """A case row in GeoReport v2 form; never the requester. The description, address and
    place (from its WhistleRaised body) only ``in_scope`` of the caller: a published case
    (晒事) shows the public what the public page does, its summary as ``status_notes`` and
    never its exact address, place or the secretary's words (they may name people or doors);
    in scope, ``status_notes`` is else the closing reason."""
    follow_up = follow_up or {}
    category = categories.get(row.get("category") or "")
    summary = follow_up.get("summary")
    public = ServiceRequest(
        service_request_id=row["case_id"],
        status="open" if row.get("status") in OPEN else "closed",
        extended_status=extended_status(row),
        status_notes=summary or (row.get("final_reason") if in_scope else None),
        service_code=row.get("category"),
        service_name=category.name if category else None,
        agency_responsible=row.get("lead_department"),
        requested_datetime=row.get("raised_at"),
        updated_datetime=row.get("updated_at"),
        expected_datetime=follow_up.get("expected_at"),
    )
    if not in_scope:
        return public
    raised = raised or {}
    location = raised.get("location") or {}
    return public.model_copy(
        update={
            "description": raised.get("description") or row.get("title"),
            "address": raised.get("address"),
            "lat": location.get("lat"),
            "long": location.get("lon"),
        }
    )


async def _principal(services: Services, api_key: str | None) -> Principal | None:
    if not api_key:
        return None
    principal = await services.users.principal(api_key)
    if principal is None:
        raise ProblemError(403, "unauthorized", detail_key="bad_token")
    return principal


@router.get("/services.json", response_model=list[Service], summary="Open311: services")
async def services_list(rules: CurrentRules) -> list[Service]:
    """Every category cases can be raised in, with its group and keywords."""
    return [as_service(code, cat) for code, cat in sorted(rules.categories.items())]


@router.get(
    "/services/{service_code}.json",
    response_model=ServiceDefinition,
    responses=ERRORS,
    summary="Open311: service definition",
)
async def service_definition(
    rules: CurrentRules, service_code: Annotated[str, Path(max_length=128)]
) -> Any:
    """The definition of one service (no extra attributes)."""
    if service_code not in rules.categories:
        raise ProblemError(
            404, "not_found", detail_key="unknown_service", detail_values={"code": service_code}
        )
    return ServiceDefinition(service_code=service_code)


@router.post(
    "/requests.json",
    response_model=list[Created],
    responses=ERRORS,
    summary="Open311: raise a whistle (form-encoded, api_key = a secretary's token)",
)
async def create_request(
    request: Request,
    services: CurrentServices,
    rules: CurrentRules,
    api_key: Annotated[str, Form(min_length=1, max_length=200)],
    service_code: Annotated[str, Form(min_length=1, max_length=128)],
    lat: Annotated[float | None, Form(ge=-90, le=90)] = None,
    long: Annotated[float | None, Form(ge=-180, le=180)] = None,
    address_string: Annotated[str | None, Form(max_length=500)] = None,
    address_id: Annotated[str | None, Form(max_length=128)] = None,
    description: Annotated[str, Form(max_length=4000)] = "",
    first_name: Annotated[str | None, Form(max_length=32)] = None,
    last_name: Annotated[str | None, Form(max_length=32)] = None,
    phone: Annotated[str | None, Form(max_length=32)] = None,
    email: Annotated[str | None, Form(max_length=254)] = None,
    device_id: Annotated[str | None, Form(max_length=128)] = None,
    account_id: Annotated[str | None, Form(max_length=128)] = None,
    media_url: Annotated[str | None, Form(max_length=2000)] = None,
    jurisdiction_id: Annotated[str | None, Form(max_length=128)] = None,
    idempotency_key: Annotated[
        str | None,
        Header(max_length=200, description=RETRY_HELP),
    ] = None,
) -> Any:
    """Raises a whistle in the secretary's community with channel ``open311``; a retried
    POST returns the first request (see the ``Idempotency-Key`` header)."""
    principal = await _principal(services, api_key)
    if principal is None or principal.role != "secretary":
        raise ProblemError(403, "forbidden_role", detail_key="secretary_key")
    if service_code not in rules.categories:
        raise ProblemError(
            400, "bad_request", detail_key="unknown_service", detail_values={"code": service_code}
        )
    if (lat is None) != (long is None):
        raise ProblemError(400, "bad_request", detail_key="lat_long_pair")
    if lat is None and not address_string:
        raise ProblemError(400, "bad_request", detail_key="need_place")
    fields = {
        "service_code": service_code,
        "lat": lat,
        "long": long,
        "address_string": address_string,
        "address_id": address_id,
        "description": description,
        "first_name": first_name,
        "last_name": last_name,
        "phone": phone,
        "email": email,
        "device_id": device_id,
        "account_id": account_id,
        "media_url": media_url,
        "jurisdiction_id": jurisdiction_id,
    }
    command = raise_command(request, principal, rules.categories[service_code].name, fields)
    photos = await media_photos(services, principal, media_url) if media_url else ()
    key = idempotency_key or "open311-retry:" + request_digest(fields)
    within = None if idempotency_key else RETRY_WINDOW
    command = await first_of_retries(services, principal, key, fields, command, within)
    response = await decide(request, services, command, created=True)
    response = await attach_raised(request, services, principal, command, photos, response)
    if response.status_code == 202:
        return [Created(token=command.case_id, account_id=account_id)]
    return [Created(service_request_id=command.case_id, account_id=account_id)]


async def media_photos(services: Services, principal: Principal, url: str) -> tuple[Photo, ...]:
    """The photo at ``media_url``, fetched within the photo limits and stored as the
    secretary's upload, to be attached to the whistle (stage ``raise``)."""
    photos, _ = library(services)
    try:
        data = await photos.fetch(url)
    except PhotoError as exc:
        raise photo_problem(exc) from exc
    uploaded = await store_photo(services, principal, data)
    kind: Any = uploaded.content_type
    return (Photo(sha256=uploaded.sha256, size=uploaded.size, content_type=kind),)


def raise_command(
    request: Request, principal: Principal, category_name: str, fields: dict[str, Any]
) -> Command:
    """The RaiseWhistle of a checked Open311 form: the first line of the description is the
    title (else the category's name); the requester is the name and phone given, if any."""
    name = " ".join(p for p in (fields["last_name"], fields["first_name"]) if p) or None
    phone, lat, description = fields["phone"], fields["lat"], fields["description"]
    requester = {"name": name, "phone": phone} if (name or phone) else None
    title = (description.strip().splitlines() or [category_name])[0][:200]
    return build(
        commands.RaiseWhistle,
        request_lang(request),
        command_id=new_command_id(),
        case_id=new_case_id(),
        actor=principal.actor(),
        community=principal.area,
        category=fields["service_code"],
        title=title,
        description=description,
        channel="open311",
        address=fields["address_string"],
        location={"lat": lat, "lon": fields["long"]} if lat is not None else None,
        requester=requester,
    )


async def _answer(
    services: Services, rules: RoutingRules, rows: list[Row], in_scope: bool
) -> list[ServiceRequest]:
    """The rows as GeoReport requests (the WhistleRaised bodies read only where shown)."""
    ids = [r["case_id"] for r in rows]
    shown = [r["case_id"] for r in rows if in_scope or r.get("published_at")]
    raised = await services.read.whistles(shown)
    follow_ups = await services.read.follow_ups(ids)
    return [
        as_request(r, raised.get(i), follow_ups.get(i), rules.categories, in_scope=in_scope)
        for r, i in zip(rows, ids, strict=True)
    ]


@router.get(
    "/requests.json",
    response_model=list[ServiceRequest],
    responses=ERRORS,
    summary="Open311: requests (published ones, or those in the api_key's scope)",
)
async def list_requests(
    services: CurrentServices,
    rules: CurrentRules,
    api_key: Annotated[str | None, Query(max_length=200)] = None,
    service_request_id: Annotated[str | None, Query(max_length=2000)] = None,
    service_code: Annotated[str | None, Query(max_length=128)] = None,
    start_date: Instant | None = None,
    end_date: Instant | None = None,
    status: Annotated[str | None, Query(pattern=r"^(open|closed)(,(open|closed))?$")] = None,
) -> Any:
    """The spec's filters; without dates, the last 90 days; at most 1000 requests."""
    principal = await _principal(services, api_key)
    ids = tuple(i.strip() for i in (service_request_id or "").split(",") if i.strip())
    wanted = set((status or "open,closed").split(","))
    statuses: tuple[str, ...] = ()
    if wanted == {"open"}:
        statuses = tuple(sorted(OPEN))
    elif wanted == {"closed"}:
        statuses = tuple(s for s in get_args(CaseStatus) if s not in OPEN)
    if not ids and start_date is None and end_date is None:
        start_date = datetime.now().astimezone() - DEFAULT_WINDOW
    filters = CaseFilters(
        status=statuses,
        category=service_code,
        raised_after=start_date,
        raised_before=end_date,
        case_ids=ids,
        published_only=principal is None,
        limit=1000,
    )
    rows = await services.read.cases(Scope.of(principal) if principal else Scope(), filters)
    return await _answer(services, rules, rows, in_scope=principal is not None)


@router.get(
    "/requests/{service_request_id}.json",
    response_model=list[ServiceRequest],
    responses=ERRORS,
    summary="Open311: one request (public fields without an api_key in its scope)",
)
async def get_request(
    services: CurrentServices,
    rules: CurrentRules,
    service_request_id: Annotated[str, Path(max_length=64)],
    api_key: Annotated[str | None, Query(max_length=200)] = None,
) -> Any:
    """One request, as a one-element array (as the spec says), to anyone who has its id.
    Without an api_key whose scope holds it, only the public fields: id, statuses, service,
    agency, dates (expected: the resolve deadline) and, once published (晒事), the summary,
    description, address and place. Never the requester."""
    principal = await _principal(services, api_key)
    row = await services.read.case(service_request_id)  # not the cached listing: followed live
    if row is None:
        raise ProblemError(
            404, "not_found", detail_key="no_request", detail_values={"id": service_request_id}
        )
    in_scope = principal is not None and visible(principal, row)
    return await _answer(services, rules, [row], in_scope=in_scope)


@router.get(
    "/tokens/{token}.json",
    response_model=list[TokenLookup],
    responses=ERRORS,
    summary="Open311: the request id of a token",
)
async def get_token(
    services: CurrentServices,
    token: Annotated[str, Path(max_length=64)],
    api_key: Annotated[str | None, Query(max_length=200)] = None,
) -> Any:
    """The token is the case id reserved at POST; it resolves, for anyone who has it, once
    the case exists (a key given must be valid)."""
    await _principal(services, api_key)
    if await services.read.case_scope(token) is None:
        raise ProblemError(404, "not_found", f"no request for token {token!r} yet")
    return [TokenLookup(service_request_id=token, token=token)]

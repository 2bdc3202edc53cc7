"""Webhook endpoints over HTTP: register, list, rotate, enable/disable, the log, redelivery."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from whistle.api.deps import CurrentPrincipal, CurrentServices, Services, require_role
from whistle.api.identity import Principal
from whistle.api.problems import ProblemError, problem_responses
from whistle.domain.areas import Department, load_departments
from whistle.domain.codec import EVENT_TYPES
from whistle.webhooks.delivery_store import Endpoint, WebhookStore
from whistle.webhooks.signing import new_secret

router = APIRouter(tags=["webhooks"])

EndpointId = Annotated[int, Path(ge=1, le=2**62)]


class EndpointIn(BaseModel):
    """A department's receiver to register."""

    model_config = ConfigDict(extra="forbid")

    department: str | None = Field(
        default=None, description="Department code; a liaison's own department by default."
    )
    url: AnyHttpUrl = Field(description="Where deliveries are POSTed (http or https).")
    description: str = Field(default="", max_length=200)
    event_types: list[str] | None = Field(
        default=None, max_length=50, description="Event types to receive; all when omitted."
    )


class RotateIn(BaseModel):
    """How long the previous secret stays valid alongside the new one."""

    model_config = ConfigDict(extra="forbid")

    overlap_hours: float = Field(
        default=24.0, ge=0, le=24 * 30, strict=True
    )  # `false` is no number


class EndpointOut(BaseModel):
    """An endpoint as listed (its secrets are never shown again)."""

    endpoint_id: int
    department: str
    url: str
    description: str
    event_types: list[str] | None
    enabled: bool
    disabled_reason: str | None
    rotating: bool = Field(description="True while two secrets are valid.")


class EndpointCreated(EndpointOut):
    """A new endpoint with its secret, shown this once."""

    secret: str = Field(description="The `whsec_` secret to verify signatures with.")


class SecretOut(BaseModel):
    """A rotated secret, shown this once."""

    endpoint_id: int
    secret: str
    previous_valid_until: datetime


class DeliveryOut(BaseModel):
    """One delivery of the log."""

    model_config = ConfigDict(extra="allow")

    delivery_id: int
    endpoint_id: int
    event_id: str
    case_id: str
    event_type: str
    status: str
    attempts: int


class Deliveries(BaseModel):
    """The delivery log of an endpoint, newest first."""

    items: list[DeliveryOut]


async def store_of(services: Services) -> WebhookStore:
    """The webhook store wired at start-up; 503 where the app was built without one."""
    if services.webhooks is None:
        raise ProblemError(
            503,
            "unavailable",
            detail_key="unavailable",
            detail_values={"what": "webhooks", "retry": 1},
            headers={"Retry-After": "1"},
        )
    return services.webhooks


def _out(ep: Endpoint) -> dict[str, Any]:
    return {
        "endpoint_id": ep.endpoint_id,
        "department": ep.department,
        "url": ep.url,
        "description": ep.description,
        "event_types": list(ep.event_types) if ep.event_types is not None else None,
        "enabled": ep.enabled,
        "disabled_reason": ep.disabled_reason,
        "rotating": len(ep.secrets) > 1,
    }


def _may_manage(principal: Principal, department: str) -> bool:
    return principal.role == "admin" or (
        principal.role == "liaison" and principal.department == department
    )


async def endpoint_in_scope(
    store: WebhookStore, principal: Principal, endpoint_id: int
) -> Endpoint:
    """The endpoint, when the caller may manage it; 404 otherwise (as one that does not
    exist), 403 for a role that manages none."""
    require_role(principal, ("liaison", "admin"))
    ep = await store.endpoint(endpoint_id)
    if ep is None or not _may_manage(principal, ep.department):
        raise ProblemError(
            404, "not_found", detail_key="no_endpoint", detail_values={"id": endpoint_id}
        )
    return ep


@router.post(
    "/v1/webhooks",
    status_code=201,
    response_model=EndpointCreated,
    summary="Register a department's webhook endpoint (the secret is shown once)",
    responses=problem_responses(401, 403, 422),
    operation_id="addWebhook",
)
async def add_webhook(
    body: EndpointIn, principal: CurrentPrincipal, services: CurrentServices
) -> JSONResponse:
    """Admins register for any department; a liaison for their own."""
    created = await register(body, principal, services)
    return JSONResponse(
        created.model_dump(mode="json"),
        status_code=201,
        headers={"Location": f"/v1/webhooks/{created.endpoint_id}", "Cache-Control": "no-store"},
    )


def checked_department(body: EndpointIn, principal: Principal, services: Services) -> str:
    """The department ``body`` registers for, or a ProblemError: an unknown department or
    event type (422), a department outside the caller's scope (403)."""
    require_role(principal, ("liaison", "admin"))
    department = body.department or principal.department
    if not department or department not in departments_in_force(services):
        raise ProblemError(
            422, "validation", detail_key="unknown_department", detail_values={"code": department}
        )
    if not _may_manage(principal, department):
        raise ProblemError(
            403, "forbidden_role", detail_key="out_of_scope", detail_values={"what": department}
        )
    unknown = sorted(set(body.event_types or ()) - set(EVENT_TYPES))
    if unknown:
        raise ProblemError(
            422,
            "validation",
            detail_key="unknown_event_types",
            detail_values={"types": ", ".join(unknown)},
        )
    return department


def departments_in_force(services: Services) -> dict[str, Department]:
    """The departments of the configuration in force (the packaged ones without one)."""
    known = services.config.current().document.departments if services.config else None
    return dict(known) if known is not None else load_departments()


async def register(body: EndpointIn, principal: Principal, services: Services) -> EndpointCreated:
    """Register ``body`` once it is checked (``checked_department``); its secret, this once."""
    department = checked_department(body, principal, services)
    store = await store_of(services)
    secret = new_secret()
    endpoint_id = await store.add_endpoint(
        department,
        str(body.url),
        secret,
        body.description,
        body.event_types,
        actor=principal.user_id,
    )
    ep = await store.endpoint(endpoint_id)
    assert ep is not None
    return EndpointCreated(**_out(ep), secret=secret)


@router.get(
    "/v1/webhooks",
    response_model=list[EndpointOut],
    summary="Webhook endpoints in scope",
    responses=problem_responses(401, 403),
    operation_id="listWebhooks",
)
async def list_webhooks(principal: CurrentPrincipal, services: CurrentServices) -> Any:
    """Every endpoint (admin) or the liaison's department's."""
    require_role(principal, ("liaison", "admin"))
    store = await store_of(services)
    department = None if principal.role == "admin" else principal.department
    return [_out(ep) for ep in await store.endpoints(department)]


@router.post(
    "/v1/webhooks/{endpoint_id}/rotate",
    response_model=SecretOut,
    summary="Rotate the secret; the previous one stays valid for the overlap",
    responses=problem_responses(401, 403, 404, 422),
    operation_id="rotateWebhookSecret",
)
async def rotate(
    endpoint_id: EndpointId,
    principal: CurrentPrincipal,
    services: CurrentServices,
    body: RotateIn | None = None,
) -> JSONResponse:
    """While both secrets are valid, every delivery carries both signatures."""
    out = await rotated(endpoint_id, (body or RotateIn()).overlap_hours, principal, services)
    return JSONResponse(out.model_dump(mode="json"), headers={"Cache-Control": "no-store"})


async def rotated(
    endpoint_id: int, overlap_hours: float, principal: Principal, services: Services
) -> SecretOut:
    """A new secret for an endpoint in the caller's scope, shown this once; the previous one
    stays valid for ``overlap_hours``."""
    store = await store_of(services)
    await endpoint_in_scope(store, principal, endpoint_id)
    overlap = timedelta(hours=overlap_hours)
    secret = new_secret()
    await store.rotate(endpoint_id, secret, overlap, actor=principal.user_id)
    return SecretOut(
        endpoint_id=endpoint_id,
        secret=secret,
        previous_valid_until=datetime.now().astimezone() + overlap,
    )


async def set_enabled(
    endpoint_id: int, enabled: bool, principal: Principal, services: Services
) -> Any:
    """Enable or disable an endpoint in the caller's scope; its new state."""
    store = await store_of(services)
    await endpoint_in_scope(store, principal, endpoint_id)
    await store.set_enabled(
        endpoint_id, enabled, f"disabled by {principal.user_id}", actor=principal.user_id
    )
    ep = await store.endpoint(endpoint_id)
    assert ep is not None
    return _out(ep)


@router.post(
    "/v1/webhooks/{endpoint_id}/enable",
    response_model=EndpointOut,
    summary="Enable an endpoint; pending deliveries resume",
    responses=problem_responses(401, 403, 404),
    operation_id="enableWebhook",
)
async def enable(
    endpoint_id: EndpointId, principal: CurrentPrincipal, services: CurrentServices
) -> Any:
    """Deliveries that waited while the endpoint was disabled are sent again."""
    return await set_enabled(endpoint_id, True, principal, services)


@router.post(
    "/v1/webhooks/{endpoint_id}/disable",
    response_model=EndpointOut,
    summary="Disable an endpoint (a 410 from the receiver disables it too)",
    responses=problem_responses(401, 403, 404),
    operation_id="disableWebhook",
)
async def disable(
    endpoint_id: EndpointId, principal: CurrentPrincipal, services: CurrentServices
) -> Any:
    """Pending deliveries wait until the endpoint is enabled again."""
    return await set_enabled(endpoint_id, False, principal, services)


@router.get(
    "/v1/webhooks/{endpoint_id}/deliveries",
    response_model=Deliveries,
    summary="The delivery log of an endpoint (dead letters with status=dead)",
    responses=problem_responses(401, 403, 404, 422),
    operation_id="listWebhookDeliveries",
)
async def deliveries(
    endpoint_id: EndpointId,
    principal: CurrentPrincipal,
    services: CurrentServices,
    status: Annotated[str | None, Query(pattern="^(pending|delivered|dead)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Any:
    """Newest first, with attempts counts and the last status code or error."""
    store = await store_of(services)
    await endpoint_in_scope(store, principal, endpoint_id)
    return {"items": await store.deliveries(status, endpoint_id, limit)}


@router.post(
    "/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    summary="Send a delivery again now (e.g. a dead letter)",
    responses=problem_responses(401, 403, 404),
    operation_id="redeliverWebhook",
)
async def redeliver(
    endpoint_id: EndpointId,
    delivery_id: Annotated[int, Path(ge=1, le=2**62)],
    principal: CurrentPrincipal,
    services: CurrentServices,
) -> dict[str, Any]:
    """Queue the delivery; the delivery worker sends it within a moment."""
    await redelivered(endpoint_id, delivery_id, principal, services)
    return {"delivery_id": delivery_id, "status": "pending"}


async def redelivered(
    endpoint_id: int, delivery_id: int, principal: Principal, services: Services
) -> None:
    """Queue a delivery of an endpoint in the caller's scope again; 404 when the endpoint
    has no such delivery."""
    store = await store_of(services)
    await endpoint_in_scope(store, principal, endpoint_id)
    rows = await store.pool.fetchval(
        "SELECT count(*) FROM webhooks.deliveries WHERE delivery_id = $1 AND endpoint_id = $2",
        delivery_id,
        endpoint_id,
    )
    if not rows or not await store.redeliver(delivery_id):
        raise ProblemError(
            404,
            "not_found",
            detail_key="no_delivery",
            detail_values={"id": delivery_id, "endpoint": endpoint_id},
        )

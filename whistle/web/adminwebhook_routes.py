"""The admin's webhook endpoint pages: the endpoints (department, URL, event kinds, state,
last delivery), registering one (its signing secret shown once), rotating the secret (shown
once), disabling and enabling, and an endpoint's recent deliveries with 重新投递 for a dead
letter.

Every step calls what ``whistle.api.webhook_routes`` calls (``register``, ``rotated``,
``set_enabled``, ``redelivered``, ``endpoint_in_scope``), so validation and scope are not
repeated; a refusal reads as the API's, beside its field.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from whistle.api.i18n import DETAILS, text
from whistle.api.problems import ProblemError, field_errors
from whistle.api.webhook_routes import (
    EndpointId,
    EndpointIn,
    departments_in_force,
    endpoint_in_scope,
    redelivered,
    register,
    rotated,
    set_enabled,
    store_of,
)
from whistle.domain.codec import EVENT_TYPES
from whistle.web.liaison_routes import china_time
from whistle.web.pages import FormPage, Page, PageError, form, redirect, render, roles
from whistle.webhooks.delivery_store import WebhookStore

router = APIRouter()
admin_page = roles("admin")
FIELDS = ("department", "url", "description", "event_types")
FIELD_OF = {"unknown_department": "department", "out_of_scope": "department",
            "unknown_event_types": "event_types"}  # fmt: skip
"""The form field beside which each refusal of ``checked_department`` is shown."""
PAGE_ERRORS = {"no_endpoint": "no_such_endpoint", "no_delivery": "no_such_delivery",
               "unavailable": "webhooks_unavailable"}  # fmt: skip
"""The page's words for the API's refusals that end on the error page."""
ROTATE_OVERLAP_HOURS = 24.0
"""How long the previous secret stays valid after a rotation from the page (the API's default)."""


@contextmanager
def _as_page() -> Iterator[None]:
    """The API's refusals (no store, no such endpoint or delivery) as the error page."""
    try:
        yield
    except ProblemError as exc:
        key = PAGE_ERRORS.get(exc.detail_key or "")
        if key is None:
            raise
        raise PageError(exc.status, key, **exc.detail_values) from exc


async def _store(page: Page) -> WebhookStore:
    with _as_page():
        return await store_of(page.request.app.state.services)


@router.get("/admin/webhooks", response_class=HTMLResponse, include_in_schema=False)
async def webhooks_page(page: Annotated[Page, Depends(admin_page)]) -> Response:
    """Every endpoint with its department, URL, event kinds, state and last delivery."""
    store = await _store(page)
    query = page.request.query_params
    return render(
        page,
        "webhooks.html",
        endpoints=await store.endpoints(),
        last=await store.last_deliveries(),
        names=_names(page),
        labels=_labels(page),
        disabled=query.get("disabled"),
        enabled=query.get("enabled"),
    )


@router.get("/admin/webhooks/new", response_class=HTMLResponse, include_in_schema=False)
async def new_webhook_page(page: Annotated[Page, Depends(admin_page)]) -> Response:
    """The form to register an endpoint."""
    await _store(page)
    return _form(page, {}, {}, 200)


@router.post("/admin/webhooks", response_class=HTMLResponse, include_in_schema=False)
async def create_webhook(page: Annotated[FormPage, Depends(form(admin_page))]) -> Response:
    """Register an endpoint as ``POST /v1/webhooks`` does; its secret is shown once."""
    await _store(page)
    kinds = [k for k in page.form.getlist("event_types") if isinstance(k, str)]
    values: dict[str, Any] = {k: page.value(k) for k in FIELDS[:3]} | {"event_types": kinds}
    errors: dict[str, str] = {}
    body: EndpointIn | None = None
    try:
        body = EndpointIn.model_validate(
            {"department": values["department"] or None, "url": values["url"],
             "description": values["description"], "event_types": kinds or None}
        )  # fmt: skip
    except ValidationError as exc:
        for error in field_errors(exc.errors(), page.lang):
            errors.setdefault(_field(error.field), error.message)
    if not values["department"]:
        errors.setdefault("department", page.t("required"))
    if body is not None and not errors:
        services = page.request.app.state.services
        try:
            with _as_page():
                created = await register(body, page.principal, services)
        except ProblemError as exc:
            key = exc.detail_key or "validation"
            errors[FIELD_OF.get(key, "url")] = text(DETAILS, key, page.lang, **exc.detail_values)
        else:
            message = page.t("webhook_secret_created", id=created.endpoint_id,
                             department=_names(page).get(created.department, created.department),
                             url=created.url)  # fmt: skip
            return _shown_once(page, message, created.secret, 201)
    return _form(page, values, errors, 422)


@router.post(
    "/admin/webhooks/{endpoint_id}/rotate", response_class=HTMLResponse, include_in_schema=False
)
async def rotate_secret(
    endpoint_id: EndpointId, page: Annotated[FormPage, Depends(form(admin_page))]
) -> Response:
    """A new secret, shown once; the previous one stays valid for a day."""
    services = page.request.app.state.services
    with _as_page():
        out = await rotated(endpoint_id, ROTATE_OVERLAP_HOURS, page.principal, services)
    until = china_time(out.previous_valid_until)
    message = page.t("webhook_secret_rotated", id=endpoint_id, until=until)
    return _shown_once(page, message, out.secret, 200)


@router.post("/admin/webhooks/{endpoint_id}/disable", include_in_schema=False)
async def disable_webhook(
    endpoint_id: EndpointId, page: Annotated[FormPage, Depends(form(admin_page))]
) -> Response:
    """Disable the endpoint (its deliveries wait); back to the list."""
    with _as_page():
        await set_enabled(endpoint_id, False, page.principal, page.request.app.state.services)
    return redirect(page, f"/admin/webhooks?disabled={endpoint_id}")


@router.post("/admin/webhooks/{endpoint_id}/enable", include_in_schema=False)
async def enable_webhook(
    endpoint_id: EndpointId, page: Annotated[FormPage, Depends(form(admin_page))]
) -> Response:
    """Enable the endpoint (waiting deliveries resume); back to the list."""
    with _as_page():
        await set_enabled(endpoint_id, True, page.principal, page.request.app.state.services)
    return redirect(page, f"/admin/webhooks?enabled={endpoint_id}")


@router.get("/admin/webhooks/{endpoint_id}", response_class=HTMLResponse, include_in_schema=False)
async def deliveries_page(
    endpoint_id: EndpointId, page: Annotated[Page, Depends(admin_page)]
) -> Response:
    """The endpoint's recent deliveries, newest first; 重新投递 beside each dead letter."""
    store = await _store(page)
    with _as_page():
        endpoint = await endpoint_in_scope(store, page.principal, endpoint_id)
    return render(
        page,
        "webhook_deliveries.html",
        endpoint=endpoint,
        deliveries=await store.deliveries(None, endpoint_id, 50),
        names=_names(page),
        labels=_labels(page),
        when=china_time,
        redelivered=page.request.query_params.get("redelivered"),
    )


@router.post(
    "/admin/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver", include_in_schema=False
)
async def redeliver(
    endpoint_id: EndpointId,
    delivery_id: EndpointId,
    page: Annotated[FormPage, Depends(form(admin_page))],
) -> Response:
    """Queue the delivery again now; back to the endpoint's deliveries."""
    services = page.request.app.state.services
    with _as_page():
        await redelivered(endpoint_id, delivery_id, page.principal, services)
    return redirect(page, f"/admin/webhooks/{endpoint_id}?redelivered={delivery_id}")


def _names(page: Page) -> dict[str, str]:
    """Department code → its name in the visitor's language (the configuration in force)."""
    known = departments_in_force(page.request.app.state.services)
    return {c: d.name_en if page.lang == "en" else d.name_zh for c, d in known.items()}


def _labels(page: Page) -> dict[str, str]:
    """Event type → its words in the visitor's language."""
    return {kind: page.t(f"event_{kind}") for kind in EVENT_TYPES}


def _form(page: Page, values: dict[str, Any], errors: dict[str, str], status: int) -> Response:
    return render(page, "webhook_new.html", status, values=values, errors=errors,
                  names=_names(page), labels=_labels(page))  # fmt: skip


def _shown_once(page: Page, message: str, secret: str, status: int) -> Response:
    return render(page, "webhook_secret.html", status, no_store=True, message=message,
                  secret=secret)  # fmt: skip


def _field(path: str) -> str:
    """The form field of an API body path (``event_types[0]`` → ``event_types``)."""
    head = path.split(".")[0].split("[")[0]
    return head if head in FIELDS else "url"

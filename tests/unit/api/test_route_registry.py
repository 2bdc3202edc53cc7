"""Every route of the app has an authorization entry: in the case matrix
(test_authorization_matrix), the webhook matrix (tests/integration/webhooks/
test_webhook_matrix), the configuration matrix (tests/integration/config/
test_live_configuration), the notification matrix (tests/integration/notify/
test_notification_routes; preferences, robots and the delivery log in
test_notifier_routes), the page matrix (tests/integration/web/test_page_matrix: every
page and form, anonymous, each role, without CSRF), the photo matrix
(tests/integration/api/test_attachments), the Open311 matrix below, or the list of public
routes with the reason.
A new route without an entry fails here, so its roles and scopes get written down and tested.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from tests.integration.api.test_attachments import MATRIX as PHOTO_MATRIX
from tests.integration.config.test_live_configuration import MATRIX as CONFIG_MATRIX
from tests.integration.notify.test_notification_routes import MATRIX as NOTIFICATION_MATRIX
from tests.integration.notify.test_notifier_routes import MATRIX as NOTIFIER_MATRIX
from tests.integration.web.test_page_matrix import API_MATRIX as PAGE_API_MATRIX
from tests.integration.web.test_page_matrix import MATRIX as PAGE_MATRIX
from tests.integration.webhooks.test_webhook_matrix import MATRIX as WEBHOOK_MATRIX
from tests.unit.api import test_authorization_matrix as cases
from tests.unit.api.conftest import auth
from tests.unit.api.test_similar import MATRIX as SIMILAR_MATRIX
from whistle.api.app import create_app
from whistle.settings import Settings

PUBLIC = {
    ("GET", "/healthz"): "liveness probe, no data",
    ("GET", "/readyz"): "readiness probe, dependency status only",
    ("GET", "/docs"): "Swagger UI page",
    ("GET", "/dashboard"): "static page; the data comes from token-checked endpoints",
    ("GET", "/dashboard/assets/{name}"): "static scripts and styles from a fixed list",
    ("GET", "/v1/names"): "public reference data: department and area names",
    ("GET", "/metrics"): "Prometheus gauges of the calendar: counts only, no case data",
    ("GET", "/open311/v2/services.json"): "Open311 service list (public by the spec)",
    ("GET", "/open311/v2/services/{service_code}.json"): "Open311 definition (public)",
}
STREAM = {
    ("GET", "/v1/stream/breaches"): "every role, in its scope (Scope.of, as the boards)",
    (
        "GET",
        "/v1/stream/notifications",
    ): "every role, its own inbox only (test_notification_routes)",
}
# every role, and admins only: driven for each role in tests/unit/api/test_calendar_status.py
# (401/403) and tests/integration/api/test_audit.py (200 on the real database)
EVERY_ROLE = {("GET", "/v1/calendar/status"): "calendar coverage and a count; names no case"}
ADMIN_ONLY = {("GET", "/v1/audit"): "the audit log of administration: admins only"}
# admins and config admins (a config admin's documents checked against its district), driven
# for every role in tests/integration/whatif/test_whatif_live.py
WHATIF = {("POST", "/v1/config/whatif"): "what-if preview of a proposal: config roles only"}

SEC_IN, SEC_OUT, LIAISON_IN, LIAISON_OUT = (
    "tok-sec-in",
    "tok-sec-out",
    "tok-liaison-in",
    "tok-liaison-out",
)
FORM = {"service_code": "noise", "lat": "24.7", "long": "118.1"}
# Open311 (api_key instead of a bearer token): (method, path) → {api_key: status}
OPEN311: dict[tuple[str, str], dict[str | None, int]] = {
    ("POST", "/open311/v2/requests.json"): {
        SEC_IN: 200, SEC_OUT: 200, LIAISON_IN: 403, "tok-sup-street-in": 403, "tok-admin": 403,
        "wh_bogus": 403, None: 422,
    },
    # by id, anyone: outside the key's scope (or without one) only the public fields
    ("GET", "/open311/v2/requests/{service_request_id}.json"): {
        SEC_IN: 200, SEC_OUT: 200, LIAISON_IN: 200, LIAISON_OUT: 200, "tok-sup-street-in": 200,
        "tok-sup-out": 200, "tok-admin": 200, "wh_bogus": 403, None: 200,
    },
    ("GET", "/open311/v2/tokens/{token}.json"): {
        SEC_IN: 200, SEC_OUT: 200, LIAISON_IN: 200, LIAISON_OUT: 200, "tok-admin": 200,
        "wh_bogus": 403, None: 200,
    },
    ("GET", "/open311/v2/requests.json"): {
        SEC_IN: 200, SEC_OUT: 200, LIAISON_IN: 200, "tok-admin": 200, "wh_bogus": 403, None: 200,
    },
}  # fmt: skip


def _walk(routes: Iterable[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None) or getattr(route, "app", None)
        if inner is not None and hasattr(inner, "routes"):
            yield from _walk(inner.routes)


def app_routes() -> set[tuple[str, str]]:
    """(method, path) of every route of the app, in the schema or not."""
    app = create_app(Settings())
    return {(m, r.path) for r in _walk(app.routes) for m in r.methods if m != "HEAD"}


def case_matrix_routes() -> set[tuple[str, str]]:
    """The routes test_authorization_matrix drives for every role, inside and outside scope."""
    case = "/v1/cases/{case_id}"
    covered = {("POST", case + s) for s in cases.COMMANDS}
    covered |= {("GET", case + s.split("?")[0]) for s in cases.CASE_READS if "/c1" not in s}
    covered |= {("GET", case + "/commands/{command_id}"), ("POST", "/v1/cases")}
    return covered | {("GET", p) for p in cases.COLLECTIONS} | {("GET", "/v1/inbox")}


def test_every_route_has_an_authorization_entry() -> None:
    registered = (
        (
            case_matrix_routes()
            | set(WEBHOOK_MATRIX)
            | set(CONFIG_MATRIX)
            | set(OPEN311)
            | set(PUBLIC)
            | set(STREAM)
            | set(EVERY_ROLE)
            | set(ADMIN_ONLY)
            | set(WHATIF)
        )
        | set(NOTIFICATION_MATRIX)
        | set(NOTIFIER_MATRIX)
        | set(PAGE_MATRIX)
        | set(PAGE_API_MATRIX)
        | set(SIMILAR_MATRIX)
        | set(PHOTO_MATRIX)
    )
    missing = app_routes() - registered
    assert not missing, f"routes without an authorization matrix entry: {sorted(missing)}"
    assert not registered - app_routes(), "matrix entries for routes that no longer exist"


@pytest.mark.parametrize("route", sorted(OPEN311), ids=" ".join)
async def test_open311_by_api_key_inside_and_outside_scope(
    client: httpx.AsyncClient, route: tuple[str, str]
) -> None:
    method, template = route
    path = template.replace("{service_request_id}", "WH-IN").replace("{token}", "WH-IN")
    got = {}
    for key in OPEN311[route]:
        if method == "POST":
            data = FORM | ({"api_key": key} if key else {})
            response = await client.post(path, data=data)
        else:
            response = await client.get(path, params={"api_key": key} if key else {})
        got[key] = response.status_code
        if response.status_code >= 400:
            assert {"code", "description"} <= set(response.json()[0])
    assert got == OPEN311[route]


async def test_the_breach_stream_needs_a_valid_token(client: httpx.AsyncClient) -> None:
    for headers in ({}, auth("wh_bogus")):
        response = await client.get("/v1/stream/breaches", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"

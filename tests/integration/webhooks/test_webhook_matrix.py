"""Every role against every webhook endpoint, inside and outside its scope.

The endpoint under test belongs to urban_management: its liaison is inside the scope, the
transport liaison outside (404, like an endpoint that does not exist), secretaries and
supervisors may not manage webhooks at all (403), an admin may do everything.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.webhooks.test_routes import api, auth  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration

WHO = ("admin", "urban", "transport", "secretary", "supervisor", None)

# (method, route) → expected status per caller; {e} the endpoint id, {d} one of its deliveries
MATRIX: dict[tuple[str, str], dict[str | None, int]] = {
    ("POST", "/v1/webhooks"): {
        "admin": 201, "urban": 201, "transport": 403, "secretary": 403, "supervisor": 403,
        None: 401,
    },
    ("GET", "/v1/webhooks"): {
        "admin": 200, "urban": 200, "transport": 200, "secretary": 403, "supervisor": 403,
        None: 401,
    },
    ("POST", "/v1/webhooks/{endpoint_id}/rotate"): {
        "admin": 200, "urban": 200, "transport": 404, "secretary": 403, "supervisor": 403,
        None: 401,
    },
    ("POST", "/v1/webhooks/{endpoint_id}/enable"): {
        "admin": 200, "urban": 200, "transport": 404, "secretary": 403, "supervisor": 403,
        None: 401,
    },
    ("POST", "/v1/webhooks/{endpoint_id}/disable"): {
        "admin": 200, "urban": 200, "transport": 404, "secretary": 403, "supervisor": 403,
        None: 401,
    },
    ("GET", "/v1/webhooks/{endpoint_id}/deliveries"): {
        "admin": 200, "urban": 200, "transport": 404, "secretary": 403, "supervisor": 403,
        None: 401,
    },
    ("POST", "/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver"): {
        "admin": 202, "urban": 202, "transport": 404, "secretary": 403, "supervisor": 403,
        None: 401,
    },
}  # fmt: skip
CONCRETE = {"{endpoint_id}": "{e}", "{delivery_id}": "{d}"}


async def _endpoint_with_a_delivery(served: dict[str, Any]) -> tuple[int, int]:
    created = await served["client"].post(
        "/v1/webhooks",
        json={"department": "urban_management", "url": "https://u.example/h"},
        headers=auth(served, "admin"),
    )
    endpoint_id = int(created.json()["endpoint_id"])
    delivery_id = await served["pool"].fetchval(
        "INSERT INTO webhooks.deliveries (endpoint_id, event_id, case_id, event_type,"
        " department, body, status) VALUES ($1, 'ev-1', 'WH-1', 'CaseRouted',"
        " 'urban_management', '{}', 'dead') RETURNING delivery_id",
        endpoint_id,
    )
    return endpoint_id, int(delivery_id)


@pytest.mark.parametrize("route", sorted(MATRIX), ids=" ".join)
async def test_every_role_inside_and_outside_scope(
    api: dict[str, Any],  # noqa: F811
    route: tuple[str, str],
) -> None:
    method, template = route
    endpoint_id, delivery_id = await _endpoint_with_a_delivery(api)
    path = template
    for placeholder, value in CONCRETE.items():
        path = path.replace(placeholder, value)
    path = path.format(e=endpoint_id, d=delivery_id)
    body = {"department": "urban_management", "url": "https://x.example/h"}
    got = {}
    for who in WHO:
        headers = auth(api, who) if who else {}
        kwargs: dict[str, Any] = {"json": body} if template == "/v1/webhooks" else {}
        response = await api["client"].request(method, path, headers=headers, **kwargs)
        got[who] = response.status_code
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"
    assert got == MATRIX[route]
    if method == "GET" and template == "/v1/webhooks":
        listed = await api["client"].get(path, headers=auth(api, "transport"))
        assert listed.json() == [], "another department's endpoints stay hidden"

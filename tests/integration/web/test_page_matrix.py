"""Every page and form against every role: anonymous → 303 to the login page, a role the page
is not for → the 403 page, a form without its CSRF token → the 403 page, the others → the
page's answer. tests/unit/api/test_route_registry.py imports ``MATRIX``: a new page without
an entry here fails there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from tests.integration.web.conftest import PEOPLE, Site, csrf_of

pytestmark = pytest.mark.integration

ROLES = tuple(PEOPLE)
ALL = dict.fromkeys(ROLES, 200)


def only(status: int, *roles: str) -> dict[str | None, int]:
    """``status`` for ``roles``, 403 for the other roles, 303 (to the login page) anonymous."""
    return {None: 303, **{r: status if r in roles else 403 for r in ROLES}}


# the liaison's pages (whistle/web/liaison_routes.py): the case here does not exist → 404 page
LIAISON_MATRIX: dict[tuple[str, str], dict[str | None, int]] = {
    ("GET", "/liaison"): only(200, "liaison"),
    ("GET", "/liaison/cases/{case_id}"): only(404, "liaison"),
    **{
        ("POST", f"/liaison/cases/{{case_id}}/{name}"): only(404, "liaison")
        for name in (
            "acknowledge",
            "dispute",
            "contact",
            "joint-action",
            "report-in",
            "progress",
            "complete",
            "resolve",
            "extension",
        )
    },
}


# the supervisor's pages (whistle/web/supervisor_routes.py): the case does not exist → 404 page;
# the metrics of an empty database are an empty table (the exports: a header row)
SUPERVISOR_MATRIX: dict[tuple[str, str], dict[str | None, int]] = {
    ("GET", "/supervisor"): only(200, "supervisor", "admin"),
    ("GET", "/supervisor/cases/{case_id}"): only(404, "supervisor", "admin"),
    ("GET", "/supervisor/metrics"): only(200, "supervisor", "admin"),
    ("GET", "/supervisor/metrics.csv"): only(200, "supervisor", "admin"),
    ("GET", "/supervisor/metrics.xlsx"): only(200, "supervisor", "admin"),
    **{
        ("POST", f"/supervisor/cases/{{case_id}}/{name}"): only(404, "supervisor", "admin")
        for name in ("ruling", "grant", "refuse", "escalate")
    },
}


# the admin's webhook endpoint pages (whistle/web/adminwebhook_routes.py): the matrix's
# database has no endpoint → the 404 page; an empty registration form → errors beside
WEBHOOK_MATRIX: dict[tuple[str, str], dict[str | None, int]] = {
    ("GET", "/admin/webhooks"): only(200, "admin"),
    ("GET", "/admin/webhooks/new"): only(200, "admin"),
    ("POST", "/admin/webhooks"): only(422, "admin"),
    ("GET", "/admin/webhooks/{endpoint_id}"): only(404, "admin"),
    **{
        ("POST", f"/admin/webhooks/{{endpoint_id}}/{name}"): only(404, "admin")
        for name in ("rotate", "disable", "enable", "deliveries/{delivery_id}/redeliver")
    },
}


# the in-app notifications (whistle/web/inapp_routes.py): everyone's own; the matrix's database
# has no notification → the 404 page; the stream is served by uvicorn (STREAMS)
INAPP_MATRIX: dict[tuple[str, str], dict[str | None, int]] = {
    ("GET", "/notifications"): {None: 303, **ALL},
    ("GET", "/notifications/stream"): {None: 303, **ALL},
    ("POST", "/notifications/{notification_id}/read"): {None: 303, **dict.fromkeys(ROLES, 404)},
    ("POST", "/notifications/read-all"): {None: 303, **dict.fromkeys(ROLES, 303)},
}
STREAMS = {"/notifications/stream"}
"""Pages that stream (server-sent events): asked over a real server, their answer's status
read and the stream closed."""


def _path(template: str) -> str:
    path = template.replace("{user_id}", "victim").replace("{case_id}", NO_CASE)
    path = path.replace("{department}", "urban_management")
    path = path.replace("{endpoint_id}", "7").replace("{delivery_id}", "9")
    path = path.replace("{notification_id}", "5")
    return path.replace("{sha256}", "0" * 64).replace("{kind}", "routing")


# (method, path) → who (a role, None: anonymous) → status; a POST is sent with its CSRF token
# and FORMS' body (the test below sends it without the token as well)
MATRIX: dict[tuple[str, str], dict[str | None, int]] = {
    ("GET", "/login"): {None: 200, **dict.fromkeys(ROLES, 303)},
    ("POST", "/login"): {None: 422, **dict.fromkeys(ROLES, 422)},
    ("POST", "/lang"): {None: 303, **dict.fromkeys(ROLES, 303)},
    ("GET", "/"): {None: 303, **ALL},
    ("GET", "/password"): {None: 303, **ALL},
    ("GET", "/settings/notifications"): {None: 303, **ALL},
    # an empty form: no channel, the language defaults — saved, back to the page
    ("POST", "/settings/notifications"): {None: 303, **dict.fromkeys(ROLES, 303)},
    # nothing ticked: every kind the role may mute off — saved, back to the page
    ("POST", "/settings/notifications/subscriptions"): {None: 303, **dict.fromkeys(ROLES, 303)},
    ("GET", "/admin/notifications/departments"): only(200, "admin"),
    ("GET", "/admin/notifications/departments/{department}"): only(200, "admin"),
    ("POST", "/admin/notifications/departments/{department}"): only(303, "admin"),
    ("POST", "/password"): {None: 303, **dict.fromkeys(ROLES, 422)},
    ("POST", "/logout"): {None: 303, **dict.fromkeys(ROLES, 303)},
    ("GET", "/admin/users"): only(200, "admin"),
    ("GET", "/admin/users/new"): only(200, "admin"),
    ("POST", "/admin/users"): only(422, "admin"),
    ("POST", "/admin/users/{user_id}/password"): only(200, "admin"),
    ("POST", "/admin/users/{user_id}/revoke"): only(303, "admin"),
    # the configuration pages (whistle/web/adminconf_routes.py): this site wires no
    # configuration follower, so the admin gets the 503 page (the others 403 / login)
    **{
        (method, f"/admin/config{tail}"): only(503, "admin")
        for method, tail in (
            ("GET", ""),
            ("GET", "/{kind}"),
            ("POST", "/draft/preview"),
            ("POST", "/draft/whatif"),
            ("POST", "/draft/whatif/report"),
            ("POST", "/draft/publish"),
        )
    },
    **WEBHOOK_MATRIX,
    **LIAISON_MATRIX,
    **SUPERVISOR_MATRIX,
    **INAPP_MATRIX,
    ("GET", "/whistle"): only(200, "secretary", "admin"),
    ("POST", "/whistle"): only(422, "secretary", "admin"),  # an empty form: errors beside
    ("GET", "/cases"): only(200, "secretary", "supervisor", "admin"),
    # no such case (the matrix's database has none): 404 in scope, as the API answers
    ("GET", "/cases/{case_id}"): only(404, "secretary", "supervisor", "admin"),
    ("POST", "/cases/{case_id}/callback"): only(404, "secretary", "supervisor", "admin"),
    ("POST", "/cases/{case_id}/reopen"): only(404, "secretary", "supervisor", "admin"),
    ("POST", "/cases/{case_id}/publish"): only(404, "secretary", "supervisor", "admin"),
    # a case's photos: its parties, the liaisons of its departments too (the case pages')
    ("GET", "/cases/{case_id}/photos/{sha256}"): only(
        404, "secretary", "liaison", "supervisor", "admin"
    ),
    ("POST", "/whistle/similar"): only(200, "secretary", "admin"),  # nothing to compare: none
    # the public's pages (whistle/web/public_routes.py): no login, the same for everyone
    ("GET", "/public"): {None: 200, **ALL},
    ("GET", "/public/cases/{case_id}"): {None: 404, **dict.fromkeys(ROLES, 404)},
}
NO_CASE = "WH-20261202-NNNNNNNNNN"
PUBLIC_FORMS = {("POST", "/login"), ("POST", "/lang")}
PUBLIC_PAGES = ("/public", "/public/cases/{case_id}")
"""Pages without login (the public's): answered, not sent to the login page."""
"""Forms before login: their CSRF token is the pre-login cookie's."""
FORMS = {
    "/login": {"username": "nobody", "password": "wrong-password-1"},
    "/lang": {"lang": "en", "next": "/"},
    "/password": {},
    "/admin/users": {},
    "/whistle": {},
}
# the API route of the reset (bearer tokens): who → status
API_MATRIX: dict[tuple[str, str], dict[str | None, int]] = {
    ("POST", "/v1/users/{user_id}/password"): {
        None: 401,
        **{r: 200 if r == "admin" else 403 for r in ROLES},
    },
}


@asynccontextmanager
async def _as(
    site: Site, who: str | None, base: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    client = await site.login(who, base=base) if who else site.client(base)
    try:
        yield client
    finally:
        await client.aclose()


@asynccontextmanager
async def _served(site: Site, template: str) -> AsyncIterator[str | None]:
    """A stream's page: the base URL of the app served for real; another page: in-process."""
    if template not in STREAMS:
        yield None
        return
    async with site.served() as base:
        yield base


async def _get(client: httpx.AsyncClient, path: str, stream: bool) -> httpx.Response:
    if not stream:
        return await client.get(path)
    async with client.stream("GET", path) as response:
        return response  # the status and headers; the stream is closed here


@pytest.mark.parametrize("route", sorted(MATRIX), ids=" ".join)
async def test_every_page_and_form_answers_each_role_as_written(
    site: Site, route: tuple[str, str]
) -> None:
    got: dict[str | None, int] = {}
    async with _served(site, route[1]) as base:
        for who in MATRIX[route]:
            got[who] = await _answer(site, route, who, base)
    assert got == MATRIX[route]


async def _answer(site: Site, route: tuple[str, str], who: str | None, base: str | None) -> int:
    """The status of ``route`` for ``who``, checked as the matrix's docstring says."""
    method, template = route
    path = _path(template)
    async with _as(site, who, base) as client:
        if method == "GET":
            response = await _get(client, path, template in STREAMS)
        else:
            token = await csrf_of(client, "/login" if who is None else "/password")
            data = {"csrf_token": token, **FORMS.get(path, {})}
            response = await client.post(path, data=data)
    if response.status_code == 403:
        assert "text/html" in response.headers["content-type"]
    anonymous_page = template in ("/login", *PUBLIC_PAGES)
    if who is None and route not in PUBLIC_FORMS and not anonymous_page:
        assert response.headers["location"].startswith("/login?next="), response.headers
    return response.status_code


@pytest.mark.parametrize("route", sorted(r for r in MATRIX if r[0] == "POST"), ids=" ".join)
async def test_every_form_without_its_csrf_token_is_refused(
    site: Site, route: tuple[str, str]
) -> None:
    path = _path(route[1])
    allowed = [who for who, status in MATRIX[route].items() if status != 403]
    for who in allowed:
        if who is None and route not in PUBLIC_FORMS:
            continue  # anonymous: sent to the login page before any form is read
        async with _as(site, who) as client:
            await client.get("/login")  # the pre-login cookie is there, the field is not
            for data in (FORMS.get(path, {}), {"csrf_token": "forged" * 8, **FORMS.get(path, {})}):
                response = await client.post(path, data=data)
                assert response.status_code == 403, (who, response.text)
                assert "表单已过期" in response.text, response.text
    rows = await site.pool.fetchval("SELECT count(*) FROM api.users WHERE revoked_at IS NOT NULL")
    assert rows == 0, "a refused form changed nothing"


@pytest.mark.parametrize("route", sorted(API_MATRIX), ids=" ".join)
async def test_the_password_reset_api_is_for_admins(site: Site, route: tuple[str, str]) -> None:
    got: dict[str | None, int] = {}
    async with site.client() as client:
        for who in API_MATRIX[route]:
            headers = {"Authorization": f"Bearer {site.tokens[who]}"} if who else {}
            response = await client.post("/v1/users/sec-jinhai/password", headers=headers)
            got[who] = response.status_code
    assert got == API_MATRIX[route]

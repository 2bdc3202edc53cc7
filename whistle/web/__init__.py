"""Pages for people, served by the API app itself: Jinja2 templates, vendored htmx, logins.

Adding a page (docs/web.md has the whole recipe): a route in a router of this package taking
``Depends(roles(...))`` (or ``form(roles(...))`` for a POST) from :mod:`whistle.web.pages` and
returning ``render(page, "x.html", ...)``; a template in ``templates/`` extending
``base.html``; its words in :data:`whistle.web.messages.PAGES`; a home link in
:data:`whistle.web.nav.LINKS`; its entry in tests/integration/web/test_page_matrix.py.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from whistle.api.problems import validation_problem
from whistle.web import (
    admin_routes,
    adminconf_routes,
    adminwebhook_routes,
    auth_routes,
    inapp_routes,
    liaison_routes,
    notify_admin_routes,
    notify_routes,
    public_routes,
    secretary_routes,
    supervisor_routes,
)
from whistle.web.pages import (
    CSRF_COOKIE,
    HERE,
    STATIC_PREFIX,
    Page,
    PageError,
    Redirect,
    choose_lang,
    render,
)

ROUTERS = (
    auth_routes.router,
    admin_routes.router,
    adminconf_routes.router,
    adminwebhook_routes.router,
    secretary_routes.router,
    liaison_routes.router,
    notify_routes.router,
    inapp_routes.router,
    notify_admin_routes.router,
    public_routes.router,
    supervisor_routes.router,
)


def install_web(app: FastAPI) -> None:
    """Add the pages, their static files and their error answers to ``app``."""
    for router in ROUTERS:
        app.include_router(router)
    app.mount(STATIC_PREFIX, StaticFiles(directory=HERE / "static"), name="web-static")
    app.add_exception_handler(PageError, _page_error)
    app.add_exception_handler(Redirect, _redirect)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.state.page_endpoints = {
        getattr(r, "endpoint", None) for router in ROUTERS for r in router.routes
    } - {None}


async def _invalid_request(request: Request, exc: Exception) -> Response:
    """A page's path or query that does not validate (a malformed case id, ``?before=x``):
    the error page in the visitor's language, 404 for a path (no such page), 422 for a
    query; the API's routes keep their problem+json."""
    assert isinstance(exc, RequestValidationError)
    route = request.scope.get("route")  # the app's copy of a router's route: same endpoint
    if getattr(route, "endpoint", None) not in request.app.state.page_endpoints:
        return await validation_problem(request, exc)
    in_path = any(e.get("loc", ("",))[0] == "path" for e in exc.errors())
    status, key = (404, "page_not_found") if in_path else (422, "page_bad_query")
    return await _page_error(request, PageError(status, key))


async def _page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    page: Page | None = getattr(request.state, "page", None)
    if page is None:  # the session could not be looked up: an anonymous page
        page = Page(request, None, choose_lang(request, None), request.cookies.get(CSRF_COOKIE, ""))
    message = page.t(exc.key, **exc.values)
    return render(page, "error.html", exc.status, message=message)


async def _redirect(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Redirect)
    return RedirectResponse(exc.location, status_code=303, headers={"Cache-Control": "no-store"})

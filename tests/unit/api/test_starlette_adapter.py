"""The Starlette internals ``whistle.api.starlette_adapter`` relies on are still there and still
do what it says. When one fails after an upgrade, re-check the adapter against the new version,
then update ``STARLETTE_VERSION``."""

from __future__ import annotations

from importlib.metadata import version

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.routing import Router
from starlette.types import ASGIApp, Receive, Scope, Send

from whistle.api import starlette_adapter
from whistle.api.problems import install_problem_handlers


def test_the_installed_version_is_the_one_checked() -> None:
    assert version("starlette") == starlette_adapter.STARLETTE_VERSION, (
        "starlette changed: re-check whistle/api/starlette_adapter.py, then update "
        "STARLETTE_VERSION"
    )


def test_a_router_dispatches_through_its_middleware_stack() -> None:
    router = Router()
    assert router.middleware_stack is not None


def app_with_order(seen: list[str]) -> FastAPI:
    app = FastAPI()

    @app.get("/thing")
    async def thing() -> PlainTextResponse:
        seen.append("route")
        return PlainTextResponse("route")

    @app.post("/thing")
    async def make_thing() -> PlainTextResponse:
        return PlainTextResponse("made")

    class Outer(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next):  # type: ignore[no-untyped-def]
            seen.append("middleware")
            return await call_next(request)

    app.add_middleware(Outer)
    return app


async def test_the_wrapper_sees_requests_inside_the_middlewares_before_routing() -> None:
    seen: list[str] = []
    app = app_with_order(seen)

    def front(inner: ASGIApp) -> ASGIApp:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            seen.append("front")
            await inner(scope, receive, send)

        return wrapped

    starlette_adapter.wrap_router(app, front)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/thing")
    assert response.text == "route"
    assert seen == ["middleware", "front", "route"]


async def test_full_matches_name_every_method_of_a_path() -> None:
    app = app_with_order([])
    install_problem_handlers(app)
    route = next(r for r in app.router.routes if getattr(r, "path", None) == "/thing")
    scope = {"type": "http", "path": "/thing", "method": "GET", "root_path": ""}
    assert starlette_adapter.fully_matches(route, scope)
    assert not starlette_adapter.fully_matches(route, {**scope, "method": "DELETE"})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.delete("/thing")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"  # two routes, one path

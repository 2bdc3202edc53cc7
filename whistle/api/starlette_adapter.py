"""Every use of Starlette's undocumented internals by the API, in one place.

Checked against Starlette 1.10.0 (under FastAPI 0.165.0). Starlette has no underscore attribute
the API touches; these two are public names its documentation does not cover, which an
upgrade may change without notice. tests/unit/api/test_starlette_adapter.py fails loudly when
one disappears or stops doing what the API relies on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Scope

STARLETTE_VERSION = "1.10.0"
"""The version the attributes below were checked against."""


def wrap_router(app: Any, wrap: Callable[[ASGIApp], ASGIApp]) -> None:
    """Put ``wrap``'s ASGI app in front of ``app``'s routing, inside its middlewares and
    exception handlers.

    ``Router.middleware_stack``: what ``Router.__call__`` calls (the route-level middlewares
    around the router's own dispatch). The fast reads (``whistle.api.direct_reads``) must see a
    request after load shedding and the guards, and before FastAPI's routing.
    """
    app.router.middleware_stack = wrap(app.router.middleware_stack)


def fully_matches(route: BaseRoute, scope: Scope) -> bool:
    """Whether ``route`` answers ``scope`` (path and method) as Starlette would route it.

    ``BaseRoute.matches``: the router's own test of a route, used for a 405's ``Allow``.
    """
    return route.matches(scope)[0] is Match.FULL

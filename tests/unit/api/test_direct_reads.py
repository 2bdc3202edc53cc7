"""The fast path of the hot reads answers exactly as the FastAPI routes do: same status, same
headers, same bytes — for every caller, inside and outside scope, and for every query it
leaves to FastAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.unit.api.fakes import FakeRead, fake_services
from whistle.api.app import ApiSettings, create_app
from whistle.api.deps import Services
from whistle.api.direct_reads import DirectReads, paging
from whistle.settings import Settings

AUTHORIZATIONS = [
    None,
    "Bearer tok-sec-in",
    "Bearer tok-sec-out",
    "Bearer tok-liaison-in",
    "Bearer tok-liaison-out",
    "Bearer tok-sup-street-in",
    "Bearer tok-sup-district-in",
    "Bearer tok-sup-out",
    "Bearer tok-admin",
    "bearer tok-admin",
    "Bearer  tok-admin ",
    "Bearer wh_bogus",
    "Bearer",
    "Basic dG9rLWFkbWluOg==",
    "tok-admin",
]
PATHS = [
    "/v1/cases/WH-IN",
    "/v1/cases/WH-OUT",
    "/v1/cases/WH-NONE",
    "/v1/cases/WH-IN/timeline",
    "/v1/cases/WH-OUT/timeline",
    "/v1/cases/WH-NONE/timeline",
    "/v1/cases/" + "W" * 64,
    "/v1/cases/" + "W" * 65,
    "/v1/cases/" + "W" * 65 + "/timeline",
    "/v1/cases/WH-IN/timeline?x=1",
    "/v1/cases",
    "/v1/cases?limit=20",
    "/v1/cases?limit=20&offset=1",
    "/v1/cases?offset=0&limit=500",
    "/v1/cases?limit=0",
    "/v1/cases?limit=501",
    "/v1/cases?limit=020",
    "/v1/cases?limit=abc",
    "/v1/cases?limit=",
    "/v1/cases?limit=20&limit=30",
    "/v1/cases?offset=100001",
    "/v1/cases?status=routed&limit=20",
    "/v1/cases?foo=bar",
    "/v1/cases?limit=20&",
    "/v1/inbox",
    "/v1/inbox?limit=20",
    "/v1/inbox?status=routed",
    "/v1/breaches",
    "/v1/breaches?limit=5",
    "/v1/cases/",
    "/v1/cases//timeline",
]


@pytest.fixture(scope="module")
def apps() -> tuple[FastAPI, FastAPI]:
    """The app with the fast path, and without it (FastAPI's routes only)."""
    return (
        create_app(Settings(), services=fake_services(), api=ApiSettings()),
        create_app(Settings(), services=fake_services(), api=ApiSettings(fast_reads=False)),
    )


@pytest.fixture
async def clients(
    apps: tuple[FastAPI, FastAPI],
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Clients of both apps, over the same fakes (a breached case, so the board has rows)."""
    services: Services = fake_services()
    read = services.read
    assert isinstance(read, FakeRead)
    read.rows["WH-IN"]["breach_count"] = 1
    for app in apps:
        app.state.services = services
    fast, slow = (httpx.AsyncClient(transport=httpx.ASGITransport(app=a)) for a in apps)
    async with fast, slow:
        yield fast, slow


def comparable(response: httpx.Response) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers (but the varying Server-Timing) and body."""
    headers = [(k, v) for k, v in response.headers.raw if k.lower() != b"server-timing"]
    return response.status_code, headers, response.content


@pytest.mark.parametrize("authorization", AUTHORIZATIONS)
async def test_same_answers_as_the_fastapi_routes(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], authorization: str | None
) -> None:
    fast, slow = clients
    for language in (None, "en"):
        headers = {"Authorization": authorization} if authorization else {}
        if language:
            headers["Accept-Language"] = language
        for path in PATHS:
            for method in ("GET", "HEAD"):
                url = "http://api" + path
                got = await fast.request(method, url, headers=headers)
                want = await slow.request(method, url, headers=headers)
                assert comparable(got) == comparable(want), (method, path, headers)


async def unreachable(scope: object, receive: object, send: object) -> None:
    """The app behind the fast path, never called by ``match``."""
    raise AssertionError


def scope_of(path: str, method: str = "GET") -> dict[str, object]:
    """An ASGI HTTP scope for ``path``."""
    path, _, query = path.partition("?")
    return {"type": "http", "method": method, "path": path, "query_string": query.encode()}


@pytest.mark.parametrize(
    "path",
    [
        "/v1/cases/WH-IN",
        "/v1/cases/WH-IN/timeline",
        "/v1/cases",
        "/v1/cases?limit=20",
        "/v1/inbox?limit=20&offset=40",
        "/v1/breaches",
    ],
)
def test_the_plain_hot_reads_take_the_fast_path(path: str) -> None:
    assert DirectReads(unreachable).match(scope_of(path)) is not None


@pytest.mark.parametrize(
    "path",
    [
        "/v1/cases?status=routed",
        "/v1/cases?limit=0",
        "/v1/cases/" + "W" * 65,
        "/v1/cases/WH-IN/at",
        "/v1/disputes",
        "/healthz",
    ],
)
def test_everything_else_is_left_to_fastapi(path: str) -> None:
    assert DirectReads(unreachable).match(scope_of(path)) is None
    assert DirectReads(unreachable).match(scope_of("/v1/cases", "HEAD")) is None


def test_paging_takes_only_plain_limit_and_offset() -> None:
    assert paging(b"") == (50, 0)
    assert paging(b"limit=20") == (20, 0)
    assert paging(b"offset=7&limit=500") == (500, 7)
    for query in (b"limit=0", b"limit=1e2", b"limit=+5", b"limit=5&limit=5", b"x=1", b"limit"):
        assert paging(query) is None, query

"""An API app wired to in-memory fakes, and an httpx client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.unit.api.fakes import fake_services
from whistle.api.app import ApiSettings, create_app
from whistle.api.deps import Services
from whistle.settings import Settings


@pytest.fixture
def services() -> Services:
    """Fresh fakes per test."""
    return fake_services()


@pytest.fixture(scope="session")
def app() -> FastAPI:
    """The app, built once (building the routes is the slow part); services are set per test."""
    return create_app(Settings(), services=fake_services(), api=ApiSettings(max_body_bytes=4096))


@pytest.fixture
async def client(app: FastAPI, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app (no network) that speaks to this test's fakes."""
    app.state.services = services
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http


def auth(token: str) -> dict[str, str]:
    """The Authorization header of a fake user."""
    return {"Authorization": f"Bearer {token}"}

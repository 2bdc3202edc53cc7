"""The composition root wires every service once; a route never builds one on first use."""

from __future__ import annotations

import dataclasses

import httpx

from tests.unit.api.conftest import auth
from tests.unit.api.fakes import FakeRead
from whistle.api.deps import Services


def test_services_are_named_fields_not_a_string_keyed_bag() -> None:
    names = {f.name for f in dataclasses.fields(Services)}
    assert "extras" not in names
    assert {"read", "live_read", "webhooks"} <= names


async def test_webhook_routes_without_a_store_answer_503_problem(
    client: httpx.AsyncClient, services: Services
) -> None:
    assert services.webhooks is None
    response = await client.get("/v1/webhooks", headers=auth("tok-admin"))
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"] == "1"
    assert "webhooks" in response.json()["detail"]


def test_the_live_board_reads_the_uncached_model_when_wired(services: Services) -> None:
    assert services.board_read is services.read
    live = FakeRead()
    wired = dataclasses.replace(services, live_read=live)
    assert wired.board_read is live
    assert wired.read is services.read

"""The e2e tests' fixtures: the whole service with the demo people, once per module."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.browser import demo_service
from tests.stack import Stack


@pytest.fixture(scope="module")
def service(
    request: pytest.FixtureRequest,
    kafka_bootstrap: str,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Stack, dict[str, str]]]:
    """The whole service on fresh topics and database, with the demo people of ``whistle run
    --demo`` (username → printed password); named after the module (``liaisone2e``, …)."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    prefix = name.removeprefix("test_").removesuffix("_browser").replace("_", "") + "e2e"
    with demo_service(kafka_bootstrap, database_url, tmp_path_factory.mktemp(prefix), prefix) as s:
        yield s


@pytest.fixture
def api(service: tuple[Stack, dict[str, str]]) -> Iterator[httpx.Client]:
    """An HTTP client of the service's API (its tokens are in ``service[0].tokens``)."""
    with httpx.Client(base_url=service[0].base, timeout=90) as client:
        yield client

"""The body limit's larger paths: exact, ``*/publish`` (any path ending so), and
``/liaison/cases/*/progress`` (the liaison's 进展 with photos), nothing else loosened."""

from __future__ import annotations

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from whistle.api.limits import BodyLimit

LARGER = {"/v1/attachments": 300, "*/publish": 300, "/liaison/cases/*/progress": 300}


async def _ok(scope: Scope, receive: Receive, send: Send) -> None:
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/attachments", 204),
        ("/cases/WH-1/publish", 204),
        ("/liaison/cases/WH-1/progress", 204),
        ("/liaison/cases//progress", 413),  # the star stands for a case id, not nothing
        ("/v1/cases/WH-1/progress", 413),  # the API's JSON command keeps the default
        ("/liaison/cases/WH-1/contact", 413),
    ],
)
async def test_a_larger_limit_holds_only_for_its_paths(path: str, status: int) -> None:
    app = BodyLimit(_ok, limit=100, larger=LARGER)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post(path, content=b"x" * 200)
    assert response.status_code == status, response.text

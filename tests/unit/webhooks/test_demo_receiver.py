"""`whistle webhooks receive`: a signed delivery is verified and printed, a forged one is 401."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import httpx
import pytest

from whistle.webhooks.receiver import handler_for
from whistle.webhooks.signing import new_secret, signed_headers

EVENT = {
    "specversion": "1.0",
    "id": "3c1f6f3e-0000-5000-8000-000000000001",
    "type": "whistle.case.routed.v1",
    "subject": "WH-20261126-7K3M9Q2XAB",
    "sequence": "2",
    "department": "urban_management",
    "caseid": "WH-20261126-7K3M9Q2XAB",
}


@pytest.fixture
def receiver() -> Iterator[tuple[str, str, io.StringIO]]:
    """A receiver on a free port: (url, secret, what it printed)."""
    secret, out = new_secret(), io.StringIO()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(secret, out))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/whistle", secret, out
    finally:
        server.shutdown()
        server.server_close()


def test_a_delivery_signed_with_the_secret_is_accepted_and_printed(
    receiver: tuple[str, str, io.StringIO],
) -> None:
    url, secret, out = receiver
    body = json.dumps(EVENT).encode()
    response = httpx.post(url, content=body, headers=signed_headers([secret], EVENT["id"], body))
    assert response.status_code == 204
    assert out.getvalue().strip() == (
        "verified whistle.case.routed.v1 case=WH-20261126-7K3M9Q2XAB"
        f" department=urban_management seq=2 id={EVENT['id']}"
    )


def test_a_delivery_signed_with_another_secret_is_refused(
    receiver: tuple[str, str, io.StringIO],
) -> None:
    url, _, out = receiver
    body = json.dumps(EVENT).encode()
    forged = signed_headers([new_secret()], EVENT["id"], body)
    assert httpx.post(url, content=body, headers=forged).status_code == 401
    assert out.getvalue().startswith("REJECTED (401): no matching signature")

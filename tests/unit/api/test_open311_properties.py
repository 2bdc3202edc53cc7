"""Property: whatever form an Open311 app posts to ``requests.json``, the answer is a created
request or a GeoReport v2 error array (400/403/404/413/422), never a server error."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.api.fakes import fake_services
from whistle.api.app import ApiSettings, create_app
from whistle.settings import Settings

FIELDS = [
    "api_key",
    "service_code",
    "lat",
    "long",
    "address_string",
    "address_id",
    "description",
    "first_name",
    "last_name",
    "phone",
    "email",
    "device_id",
    "account_id",
    "media_url",
    "jurisdiction_id",
]
PLAUSIBLE = {
    "api_key": st.sampled_from(["tok-sec-in", "tok-liaison-in", "wh_nope", ""]),
    "service_code": st.sampled_from(["parking", "noise", "nope", ""]),
    "lat": st.floats(allow_nan=True).map(str) | st.sampled_from(["24.7", "inf", "-0", "1e999"]),
    "long": st.floats(allow_nan=True).map(str) | st.sampled_from(["118.1", "NaN", ""]),
}
VALUE = st.text(max_size=300)


@st.composite
def forms(draw: st.DrawFn) -> dict[str, str]:
    """Known fields with plausible or arbitrary values, and now and then an unknown one."""
    names = draw(st.lists(st.sampled_from(FIELDS), unique=True, max_size=len(FIELDS)))
    form = {n: draw(PLAUSIBLE.get(n, VALUE) | VALUE) for n in names}
    if draw(st.booleans()):
        form[draw(st.text(min_size=1, max_size=12))] = draw(VALUE)
    return form


Post = Callable[[dict[str, str]], httpx.Response]


@pytest.fixture(scope="module")
def post() -> Iterator[Post]:
    """POST a form to the app on in-memory fakes (a bus that accepts every command)."""
    app = create_app(Settings(), services=fake_services(), api=ApiSettings(max_body_bytes=4096))
    loop = asyncio.new_event_loop()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")
    try:
        yield lambda form: loop.run_until_complete(
            client.post("/open311/v2/requests.json", data=form)
        )
    finally:
        loop.run_until_complete(client.aclose())
        loop.close()


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(form=forms())
def test_any_form_is_a_request_or_an_open311_error(post: Post, form: dict[str, str]) -> None:
    response = post(form)
    assert response.status_code in {200, 400, 403, 404, 413, 422}, response.text
    body = response.json()
    assert isinstance(body, list) and body
    if response.status_code == 200:
        assert {"service_request_id", "token"} & set(body[0])
    else:
        assert all(set(item) == {"code", "description"} for item in body), body
        assert all(item["code"] == response.status_code for item in body)

"""Every rejection code, as the API answers it: Chinese by default with no English sentence,
English on request, in problem+json and in Open311's error array."""

from __future__ import annotations

import httpx
import pytest

from tests.unit.api.conftest import auth
from tests.unit.api.fakes import FakeBus
from tests.unit.domain.test_rejections import ASCII_SENTENCE, CJK, SAMPLES, placeholders
from whistle.api.deps import Services
from whistle.domain.rejections import MESSAGES, render

RESOLVE = {"outcome": "solved", "summary": "已清理"}
OPEN311 = {"api_key": "tok-sec-in", "service_code": "parking", "address_string": "海堤路"}


def rejecting(services: Services, code: str) -> dict[str, str]:
    bus = services.bus
    assert isinstance(bus, FakeBus)
    params = {name: SAMPLES[name] for name in placeholders(MESSAGES[code][0])}
    bus.mode, bus.code, bus.params = "reject", code, params
    return params


@pytest.mark.parametrize("code", sorted(MESSAGES))
async def test_a_rejection_reads_in_the_callers_language(
    client: httpx.AsyncClient, services: Services, code: str
) -> None:
    params = rejecting(services, code)
    headers = auth("tok-liaison-in")
    zh = (await client.post("/v1/cases/WH-IN/resolve", json=RESOLVE, headers=headers)).json()
    assert (zh["code"], zh["params"]) == (code, params)
    for text in (zh["title"], zh["detail"]):
        assert CJK.search(text) and not ASCII_SENTENCE.search(text), text
    en_headers = headers | {"Accept-Language": "en"}
    en = (await client.post("/v1/cases/WH-IN/resolve", json=RESOLVE, headers=en_headers)).json()
    assert en["detail"] == render(code, params, "en")
    [error] = (await client.post("/open311/v2/requests.json", data=OPEN311)).json()
    assert error["description"] == zh["detail"]

"""No token, webhook secret, signature or requester's personal data in any log line.

The whole service runs (worker, projector, API, webhook deliverer) at DEBUG level with every
process's output captured. A secretary raises a whistle with the requester's name and phone;
it is routed and delivered, signed, to the lead department's receiver; the liaison signs for
it, contacts the requester, completes and resolves; the secretary records the callback. An
Open311 app raises one with a name, phone and e-mail, and bad tokens are tried on the way.
Then every log line is searched for each secret and each piece of personal data, as written
and JSON-escaped.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import unique_name
from tests.integration.webhooks.receiver import running_receiver
from tests.stack import Stack, every_row_as_text, running_stack, scratch_database
from whistle.domain import load_rules

pytestmark = pytest.mark.e2e

COMMUNITY = "tongan.datong.jinhai"
REQUESTER = {"name": "林秀英", "phone": "13912345678"}
OPEN311_PERSON = {
    "first_name": "建国",
    "last_name": "陈",
    "phone": "13687654321",
    "email": "chen.jianguo@example.cn",
}


async def _eventually(probe: Any, timeout_s: float = 90.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = await probe()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.3)


async def scenario(stack: Stack, lead: str) -> list[str]:
    """Drive the whole flow; return the secrets and signatures that went over the wire."""
    secrets: list[str] = []
    async with (
        running_receiver() as receiver,
        httpx.AsyncClient(base_url=stack.base, timeout=60) as http,
    ):

        def auth(who: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {stack.tokens[who]}"}

        added = await http.post(
            "/v1/webhooks",
            json={"department": lead, "url": receiver.url + "/hook"},
            headers=auth("admin"),
        )
        assert added.status_code == 201, added.text
        secrets.append(added.json()["secret"])
        await asyncio.sleep(1.5)  # the deliverer reads the endpoints again every second
        raised = await http.post(
            "/v1/cases",
            json={
                "category": "parking",
                "title": "滨海步道违停",
                "address": "金海社区滨海步道",
                "requester": REQUESTER,
            },
            headers=auth("secretary") | {"Idempotency-Key": "hygiene-1"},
        )
        assert raised.status_code in (201, 202), raised.text
        case_id = raised.json()["case_id"]
        [delivery] = await receiver.wait_for("/hook", 1, timeout_s=90)
        secrets += [s.split(",", 1)[1] for s in delivery.headers["webhook-signature"].split()]

        async def in_inbox() -> bool:
            inbox = await http.get("/v1/inbox", headers=auth("liaison"))
            return case_id in {c["case_id"] for c in inbox.json()["items"]}

        await _eventually(in_inbox)
        dept = {"department": lead}
        for path, body in (
            ("acknowledge", dept),
            ("contact", dept | {"channel": "phone", "note": "已电话联系"}),
            ("complete", dept | {"summary": "已清理"}),
            ("resolve", {"outcome": "solved", "summary": "已解决"}),
        ):
            done = await http.post(
                f"/v1/cases/{case_id}/{path}", json=body, headers=auth("liaison")
            )
            assert done.status_code == 200, (path, done.text)
        callback = await http.post(
            f"/v1/cases/{case_id}/callback",
            json={"solved": True, "satisfied": True, "score": 5},
            headers=auth("secretary"),
        )
        assert callback.status_code == 200, callback.text
        await receiver.wait_for("/hook", 3, timeout_s=60)
        secrets += [
            s.split(",", 1)[1]
            for got in receiver.on("/hook")
            for s in got.headers["webhook-signature"].split()
        ]
        form = {"api_key": stack.tokens["secretary"], "service_code": "noise", "lat": "24.7"}
        form |= {"long": "118.1", "description": "广场舞噪音"} | OPEN311_PERSON
        created = await http.post("/open311/v2/requests.json", data=form)
        assert created.status_code == 200, created.text
        for bad in (stack.tokens["admin"] + "x", "wh_" + "0" * 43):
            refused = await http.get("/v1/cases", headers={"Authorization": f"Bearer {bad}"})
            assert refused.status_code == 401
        timeline = await http.get(f"/v1/cases/{case_id}/timeline", headers=auth("supervisor"))
        assert timeline.status_code == 200
    return secrets


def forms_of(value: str) -> set[str]:
    """How a value may appear in a log line: as is, JSON-escaped, as the repr of its UTF-8
    bytes (a logged Kafka record), and that JSON-escaped again."""
    as_bytes = repr(value.encode())[2:-1]
    return {
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        as_bytes,
        json.dumps(as_bytes)[1:-1],
    }


def test_no_secret_or_personal_data_in_any_log_line(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    lead = load_rules().match("parking", COMMUNITY).lead
    with scratch_database(database_url, "hygiene") as dsn:
        with running_stack(
            tmp_path,
            kafka_bootstrap,
            dsn,
            unique_name("hygiene"),
            processes=("worker", "projector", "api", "webhooks"),
            extra_env={"WHISTLE_LOG_LEVEL": "DEBUG"},
            lead=lead,
        ) as stack:
            secrets = asyncio.run(scenario(stack, lead))
            tokens = list(stack.tokens.values())
            log_dir = stack.log_dir
        stored = asyncio.run(every_row_as_text(dsn))
    at_rest = [v for v in (*tokens, *secrets) if v in stored]
    assert not at_rest, f"tokens or webhook secrets stored in plain text: {at_rest}"
    assert "whsec_" not in stored
    personal = [*REQUESTER.values(), *OPEN311_PERSON.values()]
    needles = {n: why for why, values in (("token", tokens), ("secret", secrets),
               ("personal data", personal)) for v in values for n in forms_of(v)}  # fmt: skip
    lines = [
        (path.name, number, line)
        for path in sorted(log_dir.glob("*.log"))
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
    ]
    assert len(lines) > 20, "the processes logged (almost) nothing: is the capture working?"
    leaks = [
        f"{file}:{number}: {needles[n]} {n!r}"
        for file, number, line in lines
        for n in needles
        if n in line
    ]
    assert not leaks, "\n".join(leaks[:20])

"""Rejections in the caller's language and duplicates checked, on the running service.

Worker, projector and API run on Kafka and PostgreSQL. The decider's rejections reach the
HTTP API, the calls the dashboard makes, an Open311 app and the console in Chinese by default
(English on request), rendered from the code and params of the reply; ``MarkDuplicate`` is
refused for itself, an unknown or hidden original, a duplicate original and a case that others
duplicate, and accepted otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import unique_name
from tests.stack import Stack, running_stack, scratch_database
from tests.unit.domain.test_rejections import ASCII_SENTENCE
from whistle.api.account_store import API_SCHEMA, PgUsers
from whistle.domain import load_rules
from whistle.domain.areas import load_departments

pytestmark = pytest.mark.integration

JINHAI = "tongan.datong.jinhai"
XINYANG = "haicang.xinyang.xinyang"
EN = {"Accept-Language": "en"}


async def eventually(probe: Callable[[], Awaitable[Any]], timeout_s: float = 90.0) -> Any:
    """Poll ``probe`` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not (result := await probe()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.3)
    return result


def chinese(text: str) -> str:
    """``text``, after checking it is Chinese with no English sentence in it."""
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text), text
    assert not ASCII_SENTENCE.search(text), text
    return text


class Client:
    """The stack's API as each role."""

    def __init__(self, stack: Stack, http: httpx.AsyncClient) -> None:
        self.stack, self.http = stack, http

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.stack.tokens[who]}"}

    async def raise_case(self, who: str = "secretary", **extra: str) -> str:
        body = {"category": "parking", "title": "海堤路违停", "address": "金海社区海堤路"}
        raised = await self.http.post("/v1/cases", json=body | extra, headers=self.auth(who))
        assert raised.status_code == 201, raised.text
        case_id: str = raised.json()["case_id"]
        await self.status(case_id, "routed", "admin")
        return case_id

    async def status(self, case_id: str, status: str, who: str = "secretary") -> None:
        async def probe() -> bool:
            got = await self.http.get(f"/v1/cases/{case_id}", headers=self.auth(who))
            return got.status_code == 200 and got.json()["status"] == status

        await eventually(probe)

    async def post(self, who: str, path: str, body: dict[str, Any], **headers: str) -> Any:
        return await self.http.post(path, json=body, headers=self.auth(who) | headers)


async def rejections_in_the_callers_language(api: Client, lead: str) -> str:
    case_id = await api.raise_case()
    resolve = {"outcome": "solved", "summary": "已清理"}
    zh = await api.post("liaison", f"/v1/cases/{case_id}/resolve", resolve)
    assert zh.status_code == 409, zh.text
    problem = zh.json()
    name = load_departments()[lead]
    assert (problem["code"], problem["params"]) == ("not_acknowledged", {"department": lead})
    assert chinese(problem["detail"]) == f"{name.name_zh}须先签收。"
    assert chinese(problem["title"]) == "操作被拒绝"
    en = await api.post("liaison", f"/v1/cases/{case_id}/resolve", resolve, **EN)
    assert en.json()["detail"] == f"{name.name_en} must acknowledge (签收) first."
    ruling = {"department": lead, "outcome": "uphold"}  # what the dashboard sends
    board = await api.post(
        "supervisor", f"/v1/cases/{case_id}/dispute/ruling", ruling, **{"Accept-Language": "zh"}
    )
    assert board.status_code == 409 and board.json()["code"] == "no_open_dispute", board.text
    assert chinese(board.json()["detail"]) == f"{name.name_zh}没有待裁定的退单。"
    return case_id


async def open311_errors_in_chinese(api: Client, dsn: str) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
    assert pool is not None
    try:  # a secretary whose area is no longer a community (the registry changed)
        token = await PgUsers(pool, 0.0).add("sec-moved", "secretary", area=JINHAI)
        await pool.execute(
            f"UPDATE {API_SCHEMA}.users SET area = 'tongan.datong' WHERE user_id = 'sec-moved'"
        )
    finally:
        await pool.close()
    form = {"api_key": token, "service_code": "parking", "address_string": "大同街道"}
    answer = await api.http.post("/open311/v2/requests.json", data=form)
    assert answer.status_code == 422, answer.text
    [error] = answer.json()
    assert error["code"] == 422
    assert chinese(error["description"]).startswith("大同街道不是已知的社区")
    english = await api.http.post("/open311/v2/requests.json", data=form, headers=EN)
    assert english.json()[0]["description"].startswith("Datong")


def console_in_chinese(stack: Stack, case_id: str) -> None:
    token = ["--token", stack.tokens["liaison"]]
    done = stack.cli("progress", case_id, "--note", "已派人到场", *token)
    assert done.returncode == 5, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "须先签收" in chinese(line.removesuffix(" [not_acknowledged]")), line
    english = stack.cli("progress", case_id, "--note", "on site", "--lang", "en", *token)
    assert english.returncode == 5 and "must acknowledge" in english.stderr, english.stderr


async def duplicates_checked(api: Client, first: str) -> None:
    async def duplicate(case_id: str, original: str) -> httpx.Response:
        body = {"original_case_id": original}
        answer: httpx.Response = await api.post("secretary", f"/v1/cases/{case_id}/duplicate", body)
        return answer

    itself = await duplicate(first, first)
    assert (itself.status_code, itself.json()["code"]) == (422, "self_duplicate"), itself.text
    assert chinese(itself.json()["detail"]) == "案件不能与自身重复。"
    hidden = await api.raise_case("admin", community=XINYANG)
    for original in ("WH-20261120-NOSUCHCASE", hidden):
        refused = await duplicate(first, original)
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "duplicate_of_unknown_case"
        assert chinese(refused.json()["detail"]).startswith(f"案件 {original} 不存在或不在")
    second = await api.raise_case()
    accepted = await duplicate(second, first)
    assert accepted.status_code == 200, accepted.text
    await api.status(second, "duplicate")
    chained = await duplicate(first, second)
    assert (chained.status_code, chained.json()["code"]) == (409, "duplicate_of_duplicate")
    chinese(chained.json()["detail"])
    third = await api.raise_case()
    onto = await duplicate(first, third)
    assert (onto.status_code, onto.json()["code"]) == (409, "case_has_duplicates"), onto.text
    assert third in chinese(onto.json()["detail"])
    instead = await duplicate(third, first)
    assert instead.status_code == 200, instead.text
    await api.status(third, "duplicate")
    row = await api.http.get(f"/v1/cases/{third}", headers=api.auth("secretary"))
    assert row.json()["duplicate_of"] == first


async def scenario(stack: Stack, dsn: str, lead: str) -> str:
    async with httpx.AsyncClient(base_url=stack.base, timeout=60) as http:
        api = Client(stack, http)
        case_id = await rejections_in_the_callers_language(api, lead)
        await open311_errors_in_chinese(api, dsn)
        await duplicates_checked(api, case_id)
    return case_id


def test_rejections_and_duplicates_on_the_running_service(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    lead = load_rules().match("parking", JINHAI).lead
    with (
        scratch_database(database_url, "rejections") as dsn,
        running_stack(
            tmp_path, kafka_bootstrap, dsn, unique_name("rejections"), lead=lead
        ) as stack,
    ):
        case_id = asyncio.run(scenario(stack, dsn, lead))
        console_in_chinese(stack, case_id)

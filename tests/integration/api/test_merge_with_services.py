"""合并 on the running service: the duplicate is closed and the original's timeline records it.

Worker, projector and API run on Kafka and PostgreSQL. A secretary merges case B into case A
through the HTTP API; B's decider closes B, its reaction goes through the commands topic to
A's decider, and the projector shows both: B as a duplicate of A, and ``DuplicateMerged`` on
A's timeline. A merge into an unknown case or into the case itself is refused in Chinese.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import unique_name
from tests.integration.api.test_rejections_with_services import Client, chinese, eventually
from tests.stack import Stack, running_stack, scratch_database
from whistle.domain import load_rules

pytestmark = pytest.mark.integration

JINHAI = "tongan.datong.jinhai"


async def timeline(api: Client, case_id: str, who: str = "secretary") -> list[dict[str, Any]]:
    got = await api.http.get(f"/v1/cases/{case_id}/timeline", headers=api.auth(who))
    assert got.status_code == 200, got.text
    events: list[dict[str, Any]] = got.json()["events"]
    return events


async def merge_scenario(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base, timeout=60) as http:
        api = Client(stack, http)
        original = await api.raise_case()
        duplicate = await api.raise_case(title="海堤路又有车违停")

        def merge(case_id: str, into: str) -> Any:
            body = {"original_case_id": into, "note": "同一处违停"}
            return api.post("secretary", f"/v1/cases/{case_id}/merge", body)

        itself = await merge(duplicate, duplicate)
        assert (itself.status_code, itself.json()["code"]) == (422, "self_duplicate"), itself.text
        assert chinese(itself.json()["detail"]) == "案件不能与自身重复。"
        unknown = await merge(duplicate, "WH-20261120-NOSUCHCASE")
        assert unknown.status_code == 422, unknown.text
        assert unknown.json()["code"] == "duplicate_of_unknown_case"
        chinese(unknown.json()["detail"])

        accepted = await merge(duplicate, original)
        assert accepted.status_code == 200, accepted.text
        assert [e["type"] for e in accepted.json()["events"]] == ["CaseMergedInto"]
        await api.status(duplicate, "duplicate")
        row = await http.get(f"/v1/cases/{duplicate}", headers=api.auth("secretary"))
        assert row.json()["duplicate_of"] == original

        async def recorded() -> list[dict[str, Any]]:
            events = await timeline(api, original, "supervisor")
            return [e for e in events if e["type"] == "DuplicateMerged"]

        (entry,) = await eventually(recorded)
        assert entry["body"]["duplicate_case_id"] == duplicate
        assert entry["body"]["title"] == "海堤路又有车违停"
        assert entry["body"]["note"] == "同一处违停"
        assert entry["body"]["merged_by"] == "sec-jinhai"
        assert entry["body"]["actor"]["role"] == "system"
        mine = await timeline(api, duplicate)
        assert mine[-1]["type"] == "CaseMergedInto"
        assert mine[-1]["body"]["original_case_id"] == original

        again = await merge(duplicate, original)
        assert again.status_code == 409, again.text  # finished: nothing more can be done
        assert again.json()["code"] == "case_finished"
        state = await http.get(f"/v1/cases/{original}", headers=api.auth("secretary"))
        assert state.json()["status"] == "routed"  # the original goes on as it was
        assert len(await recorded()) == 1


def test_a_merged_duplicate_is_recorded_on_the_original(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    lead = load_rules().match("parking", JINHAI).lead
    with (
        scratch_database(database_url, "merge") as dsn,
        running_stack(tmp_path, kafka_bootstrap, dsn, unique_name("merge"), lead=lead) as stack,
    ):
        asyncio.run(merge_scenario(stack))

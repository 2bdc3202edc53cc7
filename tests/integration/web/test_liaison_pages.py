"""The liaison's pages over the real service (worker, projector, API processes on Kafka and
PostgreSQL): routed cases appear in the inbox by nearest deadline; 签收 in one tap (htmx,
CSRF header) meets the sign-for clock; a 退单 without a reason shows the message beside the
field and changes nothing; a refused command shows the decider's catalogue message; the lead
resolves."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import unique_name
from tests.integration.web.conftest import CHEAP, CSRF
from tests.stack import JINHAI, Stack, eventually, running_stack, scratch_database
from whistle.domain.rejections import render
from whistle.web.accounts import PgAccounts

pytestmark = pytest.mark.integration

GRID = f"{JINHAI}.g01"  # the grid's rule: 城管 (urban_management) leads
PASSWORD = "liaison-pass-2026"
PORTS = {"WHISTLE_HTTP_PORT": "18382", "WHISTLE_WORKER_WEB_PORT": "18383"}
"""This worktree's assigned ports (docs: a shared machine)."""


async def _person(dsn: str, user_id: str, **scope: str) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        accounts = PgAccounts(pool, passwords=CHEAP)
        await accounts.create_person(user_id, user_id, "liaison", name="城管联络员", actor="test",
                                     **scope)  # type: ignore[arg-type]  # fmt: skip
        await accounts.set_password(user_id, PASSWORD)
    finally:
        await pool.close()


@pytest.fixture(scope="module")
def stack(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """worker + projector + API on a fresh database and topics, a liaison of 城管 who logs in."""
    tmp = tmp_path_factory.mktemp("liaison")
    with (
        scratch_database(database_url, "liaison") as dsn,
        running_stack(tmp, kafka_bootstrap, dsn, unique_name("liaison"), extra_env=PORTS) as run,
    ):
        asyncio.run(_person(dsn, "urban-page", department="urban_management"))
        yield run


def _token(page: str) -> str:
    found = CSRF.search(page)
    assert found, page
    return found.group(1)


def _order(inbox: str, case_ids: list[str]) -> list[str]:
    """The case ids in the order the inbox lists them."""
    at = {i: inbox.find(f'id="case-{i}"') for i in case_ids}
    assert all(p >= 0 for p in at.values()), at
    return sorted(case_ids, key=lambda i: at[i])


def test_the_liaison_signs_for_disputes_and_resolves_on_the_pages(stack: Stack) -> None:
    api = httpx.Client(base_url=stack.base, timeout=90)
    token = {"Authorization": f"Bearer {stack.tokens['liaison']}"}
    raiser = {"Authorization": f"Bearer {stack.tokens['secretary']}"}

    def case(case_id: str) -> dict[str, Any]:
        got = api.get(f"/v1/cases/{case_id}", headers=token)
        assert got.status_code == 200, got.text
        body: dict[str, Any] = got.json()
        return body

    ids = []
    for title in ("滨海步道违停", "金海路占道经营"):
        body = {"category": "parking", "title": title, "address": "金海社区", "grid": GRID}
        raised = api.post("/v1/cases", json=body, headers=raiser)
        assert raised.status_code == 201, raised.text
        ids.append(raised.json()["case_id"])
    older, newer = ids
    for case_id in ids:
        eventually(lambda i=case_id: api.get(f"/v1/cases/{i}", headers=token).status_code == 200)

    def nearest(case_id: str) -> datetime:
        own = [k for k in case(case_id)["clocks"] if k["department"] == "urban_management"]
        clocks = [k for k in own if k["status"] == "running"]
        return min(datetime.fromisoformat(k["due_at"]) for k in clocks)

    page = httpx.Client(base_url=stack.base, timeout=90)
    login = page.get("/login")
    answer = page.post(
        "/login",
        data={"csrf_token": _token(login.text), "username": "urban-page", "password": PASSWORD},
    )
    assert answer.status_code == 303, answer.text

    inbox = page.get("/liaison")
    assert inbox.status_code == 200
    assert "新派单" in inbox.text and "剩 " in inbox.text
    by_deadline = sorted(ids, key=nearest)
    assert _order(inbox.text, ids) == by_deadline == [older, newer]

    # a refused command shows the decider's own message beside the form, nothing changes
    before = len(api.get(f"/v1/cases/{newer}/timeline", headers=token).json()["events"])
    work = page.get(f"/liaison/cases/{newer}")
    refused = page.post(
        f"/liaison/cases/{newer}/resolve",
        data={"csrf_token": _token(work.text), "outcome": "solved", "summary": "已清理"},
    )
    assert refused.status_code == 409, refused.text
    message = re.search(r'id="e-resolve-form" role="alert">([^<]+)<', refused.text)
    assert message, refused.text
    expected = render("not_acknowledged", {"department": "urban_management"}, "zh")
    assert message.group(1) == expected == "城市管理局（城管）须先签收。", message.group(1)

    # 签收 in one tap: the htmx request carries the CSRF token as a header
    signed = page.post(
        f"/liaison/cases/{newer}/acknowledge",
        data={"from": "inbox"},
        headers={"X-CSRF-Token": _token(inbox.text), "HX-Request": "true"},
    )
    assert signed.status_code == 303, signed.text
    assert signed.headers["location"].startswith(f"/liaison?signed={newer}")
    ack = [k for k in case(newer)["clocks"]
           if k["clock"] == "ack" and k["department"] == "urban_management"]  # fmt: skip
    assert [k["status"] for k in ack] == ["met"], ack
    lead = next(a for a in case(newer)["assignments"] if a["department"] == "urban_management")
    assert lead["acknowledged_at"] is not None
    # signed for, the case's nearest deadline is now a later clock: it moves below the other
    inbox = page.get("/liaison")
    assert _order(inbox.text, ids) == sorted(ids, key=nearest) == [older, newer]
    row = inbox.text[inbox.text.find(f'id="case-{newer}"') :]
    assert f'id="ack-{newer}"' not in row.split("</tr>")[0]

    # 退单 without a reason: the field's message beside it, the case unchanged
    events = len(api.get(f"/v1/cases/{older}/timeline", headers=token).json()["events"])
    work = page.get(f"/liaison/cases/{older}")
    disputed = page.post(
        f"/liaison/cases/{older}/dispute",
        data={"csrf_token": _token(work.text), "reason": "", "text": "不归我们管"},
    )
    assert disputed.status_code == 422, disputed.text
    assert 'id="f-dispute-reason" name="reason" aria-invalid="true"' in disputed.text
    assert re.search(r'id="e-dispute-reason" role="alert">[^<]+<', disputed.text)
    assert "不归我们管" in disputed.text, "what was typed is kept"
    after = len(api.get(f"/v1/cases/{older}/timeline", headers=token).json()["events"])
    assert after == events

    # the lead resolves the signed-for case (办结)
    work = page.get(f"/liaison/cases/{newer}")
    resolved = page.post(
        f"/liaison/cases/{newer}/resolve",
        data={"csrf_token": _token(work.text), "outcome": "solved", "summary": "车辆已劝离"},
    )
    assert resolved.status_code == 303, resolved.text
    assert case(newer)["status"] == "resolved"
    shown = page.get(resolved.headers["location"])
    assert "已办结" in shown.text and "车辆已劝离" in shown.text
    assert "车辆已劝离 · 已解决" in shown.text, "the log shows the outcome in words, not its code"
    timeline = api.get(f"/v1/cases/{newer}/timeline", headers=token).json()["events"]
    assert len(timeline) > before
    api.close()
    page.close()

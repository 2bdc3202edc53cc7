"""The supervisor's pages over the real service (worker, projector, API processes on Kafka and
PostgreSQL): a 退单 ruling, a refused ruling without an outcome (the message beside the field)
and a manual 督办 posted from the case page become the decider's events; an extension is
granted and a second refused (without a reason: refused beside the field) from the case page;
the metrics page's charts and its CSV and XLSX exports carry the read model's figures
(``/v1/metrics`` over the same range)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from openpyxl import load_workbook

from tests.conftest import unique_name
from tests.integration.web.conftest import CHEAP, CSRF
from tests.service_fixtures import port_from_env
from tests.stack import JINHAI, Stack, eventually, running_stack, scratch_database
from whistle.web.accounts import PgAccounts
from whistle.web.liaison_routes import CHINA

pytestmark = pytest.mark.integration

GRID = f"{JINHAI}.g01"  # the grid's rule: 城管 (urban_management) leads
PASSWORD = "supervisor-pass-2026"
CHART_DATA = re.compile(r'<script type="application/json" id="metrics-chart-data">(.*?)</script>')


async def _person(dsn: str) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        accounts = PgAccounts(pool, passwords=CHEAP)
        await accounts.create_person("sup-page", "sup-page", "supervisor", name="同安督办",
                                     actor="test", area="tongan")  # fmt: skip
        await accounts.set_password("sup-page", PASSWORD)
    finally:
        await pool.close()


@pytest.fixture(scope="module")
def stack(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """worker + projector + API on a fresh database and topics, a supervisor of 同安 who logs in."""
    tmp = tmp_path_factory.mktemp("supervisor")
    ports = {"WHISTLE_HTTP_PORT": port_from_env("WHISTLE_TEST_HTTP_PORT"),
             "WHISTLE_WORKER_WEB_PORT": port_from_env("WHISTLE_TEST_WORKER_PORT")}  # fmt: skip
    with (
        scratch_database(database_url, "supervisor") as dsn,
        running_stack(tmp, kafka_bootstrap, dsn, unique_name("supervisor"), extra_env=ports) as run,
    ):
        asyncio.run(_person(dsn))
        yield run


def _token(page: str) -> str:
    found = CSRF.search(page)
    assert found, page
    return found.group(1)


def _raise(api: httpx.Client, raiser: dict[str, str], title: str) -> str:
    """A parking whistle on 城管's grid of 金海, raised by the secretary: its case id."""
    body = {"category": "parking", "title": title, "address": "金海社区", "grid": GRID}
    raised = api.post("/v1/cases", json=body, headers=raiser)
    assert raised.status_code == 201, raised.text
    return str(raised.json()["case_id"])


def _logged_in(stack: Stack) -> httpx.Client:
    """A browser-like client of the pages, logged in as the 同安 supervisor."""
    page = httpx.Client(base_url=stack.base, timeout=90)
    login = page.get("/login")
    answer = page.post("/login", data={"csrf_token": _token(login.text),
                                       "username": "sup-page", "password": PASSWORD})  # fmt: skip
    assert answer.status_code == 303, answer.text
    return page


def test_rulings_and_escalation_from_the_pages_and_the_exports(stack: Stack) -> None:
    api = httpx.Client(base_url=stack.base, timeout=90)
    raiser = {"Authorization": f"Bearer {stack.tokens['secretary']}"}
    liaison = {"Authorization": f"Bearer {stack.tokens['liaison']}"}
    supervisor = {"Authorization": f"Bearer {stack.tokens['supervisor']}"}
    case_id = _raise(api, raiser, "滨海步道违停")

    def case() -> dict[str, Any]:
        got = api.get(f"/v1/cases/{case_id}", headers=supervisor)
        return got.json() if got.status_code == 200 else {}

    def events() -> list[str]:
        got = api.get(f"/v1/cases/{case_id}/timeline", headers=supervisor)
        return [e["type"] for e in got.json()["events"]] if got.status_code == 200 else []

    eventually(lambda: case().get("status") == "routed")
    disputed = api.post(f"/v1/cases/{case_id}/dispute", headers=liaison,
                        json={"reason": "wrong_function", "text": "不归城管"})  # fmt: skip
    assert disputed.status_code in (200, 201, 202), disputed.text

    page = _logged_in(stack)
    home = page.get("/")
    assert 'href="/supervisor"' in home.text
    workspace = eventually(lambda: (w := page.get("/supervisor")) and case_id in w.text and w)
    assert "待裁定的退单" in workspace.text and f"dispute-{case_id}-" in workspace.text
    assert 'href="/dashboard"' in workspace.text

    # no outcome chosen: the command's own message beside the field, nothing ruled
    work = eventually(lambda: (w := page.get(f"/supervisor/cases/{case_id}")) and
                      'id="act-ruling"' in w.text and w)  # fmt: skip
    form = {"csrf_token": _token(work.text), "department": "urban_management"}
    refused = page.post(f"/supervisor/cases/{case_id}/ruling", data=form)
    assert refused.status_code == 422, refused.text
    assert 'id="e-ruling-outcome" role="alert"' in refused.text
    assert "DisputeRuled" not in events()

    ruled = page.post(f"/supervisor/cases/{case_id}/ruling", data={
        "csrf_token": _token(work.text), "department": "urban_management", "outcome": "uphold",
        "reason": "属城管职责"})  # fmt: skip
    assert ruled.status_code == 303, ruled.text
    assert ruled.headers["location"].startswith(f"/supervisor/cases/{case_id}?done=ruling")
    eventually(lambda: "DisputeRuled" in events())
    after = page.get(ruled.headers["location"])
    assert "已裁定" in after.text and "退单裁定" in after.text

    escalated = page.post(f"/supervisor/cases/{case_id}/escalate", data={
        "csrf_token": _token(after.text), "step": "supervision", "tier": "district",
        "reason": "请加快办理"})  # fmt: skip
    assert escalated.status_code == 303, escalated.text
    eventually(lambda: "CaseEscalated" in events())

    # the exports: the same figures as the API's metrics over the same days
    today = datetime.now(CHINA).date()
    since, until = today - timedelta(days=1), today
    query = f"level=community&area=tongan.datong&since={since}&until={until}"
    start = datetime.combine(since, datetime.min.time(), tzinfo=CHINA)
    end = datetime.combine(until + timedelta(days=1), datetime.min.time(), tzinfo=CHINA)

    def expected() -> dict[str, Any]:
        span = {"since": start.isoformat(), "until": end.isoformat()}
        got = api.get("/v1/metrics", headers=supervisor, params={"group_by": "community", **span})
        assert got.status_code == 200, got.text
        return {i["group"]: i for i in got.json()["items"]}

    figures = eventually(lambda: (e := expected()).get(JINHAI, {}).get("dispatched") and e)
    jinhai = figures[JINHAI]
    metrics = page.get(f"/supervisor/metrics?{query}")
    assert metrics.status_code == 200 and "金海" in metrics.text
    assert f"level=department&amp;area={JINHAI}" in metrics.text  # the drill-down link
    embedded = CHART_DATA.search(metrics.text)
    assert embedded, metrics.text
    chart = json.loads(embedded.group(1))
    at = chart["groups"].index("金海社区")  # the charts draw the table's rows, by name
    rates = {s["name"]: s["data"][at] for s in chart["charts"]["rates"]["series"]}
    rate = jinhai["response_rate"]
    assert rates["响应率"] == (None if rate is None else round(100 * rate, 1))
    assert set(rates) == {"响应率", "解决率", "满意率"}

    exported = page.get(f"/supervisor/metrics.csv?{query}")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["编码", "名称", "派单数", "响应率"]
    line = next(r for r in rows[1:] if r[0] == JINHAI)
    assert int(line[2]) == jinhai["dispatched"]
    assert line[3] == ("" if jinhai["response_rate"] is None else str(jinhai["response_rate"]))
    assert int(line[-1]) == jinhai["breaches"]

    book = page.get(f"/supervisor/metrics.xlsx?{query}")
    assert book.status_code == 200
    sheet = load_workbook(io.BytesIO(book.content)).active
    assert sheet is not None
    cells = [[c.value for c in r] for r in sheet.iter_rows()]
    assert cells[0][:3] == ["编码", "名称", "派单数"]
    found = next(r for r in cells[1:] if r[0] == JINHAI)
    assert found[2] == jinhai["dispatched"] and found[3] == jinhai["response_rate"]
    assert found[-1] == jinhai["breaches"]

    outside = page.get("/supervisor/metrics?level=street&area=siming")
    assert outside.status_code == 403
    page.close()
    api.close()


def test_an_extension_is_granted_and_a_second_refused_from_the_case_page(stack: Stack) -> None:
    """城管 asks (API) for more time on its resolve clock; the supervisor sees it waiting on the
    workspace and the case page, grants it there (the requested due time); a second request is
    refused with a reason; a refusal without a reason is refused beside the field."""
    api = httpx.Client(base_url=stack.base, timeout=90)
    raiser = {"Authorization": f"Bearer {stack.tokens['secretary']}"}
    liaison = {"Authorization": f"Bearer {stack.tokens['liaison']}"}
    supervisor = {"Authorization": f"Bearer {stack.tokens['supervisor']}"}
    case_id = _raise(api, raiser, "路口长期占道")

    def events() -> list[dict[str, Any]]:
        got = api.get(f"/v1/cases/{case_id}/timeline", headers=supervisor)
        return got.json()["events"] if got.status_code == 200 else []

    def kinds() -> list[str]:
        return [e["type"] for e in events()]

    eventually(lambda: "CaseRouted" in kinds())
    signed = api.post(f"/v1/cases/{case_id}/acknowledge", headers=liaison, json={})
    assert signed.status_code in (200, 201, 202), signed.text
    eventually(lambda: "DepartmentAcknowledged" in kinds())
    wanted = (datetime.now(CHINA) + timedelta(days=20)).replace(second=0, microsecond=0)

    def ask(reason: str, until: datetime) -> None:
        wish = {"clock": "resolve", "until": until.isoformat(), "reason": reason}
        asked = api.post(f"/v1/cases/{case_id}/extension", headers=liaison, json=wish)
        assert asked.status_code in (200, 201, 202), asked.text

    ask("需协调产权单位", wanted)
    page = _logged_in(stack)
    eventually(lambda: "需协调产权单位" in page.get("/supervisor").text)
    work = eventually(lambda: (w := page.get(f"/supervisor/cases/{case_id}")) and
                      'id="act-grant"' in w.text and w)  # fmt: skip
    key = re.search(r'name="clock_key" value="([^"]+)"', work.text)
    assert key, work.text
    assert wanted.strftime("%Y-%m-%dT%H:%M") in work.text  # the requested time, prefilled
    granted = page.post(f"/supervisor/cases/{case_id}/grant", data={
        "csrf_token": _token(work.text), "clock_key": key.group(1),
        "until": wanted.strftime("%Y-%m-%dT%H:%M"), "note": "同意延期"})  # fmt: skip
    assert granted.status_code == 303, granted.text
    done = eventually(lambda: [e for e in events() if e["type"] == "ExtensionGranted"])
    assert datetime.fromisoformat(done[0]["body"]["due_at"]) == wanted, done

    ask("再次申请", wanted + timedelta(days=10))  # later than the granted time, or refused
    work = eventually(lambda: (w := page.get(f"/supervisor/cases/{case_id}")) and
                      "再次申请" in w.text and w)  # fmt: skip
    bare = page.post(f"/supervisor/cases/{case_id}/refuse",
                     data={"csrf_token": _token(work.text), "clock_key": key.group(1)})  # fmt: skip
    assert bare.status_code == 422 and 'id="e-refuse-reason" role="alert"' in bare.text, bare.text
    assert "ExtensionRefused" not in kinds()
    refused = page.post(f"/supervisor/cases/{case_id}/refuse", data={
        "csrf_token": _token(work.text), "clock_key": key.group(1),
        "reason": "已延期一次"})  # fmt: skip
    assert refused.status_code == 303, refused.text
    eventually(lambda: "ExtensionRefused" in kinds())
    page.close()
    api.close()

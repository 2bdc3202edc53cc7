"""What-if on the real broker and database, through the running worker, projector and API.

Whistles are raised, signed for (some in time, some late, some never) and resolved through
the API under SLA policies measured in seconds, so the worker breaches and escalates them.
Replaying the range with the version that was in force gives exactly the figures of the live
read models (``whistle.read.resolution_metrics.metrics``) for every grouping; the CLI prints
the same figures and refuses an unknown version in one line.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from tests.conftest import unique_name
from tests.service_fixtures import port_from_env, settings_of
from tests.short_sla_policies import ACK_WITHIN_S, SUPERVISION_AFTER_S, write_short_sla_policies
from tests.stack import Stack, running_stack, scratch_database
from whistle.read.resolution_metrics import GROUPS, ROLLUP_COUNTS, metrics
from whistle.web.accounts import PgAccounts
from whistle.whatif.run import history_now, run_whatif

pytestmark = pytest.mark.integration

CHINA = ZoneInfo("Asia/Shanghai")
PORTS = {"WHISTLE_HTTP_PORT": port_from_env("WHISTLE_TEST_HTTP_PORT"),
         "WHISTLE_WORKER_WEB_PORT": port_from_env("WHISTLE_TEST_WORKER_PORT")}  # fmt: skip
"""This suite's servers (the ports assigned to the what-if work)."""
RATES = ("response_rate", "resolution_rate", "satisfaction_rate", "average_score", "score")


@pytest.fixture(scope="module")
def stack(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """Worker, projector and API on fresh topics and database, with second-long SLAs."""
    tmp = tmp_path_factory.mktemp("whatif")
    env = {**PORTS, "WHISTLE_SLA_POLICIES_FILE": str(write_short_sla_policies(tmp))}
    with (
        scratch_database(database_url, "whatif") as dsn,
        running_stack(tmp, kafka_bootstrap, dsn, unique_name("whatif"), extra_env=env) as s,
    ):
        yield s


def _auth(stack: Stack, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.tokens[who]}"}


def _post(http: httpx.Client, stack: Stack, who: str, path: str, body: dict[str, Any]) -> Any:
    for _ in range(40):  # the case may not be routed yet on a busy machine
        got = http.post(path, json=body, headers=_auth(stack, who))
        if got.status_code != 404:
            assert got.status_code in (200, 201, 202), got.text
            return got.json()
        time.sleep(0.25)
    raise AssertionError(f"{path}: still 404")


def _history(http: httpx.Client, stack: Stack) -> None:
    """Five whistles: signed in time, signed late, never signed, resolved and called back."""
    raised = []
    categories = ("tourist_crowds", "parking", "parking", "parking", "tourist_crowds")
    for n, category in enumerate(categories):  # 城管 leads tourist_crowds in 金海
        body = {"category": category, "title": f"测试 {n}", "address": "金海社区滨海步道"}
        raised.append(_post(http, stack, "secretary", "/v1/cases", body)["case_id"])
    first, second, late, never, resolved = raised
    for case_id in (first, second, resolved):
        _post(http, stack, "liaison", f"/v1/cases/{case_id}/acknowledge", {})
    _post(
        http,
        stack,
        "liaison",
        f"/v1/cases/{resolved}/resolve",
        {"outcome": "solved", "summary": "已处理"},
    )
    _post(
        http,
        stack,
        "secretary",
        f"/v1/cases/{resolved}/callback",
        {"solved": True, "satisfied": False, "score": 3},
    )
    time.sleep(ACK_WITHIN_S + 1.5)  # past the ack clocks: breached and reminded
    _post(http, stack, "liaison", f"/v1/cases/{late}/acknowledge", {})
    del never  # never signed: breached, reminded, then supervised
    time.sleep(SUPERVISION_AFTER_S + 4)  # every ladder to its end


async def _live(dsn: str, since: datetime, until: datetime) -> dict[str, list[dict[str, Any]]]:
    conn = await asyncpg.connect(dsn)
    try:
        return {g: await metrics(conn, g, None, since, until) for g in GROUPS}  # type: ignore[arg-type]
    finally:
        await conn.close()


async def _settled(dsn: str, since: datetime, until: datetime) -> dict[str, list[dict[str, Any]]]:
    """The live figures once the projector has stopped moving them."""
    previous: Any = None
    for _ in range(60):
        figures = await _live(dsn, since, until)
        if figures == previous and figures["department"]:
            return figures
        previous = figures
        await asyncio.sleep(1.0)
    raise AssertionError("the read models kept moving")


def _pick(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {name: row[name] for name in (*ROLLUP_COUNTS, *RATES)}


def test_replaying_with_the_version_in_force_gives_the_live_figures(
    stack: Stack, tmp_path: Path
) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    with httpx.Client(base_url=stack.base, timeout=30) as http:
        _history(http, stack)
    until = datetime.now(UTC) + timedelta(minutes=1)
    live = asyncio.run(_settled(stack.env["WHISTLE_DATABASE_URL"], since, until))
    settings = settings_of(stack.env)
    history = history_now(settings)
    in_force = history.at(datetime.now(UTC))
    now = datetime.now(UTC)  # the clocks of both ways run to the same instant
    replayed = run_whatif(settings, in_force, since, until, now, processes=2, original="log")
    assert replayed.pop("original_from") == "log"  # every case projected again from the log
    assert replayed.pop("replayed") == 5
    from_read_models = run_whatif(settings, in_force, since, until, now, original="read-models")
    assert from_read_models.pop("original_from") == "read-models"
    assert from_read_models.pop("replayed") == 0  # the version in force changes no case
    assert from_read_models == replayed  # the read models' side is the log's (whatif.live)

    assert replayed["cases"] == 5 and replayed["moved"]["count"] == 0
    assert replayed["clocks"]["changes"] == [] and replayed["refused"] == []
    for grouping in GROUPS:
        rows = {r["group"]: _pick(r) for r in live[grouping]}
        for entry in replayed["by"][grouping]:
            for side in ("original", "proposed"):
                mine = entry[side]
                assert mine is not None
                theirs = rows[entry["group"]]
                assert theirs is not None
                for name, value in theirs.items():
                    if name in mine:
                        assert mine[name] == value, (grouping, entry["group"], side, name)
        assert {e["group"] for e in replayed["by"][grouping]} == set(rows)
    everything = replayed["overall"]["original"]
    assert everything["breaches"] >= 3 and everything["escalations"] >= 3
    assert everything["callbacks"] == 1

    done = stack.cli(
        "whatif",
        "--proposed",
        str(in_force.version),
        "--since",
        since.isoformat(),
        "--until",
        until.isoformat(),
        "--json",
        "--html",
        str(tmp_path / "report.html"),
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["overall"] == replayed["overall"]
    assert "<svg" in (tmp_path / "report.html").read_text(encoding="utf-8")
    table = stack.cli(
        "whatif", "--proposed", "1", "--since", since.isoformat(), "--until", until.isoformat()
    )
    assert table.returncode == 0 and "响应率" in table.stdout, table.stderr

    wrong = stack.cli(
        "whatif", "--proposed", "99", "--since", since.isoformat(), "--until", until.isoformat()
    )
    assert wrong.returncode == 2
    assert wrong.stderr.strip().count("\n") == 0 and "99" in wrong.stderr


def test_the_admin_page_previews_a_proposal_over_http(stack: Stack) -> None:
    """POST /v1/config/whatif: config roles only; a routing change moves the 金海 tourist
    whistles to civil_affairs, which never saw them; errors are problem+json."""
    since = datetime.now(UTC)  # after the other test's whistles (the stack is shared)
    with httpx.Client(base_url=stack.base, timeout=120) as http:
        case_id = _post(
            http,
            stack,
            "secretary",
            "/v1/cases",
            {"category": "tourist_crowds", "title": "游客", "address": "金海社区滨海步道"},
        )["case_id"]
        _post(http, stack, "liaison", f"/v1/cases/{case_id}/acknowledge", {})
        until = datetime.now(UTC) + timedelta(minutes=1)
        current = http.get("/v1/config/routing/current", headers=_auth(stack, "admin")).json()
        rules = current["document"]["rules"]
        for rule in rules:
            if rule["id"] == "tongan.datong.jinhai.tourist_crowds":
                rule.update(lead="civil_affairs", supporting=[])
        body = {
            "since": since.isoformat(),
            "until": until.isoformat(),
            "changes": [{"kind": "routing", "document": current["document"]}],
        }
        for who in ("secretary", "liaison", "supervisor"):
            denied = http.post("/v1/config/whatif", json=body, headers=_auth(stack, who))
            assert denied.status_code == 403, (who, denied.text)
            assert denied.headers["content-type"] == "application/problem+json"
        answer = http.post("/v1/config/whatif", json=body, headers=_auth(stack, "admin"))
        assert answer.status_code == 200, answer.text
        result = answer.json()
        assert result["cases"] == 1 and result["moved"]["count"] == 1
        [moved] = result["moved"]["examples"]
        assert moved["case_id"] == case_id
        assert moved["proposed"] == {
            "lead": "civil_affairs",
            "supporting": [],
            "rule_id": "tongan.datong.jinhai.tourist_crowds",
        }
        assert [r["department"] for r in result["rerouted"]] == ["civil_affairs"]
        assert result["overall"]["proposed"]["dispatched"] == 1
        assert result["overall"]["original"]["dispatched"] == 4
        html = http.post("/v1/config/whatif?format=html", json=body, headers=_auth(stack, "admin"))
        assert html.status_code == 200 and "<svg" in html.text and "民政局" in html.text
        backwards = {**body, "since": until.isoformat(), "until": since.isoformat()}
        wrong = http.post(
            "/v1/config/whatif",
            json=backwards,
            headers={**_auth(stack, "admin"), "Accept-Language": "en"},
        )
        assert wrong.status_code == 422, wrong.text
        assert wrong.headers["content-type"] == "application/problem+json"
        assert "before until" in wrong.text
        missing = http.post(
            "/v1/config/whatif",
            json={"since": body["since"], "until": body["until"], "version": 99},
            headers=_auth(stack, "admin"),
        )
        assert missing.status_code == 404 and "99" in missing.json()["detail"]


def _csrf(http: httpx.Client, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', http.get(path).text)
    assert found, path
    return found.group(1)


def _admin_person(stack: Stack) -> None:
    """The stack's admin as a person who logs in with a password (tokens are for machines)."""

    async def person() -> None:
        pool = await asyncpg.create_pool(stack.env["WHISTLE_DATABASE_URL"], min_size=1, max_size=1)
        assert pool is not None
        try:
            accounts = PgAccounts(pool)
            await accounts.set_username("root", "whatif-admin")
            await accounts.set_password("root", "试算-Pass-2026")
        finally:
            await pool.close()

    asyncio.run(person())


def _log_in(http: httpx.Client) -> None:
    login = {"csrf_token": _csrf(http, "/login"), "username": "whatif-admin",
             "password": "试算-Pass-2026"}  # fmt: skip
    assert http.post("/login", data=login).status_code == 303


def _raise(http: httpx.Client, stack: Stack, category: str, title: str) -> str:
    """A whistle of ``category`` raised in 金海 by its secretary: the case id."""
    body = {"category": category, "title": title, "address": "金海社区滨海步道"}
    return str(_post(http, stack, "secretary", "/v1/cases", body)["case_id"])


def _moved_to_civil_affairs(html: str, case_id: str) -> str:
    """The page's table of moved cases, which lists ``case_id`` going to civil_affairs under
    the rule that decided it."""
    moved = re.search(r'<table id="whatif-moved">(.*?)</table>', html, re.S)
    assert moved, html[-3000:]
    assert f'data-case="{case_id}" data-lead="civil_affairs"' in moved.group(1)
    assert "民政局" in moved.group(1)  # the department's name, not its code
    assert "tongan.datong.jinhai.tourist_crowds" in moved.group(1)
    return moved.group(1)


def _to_civil_affairs(http: httpx.Client, stack: Stack) -> dict[str, Any]:
    """The routing document in force with 金海's tourist whistles given to civil_affairs."""
    current = http.get("/v1/config/routing/current", headers=_auth(stack, "admin")).json()
    document: dict[str, Any] = current["document"]
    for rule in document["rules"]:
        if rule["id"] == "tongan.datong.jinhai.tourist_crowds":
            rule.update(lead="civil_affairs", supporting=[])
    return document


def test_the_admin_page_runs_the_what_if_of_a_draft_on_the_real_log(stack: Stack) -> None:
    """#19's admin page: logged in as a person, the admin drafts moving 金海's tourist
    whistles to civil_affairs and runs the what-if over today (China days) from the preview:
    the page lists the moved case with the rule that decided it, and both sides' 三率."""
    _admin_person(stack)
    with httpx.Client(base_url=stack.base, timeout=120) as http:
        case_id = _raise(http, stack, "tourist_crowds", "游客拥挤")
        document = _to_civil_affairs(http, stack)
        _log_in(http)
        today = datetime.now(CHINA).date()
        form = {
            "csrf_token": _csrf(http, "/admin/config/routing"),
            "document_routing": json.dumps(document, ensure_ascii=False),
            "since": (today - timedelta(days=1)).isoformat(),
            "until": today.isoformat(),
        }
        page = http.post("/admin/config/draft/whatif", data=form)
        assert page.status_code == 200, page.text[-3000:]
        _moved_to_civil_affairs(page.text, case_id)
        assert 'id="whatif-summary"' in page.text
        report = http.post("/admin/config/draft/whatif/report", data=form)
        assert report.status_code == 200 and "<svg" in report.text


def _whistle_resolved_late(http: httpx.Client, stack: Stack) -> str:
    """A 金海 sanitation whistle (urban_management leads, policy ``whistle``) signed for and
    resolved at least 2 s after it was routed: in time under the logged 7-day budget, late
    under a budget of 1 s (a lower bound on elapsed time, so not a timed assertion)."""
    case_id = _raise(http, stack, "sanitation", "垃圾堆积")
    _post(http, stack, "liaison", f"/v1/cases/{case_id}/acknowledge", {})  # routed by now
    time.sleep(2.0)
    outcome = {"outcome": "solved", "summary": "已清运"}
    _post(http, stack, "liaison", f"/v1/cases/{case_id}/resolve", outcome)
    return case_id


def _shorter_resolve(http: httpx.Client, stack: Stack) -> dict[str, Any]:
    """The SLA policies in force with the ``whistle`` policy's general resolve budget 1 s."""
    current = http.get("/v1/config/policies/current", headers=_auth(stack, "admin")).json()
    document: dict[str, Any] = current["document"]
    assert document["whistle"]["clocks"]["general"]["resolve"]["within"] == "P7D"
    document["whistle"]["clocks"]["general"]["resolve"]["within"] = "PT1S"
    return document


def _row(html: str, table: str, group: str) -> dict[str, list[str]]:
    """A by-group row of the page's what-if: each figure's "original → proposed" sides."""
    found = re.search(rf'<table id="{table}">(.*?)</table>', html, re.S)
    assert found, html[-3000:]
    row = re.search(rf'<tr data-group="{group}">(.*?)</tr>', found.group(1), re.S)
    assert row, found.group(1)
    cells = re.findall(r'<td class="(\w+)">(.*?)</td>', row.group(1), re.S)
    return {name: [side.strip() for side in value.split("→")] for name, value in cells}


def test_one_what_if_of_a_routing_and_a_policy_draft_from_the_page_and_the_cli(
    stack: Stack, tmp_path: Path
) -> None:
    """#19's Done-when: the admin drafts moving 金海's tourist whistles to civil_affairs AND a
    shorter resolve budget of the ``whistle`` policy, side by side on the admin page, and runs
    one what-if of both over the real log: the page shows the moved case with its rule, the
    resolve clock that would breach, and the 三率 and breaches by category changing. The CLI
    replays a file holding both changes and agrees with the API."""
    _admin_person(stack)
    since = datetime.now(UTC)
    with httpx.Client(base_url=stack.base, timeout=120) as http:
        tourist = _raise(http, stack, "tourist_crowds", "游客滞留")
        sanitation = _whistle_resolved_late(http, stack)
        time.sleep(ACK_WITHIN_S + SUPERVISION_AFTER_S + 4)  # every ladder to its end
        until = datetime.now(UTC) + timedelta(minutes=1)
        routing, policies = _to_civil_affairs(http, stack), _shorter_resolve(http, stack)
        _log_in(http)
        csrf = _csrf(http, "/admin/config/routing")
        drafting = {
            "csrf_token": csrf,
            "document_routing": json.dumps(routing, ensure_ascii=False),
            "add": "1",
            "add_kind": "policies",
        }
        added = http.post("/admin/config/draft/preview", data=drafting)
        assert added.status_code == 200 and 'id="f-document_policies"' in added.text
        today = datetime.now(CHINA).date()
        form = {
            "csrf_token": csrf,
            "document_routing": json.dumps(routing, ensure_ascii=False),
            "document_policies": json.dumps(policies, ensure_ascii=False),
            "since": (today - timedelta(days=1)).isoformat(),
            "until": today.isoformat(),
        }
        wrong = http.post("/admin/config/draft/whatif", data={**form, "document_policies": "["})
        assert wrong.status_code == 422 and 'id="e-document_policies"' in wrong.text
        assert 'id="whatif"' not in wrong.text
        page = http.post("/admin/config/draft/whatif", data=form)
        assert page.status_code == 200, page.text[-3000:]
        kinds = re.search(r'<p id="whatif-kinds">(.*?)</p>', page.text)
        assert kinds and "派单规则" in kinds.group(1) and "时限策略" in kinds.group(1)
        moved = _moved_to_civil_affairs(page.text, tourist)
        assert sanitation not in moved  # the budget changes, not the owner
        clocks = re.search(r'<table id="whatif-clock-cases">(.*?)</table>', page.text, re.S)
        assert clocks, page.text[-3000:]
        late = [r for r in re.findall(r"<tr>(.*?)</tr>", clocks.group(1), re.S) if sanitation in r]
        assert late and "办结 · 城市管理局（城管）" in late[0]
        assert re.search(r"按时</td><td>超时", late[0]), late
        rows = _row(page.text, "whatif-categories", "sanitation")
        before, after = (int(n) for n in rows["breaches"])
        assert after == before + 1  # the one resolve clock; signing-for is held as logged
        tourist_rates = _row(page.text, "whatif-categories", "tourist_crowds")
        assert tourist_rates["response"][1] == "0.0%"  # civil_affairs never saw a case
        report = http.post("/admin/config/draft/whatif/report", data=form)
        assert report.status_code == 200 and "<svg" in report.text

        changes = [
            {"kind": "routing", "document": routing},
            {"kind": "policies", "document": policies},
        ]
        body = {"since": since.isoformat(), "until": until.isoformat(), "changes": changes}
        api = http.post("/v1/config/whatif", json=body, headers=_auth(stack, "admin"))
        assert api.status_code == 200, api.text
    proposal = tmp_path / "proposal.json"
    proposal.write_text(json.dumps({"changes": changes}, ensure_ascii=False), encoding="utf-8")
    done = stack.cli(
        "whatif", "--proposed", str(proposal), "--since", since.isoformat(),
        "--until", until.isoformat(), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["overall"] == api.json()["overall"] and printed["by"] == api.json()["by"]
    assert set(printed["proposed_version"]["kinds"]) == {"routing", "policies"}
    assert printed["cases"] == 2 and printed["moved"]["count"] == 1
    [example] = printed["moved"]["examples"]
    assert example["case_id"] == tourist and example["proposed"]["lead"] == "civil_affairs"
    assert {"department": "urban_management", "original": "met", "proposed": "breached",
            "clocks": 1} in printed["clocks"]["changes"]  # fmt: skip
    by_category = {row["group"]: row for row in printed["by"]["category"]}
    sanitation_row = by_category["sanitation"]
    assert sanitation_row["proposed"]["breaches"] == sanitation_row["original"]["breaches"] + 1
    tourist_row = by_category["tourist_crowds"]
    assert tourist_row["original"]["dispatched"] == 4 and tourist_row["proposed"]["dispatched"] == 1
    assert tourist_row["proposed"]["response_rate"] == 0.0
    assert printed["original_from"] == "read-models"
    from_log = stack.cli(
        "whatif", "--proposed", str(proposal), "--since", since.isoformat(),
        "--until", until.isoformat(), "--json", "--original", "log",
    )  # fmt: skip
    assert from_log.returncode == 0, from_log.stderr
    again = json.loads(from_log.stdout)
    assert again.pop("original_from") == "log" and printed.pop("original_from")
    assert again.pop("replayed") == 2 and printed.pop("replayed") == 2  # both cases change
    assert again.pop("horizon") >= printed.pop("horizon")  # each run's now
    assert again == printed  # delta mode around the read models = every case replayed
    table = stack.cli(
        "whatif", "--proposed", str(proposal), "--since", since.isoformat(),
        "--until", until.isoformat(), "--lang", "en",
    )  # fmt: skip
    assert table.returncode == 0, table.stderr
    assert "1 case(s) change departments" in table.stdout
    assert "urban_management met→breached ×1" in table.stdout

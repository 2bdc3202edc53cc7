"""Living configuration on the real broker, database, workers, projector and API.

An admin changes a routing rule and an SLA budget through the API, and the 2027 calendar
through the console: each is validated, shown as a diff, published, and taken up by the
running workers with no restart; cases routed before keep their versions. Three workers route
whistles under load while a change is published a moment ahead: every case routed at an
instant used the version in force at that instant (so no two workers disagreed). And each
route of ``/v1/config`` answers every role as its matrix says.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import unique_name
from tests.logcheck import read_topic
from tests.service_fixtures import free_port
from tests.stack import JINHAI, Stack, running_stack, scratch_database
from whistle.config.versions import RoutingDocument
from whistle.domain.routing import RoutingRules

pytestmark = pytest.mark.integration

NEW_LEAD = "civil_affairs"
YUNXI = "tongan.datong.yunxi"
HAICANG_COMMUNITY = "haicang.xinyang.xinyang"

# (method, path) → {role: status}. config_admin is the district config admin of 同安 (tongan);
# its publish here changes a rule inside 同安 (201) — outside it, see test_district_scope.
MATRIX: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/v1/config/versions"): {
        "admin": 200, "config_admin": 200, "supervisor": 403, "secretary": 403, "liaison": 403,
    },
    ("GET", "/v1/config/{kind}/versions"): {
        "admin": 200, "config_admin": 200, "supervisor": 403, "secretary": 403, "liaison": 403,
    },
    ("GET", "/v1/config/{kind}/current"): {
        "admin": 200, "config_admin": 200, "supervisor": 403, "secretary": 403, "liaison": 403,
    },
    ("GET", "/v1/config/{kind}/versions/{version}"): {
        "admin": 200, "config_admin": 200, "supervisor": 403, "secretary": 403, "liaison": 403,
    },
    ("POST", "/v1/config/{kind}/validate"): {
        "admin": 200, "config_admin": 200, "supervisor": 403, "secretary": 403, "liaison": 403,
    },
    ("POST", "/v1/config/{kind}/diff"): {
        "admin": 200, "config_admin": 200, "supervisor": 403, "secretary": 403, "liaison": 403,
    },
    ("POST", "/v1/config/{kind}/publish"): {
        "admin": 201, "config_admin": 201, "supervisor": 403, "secretary": 403, "liaison": 403,
    },
}  # fmt: skip


@pytest.fixture(scope="module")
def stack(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """Three workers, a projector and the API on a fresh database and topics."""
    tmp = tmp_path_factory.mktemp("config")
    with (
        scratch_database(database_url, "config") as dsn,
        running_stack(tmp, kafka_bootstrap, dsn, unique_name("config")) as running,
    ):
        ports = [int(running.env["WHISTLE_WORKER_WEB_PORT"])]
        for n in (2, 3):
            port = free_port()
            running.supervisor.start(
                f"worker-{n}", "worker", "--id", f"worker-{n}", "--web-port", str(port)
            )
            ports.append(port)
        running.env["TEST_WORKER_PORTS"] = ",".join(map(str, ports))
        second = free_port()  # a second API process: two publishers serialised by PostgreSQL
        running.supervisor.start("api-2", "api", "--port", str(second))
        running.env["TEST_SECOND_API"] = f"http://127.0.0.1:{second}"
        running.supervisor.wait_ready(f"{running.env['TEST_SECOND_API']}/readyz", 180)
        done = running.cli(
            "users", "add", "cfg-tongan", "--role", "config_admin", "--area", "tongan"
        )
        assert done.returncode == 0, done.stderr
        running.tokens["config_admin"] = done.stdout.strip().splitlines()[-1]
        yield running


def auth(stack: Stack, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.tokens[who]}"}


def latest(http: httpx.Client, stack: Stack) -> int:
    versions = http.get("/v1/config/versions", headers=auth(stack, "admin"))
    assert versions.status_code == 200, versions.text
    return int(versions.json()[0]["version"])


def routing_with(document: dict[str, Any], area: str, lead: str, rule_id: str) -> dict[str, Any]:
    """The routing document with parking in ``area`` led by ``lead`` (rule ``rule_id``)."""
    rules = [r for r in document["rules"] if (r["category"], r["area"]) != ("parking", area)]
    rules.append({"id": rule_id, "category": "parking", "area": area, "lead": lead})
    return {**document, "rules": rules}


def wait_until(instant: datetime) -> None:
    """Sleep until this host's clock has passed ``instant``."""
    while (left := (instant - datetime.now(UTC)).total_seconds()) >= 0:
        time.sleep(left + 0.05)


def raise_parking(http: httpx.Client, stack: Stack, n: int = 0) -> str:
    body = {"category": "parking", "title": f"违停 {n}", "address": "金海社区滨海步道"}
    raised = http.post("/v1/cases", json=body, headers=auth(stack, "secretary"))
    # 202: accepted, the decision not back within the reply timeout (a busy machine)
    assert raised.status_code in (201, 202), raised.text
    return str(raised.json()["case_id"])


async def _events(stack: Stack) -> list[dict[str, Any]]:
    topic = f"{stack.env['WHISTLE_TOPIC_PREFIX']}.case-events"
    return await read_topic(stack.env["WHISTLE_KAFKA_BOOTSTRAP"], topic)


def routed(stack: Stack, case_ids: set[str], timeout_s: float = 120.0) -> dict[str, Any]:
    """case id → its CaseRouted event (with the WhistleRaised instant), once all are routed."""
    deadline = time.monotonic() + timeout_s
    while True:
        events = asyncio.run(_events(stack))
        raised = {e["case_id"]: e for e in events if e["type"] == "WhistleRaised"}
        found = {
            e["case_id"]: {**e, "raised_at": raised[e["case_id"]]["occurred_at"]}
            for e in events
            if e["type"] == "CaseRouted" and e["case_id"] in case_ids
        }
        if len(found) == len(case_ids):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(case_ids) - len(found)} cases not routed")
        time.sleep(0.5)


def test_rule_and_budget_changes_through_the_api_are_taken_up_without_a_restart(
    stack: Stack,
) -> None:
    with httpx.Client(base_url=stack.base, timeout=60) as http:
        admin = auth(stack, "admin")
        before = raise_parking(http, stack, 0)
        current = http.get("/v1/config/routing/current", headers=admin).json()
        base = latest(http, stack)
        # the stack's first case: the worker may still be joining its group on a loaded machine
        # (a full CI run once took longer than 120 s here; alone it takes ~1 s)
        old_lead = routed(stack, {before}, timeout_s=300)[before]["lead"]
        assert old_lead != NEW_LEAD
        proposed = routing_with(current["document"], JINHAI, NEW_LEAD, "jinhai.parking.cfg")

        # checked first: an unknown department is refused with the list of findings
        bad = routing_with(current["document"], JINHAI, "no_such_department", "bad.rule")
        checked = http.post("/v1/config/routing/validate", json={"document": bad}, headers=admin)
        assert checked.status_code == 200 and not checked.json()["valid"]
        assert {f["code"] for f in checked.json()["findings"]} == {"unknown_department", "no_owner"}
        refused = http.post(
            "/v1/config/routing/publish",
            json={"document": bad, "reason": "坏规则", "expected_version": base},
            headers=admin | {"Accept-Language": "en"},
        )
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert any(
            "no department no_such_department" in e["message"] for e in refused.json()["errors"]
        )

        # the dry run shows who changes owner
        dry = http.post("/v1/config/routing/diff", json={"document": proposed}, headers=admin)
        assert dry.status_code == 200, dry.text
        changes = dry.json()["changes"]["owner_changes"]
        assert {(c["category"], c["community"]) for c in changes} == {("parking", JINHAI)}
        assert changes[0]["before"]["lead"] == old_lead and changes[0]["after"]["lead"] == NEW_LEAD
        assert dry.json()["kinds"] == ["routing"]

        # backdating and a stale expected version are refused
        past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        body = {"document": proposed, "reason": "金海违停改由民政", "expected_version": base}
        early = http.post(
            "/v1/config/routing/publish", json=body | {"effective_from": past}, headers=admin
        )
        assert early.status_code == 422 and "不可追溯" in early.json()["detail"], early.text
        stale = http.post(
            "/v1/config/routing/publish",
            json=body | {"expected_version": base - 1 or 99},
            headers=admin,
        )
        assert stale.status_code == 409, stale.text

        published = http.post("/v1/config/routing/publish", json=body, headers=admin)
        assert published.status_code == 201, published.text
        rules_v = published.json()
        assert rules_v["version"] == base + 1 and rules_v["kinds"] == ["routing"]
        assert rules_v["rules_version"] == str(base + 1)

        # an SLA budget: the standard policy's acknowledgement of a general case, 2 h → 3 h
        policies = http.get("/v1/config/policies/current", headers=admin).json()["document"]
        old_ack = policies["standard"]["clocks"]["general"]["ack"]["within"]
        policies["standard"]["clocks"]["general"]["ack"]["within"] = "PT3H"
        dry = http.post("/v1/config/policies/diff", json={"document": policies}, headers=admin)
        budgets = dry.json()["changes"]["budget_changes"]
        assert [(b["policy"], b["urgency"], b["clock"]) for b in budgets] == [
            ("standard", "general", "ack")
        ]
        assert budgets[0]["after"] == "3h calendar"
        body = {"document": policies, "reason": "签收放宽", "expected_version": base + 1}
        published = http.post("/v1/config/policies/publish", json=body, headers=admin)
        assert published.status_code == 201, published.text
        policy_v = published.json()
        assert policy_v["policy_version"] == str(base + 2)
        assert old_ack == "PT2H"

        wait_until(datetime.fromisoformat(policy_v["effective_from"]))
        after = raise_parking(http, stack, 1)
        cases = routed(stack, {before, after})
        assert cases[after]["lead"] == NEW_LEAD
        assert cases[after]["rules_version"] == str(base + 1)
        assert cases[after]["policy_version"] == str(base + 2)
        ack = next(c for c in cases[after]["clocks"] if c["kind"] == "ack")
        assert ack["budget"] == "PT3H"
        # routed before: its versions, its department, its budget
        assert cases[before]["lead"] == old_lead
        assert cases[before]["rules_version"] == "2025.12.1"
        assert cases[before]["policy_version"] == "1"
        old = next(c for c in cases[before]["clocks"] if c["kind"] == "ack")
        first = http.get("/v1/config/policies/versions/1", headers=admin)
        by_policy = first.json()["document"][cases[before]["policy"]]
        assert old["budget"] == by_policy["clocks"]["general"]["ack"]["within"] != "PT3H"

        listed = http.get("/v1/config/routing/versions", headers=admin).json()
        assert [v["version"] for v in listed] == [base + 1, 1]
        shown = http.get(f"/v1/config/routing/versions/{base + 1}", headers=admin).json()
        assert (
            shown["version"]["author"] == "root"
            and shown["version"]["reason"] == "金海违停改由民政"
        )
        # each publish is in the audit log, with its diff
        audit = http.get("/v1/audit", params={"kind": "config.published"}, headers=admin)
        assert audit.status_code == 200, audit.text
        entries = {e["subject"]: e for e in audit.json()["items"]}
        rule_entry = entries[f"config v{base + 1}"]
        assert rule_entry["actor"] == "root" and rule_entry["note"] == "金海违停改由民政"
        owners = rule_entry["after"]["diff"]["owner_changes"]
        assert [(o["category"], o["community"]) for o in owners] == [("parking", JINHAI)]
        assert entries[f"config v{base + 2}"]["after"]["kinds"] == ["policies"]


def test_every_case_uses_the_version_in_force_at_its_instant_across_workers(
    stack: Stack,
) -> None:
    stop = threading.Event()
    raised: list[str] = []
    errors: list[str] = []

    def traffic(n: int) -> None:
        with httpx.Client(base_url=stack.base, timeout=60) as http:
            i = 0
            while not stop.is_set():
                try:
                    raised.append(raise_parking(http, stack, n * 100_000 + i))
                except AssertionError as exc:
                    errors.append(str(exc))
                i += 1

    with httpx.Client(base_url=stack.base, timeout=60) as http:
        admin = auth(stack, "admin")
        current = http.get("/v1/config/routing/current", headers=admin).json()["document"]
        rules = RoutingDocument.model_validate(current)
        lead = "transport" if rules.fallback.lead != "transport" else "urban_management"
        threads = [threading.Thread(target=traffic, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        try:
            while len(raised) < 60:
                time.sleep(0.05)
            effective = datetime.now(UTC) + timedelta(seconds=4)
            body = {
                "document": routing_with(current, JINHAI, lead, "jinhai.parking.load"),
                "reason": "负载下切换",
                "expected_version": latest(http, stack),
                "effective_from": effective.isoformat(),
            }
            published = http.post("/v1/config/routing/publish", json=body, headers=admin)
            assert published.status_code == 201, published.text
            wait_until(effective + timedelta(seconds=3))
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert not errors, errors[:3]
        versions = http.get("/v1/config/versions", headers=admin).json()
        documents = {
            v["version"]: http.get(
                f"/v1/config/routing/versions/{v['version']}", headers=admin
            ).json()["document"]
            for v in versions
        }

    def in_force(at: datetime) -> dict[str, Any]:
        return max(
            (v for v in versions if datetime.fromisoformat(v["effective_from"]) <= at),
            key=lambda v: v["version"],
        )

    cases = routed(stack, set(raised))
    sides = {"before": 0, "after": 0}
    for case_id, event in cases.items():
        at = datetime.fromisoformat(event["occurred_at"])
        assert at == datetime.fromisoformat(event["raised_at"])  # routed at the raise's instant
        version = in_force(at)
        doc = documents[version["version"]]
        expected = RoutingRules(version=version["rules_version"], **doc).match("parking", JINHAI)
        assert (event["rules_version"], event["lead"], event["rule_id"]) == (
            version["rules_version"],
            expected.lead,
            expected.id,
        ), (case_id, at, version["version"])
        sides["after" if at >= effective else "before"] += 1
    assert sides["before"] > 0 and sides["after"] > 0, sides
    routed_by = []
    for port in stack.env["TEST_WORKER_PORTS"].split(","):
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        line = next(
            x for x in metrics.splitlines() if x.startswith("whistle_router_commands_total")
        )
        routed_by.append(float(line.split()[-1]))
    assert sum(1 for n in routed_by if n > 0) >= 2, routed_by  # several workers decided


def test_the_2027_calendar_through_the_console(stack: Stack, tmp_path: Path) -> None:
    env = {
        **stack.env,
        "WHISTLE_API_URL": stack.base,
        "WHISTLE_TOKEN": stack.tokens["admin"],
        "LANG": "zh_CN.UTF-8",  # Chinese unless --lang en (LANG=en… would choose English)
        "WHISTLE_LANG": "",
    }
    notice = {
        "year": 2027,
        "source": "国务院办公厅关于2027年部分节假日安排的通知（测试）",
        "holidays": [
            {"name": "元旦", "dates": ["2027-01-01", "2027-01-02", "2027-01-03"]},
            {"name": "劳动节", "dates": ["2027-05-01", "2027-05-03"], "workdays": ["2027-04-25"]},
        ],
    }
    good = tmp_path / "cn-2027.json"
    good.write_text(json.dumps(notice, ensure_ascii=False), encoding="utf-8")
    wrong = tmp_path / "cn-2027-wrong.json"
    broken = {**notice, "holidays": [{"name": "劳动节", "dates": ["2027-05-01"],
                                      "workdays": ["2027-04-28"]}]}  # fmt: skip
    wrong.write_text(json.dumps(broken, ensure_ascii=False), encoding="utf-8")
    from tests.stack import run_cli

    checked = run_cli(env, "config", "import", "calendars", str(wrong))
    assert checked.returncode == 2, checked.stderr  # refused, one line, in Chinese
    assert len(checked.stderr.strip().splitlines()) == 1
    assert "调休上班日 2027-04-28 是周三，不是周末" in checked.stderr
    english = run_cli(env, "config", "import", "calendars", str(wrong), "--lang", "en")
    assert "make-up workday 2027-04-28 is a Wednesday" in english.stderr
    # a proposal the service finds wrong (a rule naming no department) exits 5 with findings
    rules = tmp_path / "rules.json"
    routing = json.loads(run_cli(env, "config", "export", "routing").stdout)
    routing["fallback"]["lead"] = "nobody"
    rules.write_text(json.dumps(routing), encoding="utf-8")
    findings = run_cli(env, "config", "import", "routing", str(rules))
    assert findings.returncode == 5 and "部门 nobody 不存在" in findings.stdout, findings.stdout

    diff = run_cli(env, "config", "diff", "calendars", str(good))
    assert diff.returncode == 0, diff.stderr
    assert "新增节假日 2027-01-01" in diff.stdout and "新增调休上班日 2027-04-25" in diff.stdout

    with httpx.Client(base_url=stack.base, timeout=60) as http:
        before = http.get("/v1/calendar/status", headers=auth(stack, "admin")).json()
    assert 2027 not in before["years"], before
    published = run_cli(
        env, "config", "publish", "calendars", str(good), "--reason", "2027 年节假日安排"
    )
    assert published.returncode == 0, published.stderr
    assert "已发布版本" in published.stdout

    versions = run_cli(env, "config", "versions", "--kind", "calendars")
    assert "2027 年节假日安排" in versions.stdout and "calendars" in versions.stdout
    listed = json.loads(run_cli(env, "config", "versions", "--json").stdout)
    number, effective = listed[0]["version"], datetime.fromisoformat(listed[0]["effective_from"])
    exported = run_cli(env, "config", "export", "calendars", "--version", str(number))
    assert 2027 in {y["year"] for y in json.loads(exported.stdout)}
    wait_until(effective)
    current = run_cli(env, "config", "export", "calendars")  # in force now
    assert json.loads(current.stdout) == json.loads(exported.stdout)
    # The API's calendar watch (readyz, the dashboard's banner, the gauge) takes the year up
    # from the version in force, within its 10 s recount.
    with httpx.Client(base_url=stack.base, timeout=60) as http:
        deadline = time.monotonic() + 30
        while True:
            status = http.get("/v1/calendar/status", headers=auth(stack, "admin")).json()
            if 2027 in status["years"] or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert 2027 in status["years"], status

    missing = run_cli(env, "config", "diff", "calendars", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    assert missing.stderr.startswith("错误: 无法读取文件")
    again = run_cli(
        env,
        "config",
        "publish",
        "calendars",
        str(good),
        "--reason",
        "再来",
        "--expected-version",
        "1",
    )
    assert again.returncode == 5 and "最新版本" in again.stderr, again.stderr


def test_district_scope(stack: Stack) -> None:
    with httpx.Client(base_url=stack.base, timeout=60) as http:
        mine = auth(stack, "config_admin")
        current = http.get("/v1/config/routing/current", headers=mine).json()["document"]
        base = latest(http, stack)
        outside = routing_with(current, HAICANG_COMMUNITY, "transport", "haicang.parking.cfg")
        dry = http.post("/v1/config/routing/diff", json={"document": outside}, headers=mine)
        assert dry.json()["outside_scope"] == ["rule haicang.parking.cfg"]
        body = {"document": outside, "reason": "越权", "expected_version": base}
        refused = http.post("/v1/config/routing/publish", json=body, headers=mine)
        assert refused.status_code == 403 and "haicang" in refused.json()["detail"], refused.text
        admin_may = http.post("/v1/config/routing/diff", json={"document": outside},
                              headers=auth(stack, "admin"))  # fmt: skip
        assert admin_may.json()["outside_scope"] == []
        policies = http.get("/v1/config/policies/current", headers=mine).json()["document"]
        policies["standard"]["description"] = "改"
        body = {"document": policies, "reason": "越权", "expected_version": base}
        refused = http.post("/v1/config/policies/publish", json=body, headers=mine)
        assert refused.status_code == 403, refused.text
        # cases: it reads its district's like a supervisor, and acts on none
        assert http.get("/v1/cases", headers=mine).status_code == 200
        whistle = {"category": "noise", "title": "噪音", "address": "金海", "community": JINHAI}
        assert http.post("/v1/cases", json=whistle, headers=mine).status_code == 403


def test_the_matrix(stack: Stack) -> None:
    with httpx.Client(base_url=stack.base, timeout=60) as http:
        for (method, path), expected in MATRIX.items():
            for who, status in expected.items():
                url = path.replace("{kind}", "routing").replace("{version}", "1")
                body = None
                if method == "POST":
                    current = http.get("/v1/config/routing/current", headers=auth(stack, "admin"))
                    document = current.json()["document"]
                    if path.endswith("publish"):
                        n = len(document["rules"])
                        document = routing_with(document, YUNXI, "transport", f"yunxi.{who}.{n}")
                    body = {"document": document}
                    if path.endswith("publish"):
                        body |= {"reason": "matrix", "expected_version": latest(http, stack)}
                got = http.request(method, url, json=body, headers=auth(stack, who))
                assert got.status_code == status, (method, path, who, got.text)


def test_the_projector_keeps_the_read_model_of_versions(stack: Stack) -> None:
    """Emptied (as a rebuild's schema swap leaves it), the table is filled again by the
    projector's follower without any API call."""
    import asyncpg

    dsn = stack.env["WHISTLE_DATABASE_URL"]

    async def rows(delete: bool = False) -> list[int]:
        conn = await asyncpg.connect(dsn)
        try:
            if delete:
                await conn.execute("DELETE FROM projection.config_versions")
            found = await conn.fetch("SELECT version FROM projection.config_versions")
            return sorted(r["version"] for r in found)
        finally:
            await conn.close()

    with httpx.Client(base_url=stack.base, timeout=60) as http:
        last = latest(http, stack)
    assert asyncio.run(rows(delete=True)) == []
    deadline = time.monotonic() + 60
    while asyncio.run(rows()) != list(range(1, last + 1)):
        assert time.monotonic() < deadline, asyncio.run(rows())
        time.sleep(0.5)


def test_a_new_community_published_by_the_district_is_taken_up_by_the_decider(
    stack: Stack,
) -> None:
    code = "tongan.datong.cfgtest"
    body = {"community": code, "category": "noise", "title": "夜间施工", "address": "新社区"}
    with httpx.Client(base_url=stack.base, timeout=60) as http:
        admin = auth(stack, "admin")
        early = http.post("/v1/cases", json=body, headers=admin)
        assert early.status_code == 422 and early.json()["code"] == "unknown_area", early.text
        areas = http.get("/v1/config/areas/current", headers=admin).json()["document"]
        areas[code] = {
            "code": code,
            "kind": "community",
            "name_zh": "配置测试社区",
            "name_en": "Config Test Community",
            "parent": "tongan.datong",
        }
        proposal = {
            "document": areas,
            "reason": "新设社区",
            "expected_version": latest(http, stack),
        }
        published = http.post(
            "/v1/config/areas/publish", json=proposal, headers=auth(stack, "config_admin")
        )
        assert published.status_code == 201, published.text
        assert published.json()["kinds"] == ["areas"] and published.json()["author"] == "cfg-tongan"
        wait_until(datetime.fromisoformat(published.json()["effective_from"]))
        later = http.post("/v1/cases", json=body, headers=admin)
        assert later.status_code == 201, later.text
        # its secretary can be made now, and raises there
        made = stack.cli("users", "add", "sec-cfgtest", "--role", "secretary", "--area", code)
        assert made.returncode == 0, made.stderr
        own = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}
        mine = http.post(
            "/v1/cases", json={k: v for k, v in body.items() if k != "community"}, headers=own
        )
        assert mine.status_code == 201, mine.text
        assert mine.json()["events"][0]["community"] == code
        names = http.get("/v1/names").json()["areas"]
        assert names[code]["zh"] == "配置测试社区"
        case_ids = {later.json()["case_id"], mine.json()["case_id"]}
    for event in routed(stack, case_ids).values():
        assert event["lead"]  # routed by the rules in force (the district's or the fallback)


def test_two_admins_publishing_at_once_get_one_version_and_one_conflict(stack: Stack) -> None:
    """Two API processes, the same expected version: one 201, one 409, no gap, no twin."""
    with httpx.Client(base_url=stack.base, timeout=60) as http:
        admin = auth(stack, "admin")
        current = http.get("/v1/config/routing/current", headers=admin).json()["document"]
        base = latest(http, stack)
    answers: list[httpx.Response] = []

    def publish(lead: str, base_url: str) -> None:
        body = {
            "document": routing_with(current, YUNXI, lead, f"yunxi.race.{lead}"),
            "reason": f"并发 {lead}",
            "expected_version": base,
        }
        with httpx.Client(base_url=base_url, timeout=60) as own:
            answers.append(own.post("/v1/config/routing/publish", json=body, headers=admin))

    apis = (stack.base, stack.env["TEST_SECOND_API"])  # one admin on each API process
    threads = [
        threading.Thread(target=publish, args=(lead, url))
        for lead, url in zip(("transport", "water"), apis, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    with httpx.Client(base_url=stack.base, timeout=60) as http:
        versions = [v["version"] for v in http.get("/v1/config/versions", headers=admin).json()]
    assert versions == list(range(base + 1, 0, -1))  # numbered without gaps
    winner = next(a for a in answers if a.status_code == 201).json()
    with httpx.Client(base_url=stack.env["TEST_SECOND_API"], timeout=60) as other:
        shown = other.get(f"/v1/config/routing/versions/{base + 1}", headers=admin)
    assert shown.status_code == 200 and shown.json()["version"] == winner  # both APIs agree

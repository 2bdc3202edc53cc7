"""Nobody answers a whistle raised over HTTP: its ack deadline is breached and escalated on
schedule, visible in the case's timeline, on the supervisors' breach board and in /metrics."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import unique_name
from tests.e2e.test_walking_skeleton import wait_for, whistle_cli
from tests.service_fixtures import isolated_env, settings_of, supervised
from tests.short_sla_policies import ACK_WITHIN_S, SUPERVISION_AFTER_S, write_short_sla_policies

pytestmark = pytest.mark.e2e


def test_an_unanswered_whistle_is_breached_and_escalated_on_schedule(
    kafka_bootstrap: str, fresh_database: str, tmp_path: Path
) -> None:
    env = isolated_env(tmp_path, kafka_bootstrap, fresh_database, unique_name("breach"))
    env["WHISTLE_SLA_POLICIES_FILE"] = str(write_short_sla_policies(tmp_path))
    settings = settings_of(env)
    whistle_cli(env, "db", "migrate")
    tokens = {
        who: whistle_cli(env, "users", "add", who, *scope).strip().splitlines()[-1]
        for who, scope in {
            "sec": ("--role", "secretary", "--area", "tongan.datong.jinhai"),
            "sup": ("--role", "supervisor", "--area", "tongan"),
        }.items()
    }
    api = f"http://127.0.0.1:{settings.http_port}"
    with supervised(tmp_path, env) as supervisor:
        for name in ("worker", "projector", "api"):
            supervisor.start(name, name)
        supervisor.wait_ready(f"{api}/readyz", timeout_s=120)
        posted = httpx.post(
            f"{api}/v1/cases",
            json={"category": "parking", "title": "消防通道被占", "address": "金海社区"},
            headers={"Authorization": f"Bearer {tokens['sec']}"},
            timeout=30,
        )
        assert posted.status_code == 201, posted.text
        case_id = posted.json()["case_id"]
        raised = time.time()
        wait_for(f"{api}/v1/cases/{case_id}", tokens["sec"], "lead_department")
        timeline = wait_for_events(api, tokens["sup"], case_id, {"ClockBreached", "CaseEscalated"})
        board = httpx.get(
            f"{api}/v1/breaches", headers={"Authorization": f"Bearer {tokens['sup']}"}
        ).json()
        metrics = httpx.get(f"http://127.0.0.1:{settings.worker_web_port}/metrics").text
    breaches = [e for e in timeline if e["type"] == "ClockBreached"]
    escalations = [e for e in timeline if e["type"] == "CaseEscalated"]
    assert {e["body"]["kind"] for e in breaches} == {"ack"}
    assert {e["body"]["step"] for e in escalations} >= {"reminder", "supervision"}
    for breach in breaches:
        due = _epoch(str(breach["body"]["due_at"]))
        assert breach["occurred_at"] >= due, "breached before its due time"
        assert due <= raised + ACK_WITHIN_S, "due later than the policy allows"
    assert case_id in str(board)
    assert "whistle_deadline_lateness_seconds_count" in metrics


def wait_for_events(
    api: str, token: str, case_id: str, kinds: set[str], timeout_s: float = 60.0
) -> list[dict[str, object]]:
    """The case's timeline once it holds every kind in ``kinds`` and the supervision rung."""
    deadline = time.monotonic() + timeout_s + ACK_WITHIN_S + SUPERVISION_AFTER_S
    events: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        response = httpx.get(
            f"{api}/v1/cases/{case_id}/timeline", headers={"Authorization": f"Bearer {token}"}
        )
        if response.status_code == 200:
            events = response.json()["events"]
            steps = {e["body"].get("step") for e in events if e["type"] == "CaseEscalated"}
            if kinds <= {e["type"] for e in events} and "supervision" in steps:
                for event in events:
                    event["occurred_at"] = _epoch(str(event["occurred_at"]))
                return events
        time.sleep(0.5)
    raise AssertionError(f"timeline never showed {kinds}: {[e['type'] for e in events]}")


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()

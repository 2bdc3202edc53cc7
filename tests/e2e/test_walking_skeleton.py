"""End to end on the real services: POST a whistle, the worker routes it, GET shows it routed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import unique_name
from tests.service_fixtures import isolated_env, settings_of, supervised
from whistle.domain import load_rules

pytestmark = pytest.mark.e2e


def whistle_cli(env: dict[str, str], *args: str) -> str:
    """Run ``whistle ARGS`` with ``env``; return its output (fails the test on error)."""
    done = subprocess.run(
        [sys.executable, "-m", "whistle.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def wait_for(url: str, token: str, ready: str, timeout_s: float = 60.0) -> dict[str, object]:
    """GET ``url`` until the JSON body has a truthy ``ready`` field."""
    deadline = time.monotonic() + timeout_s
    body: dict[str, object] = {}
    while time.monotonic() < deadline:
        response = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
        if response.status_code == 200:
            body = response.json()
            if body.get(ready):
                return body
        time.sleep(0.3)
    raise AssertionError(f"{url} never showed {ready!r}; last body: {body}")


def test_a_whistle_posted_over_http_comes_back_routed(
    kafka_bootstrap: str, fresh_database: str, tmp_path: Path
) -> None:
    env = isolated_env(tmp_path, kafka_bootstrap, fresh_database, unique_name("e2e"))
    settings = settings_of(env)
    whistle_cli(env, "db", "migrate")
    out = whistle_cli(
        env, "users", "add", "sec-jinhai", "--role", "secretary", "--area", "tongan.datong.jinhai"
    )
    token = out.strip().splitlines()[-1]
    api = f"http://127.0.0.1:{settings.http_port}"
    with supervised(tmp_path, env) as supervisor:
        for name in ("worker", "projector", "api"):
            supervisor.start(name, name)
        supervisor.wait_ready(f"{api}/readyz", timeout_s=120)
        posted = httpx.post(
            f"{api}/v1/cases",
            json={"category": "noise", "title": "广场舞噪音扰民", "address": "金海社区广场"},
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "e2e-1"},
            timeout=30,
        )
        assert posted.status_code == 201, posted.text
        case_id = posted.json()["case_id"]
        case = wait_for(f"{api}/v1/cases/{case_id}", token, "lead_department")
    expected = load_rules().match("noise", "tongan.datong.jinhai")
    assert case["status"] == "routed"
    assert case["lead_department"] == expected.lead
    assert case["community"] == "tongan.datong.jinhai"

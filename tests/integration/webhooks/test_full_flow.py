"""The whole service: a whistle raised over HTTP reaches the lead department's receiver as a
signed CloudEvent, and its liaison signs for it from the console."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import unique_name
from tests.integration.webhooks.receiver import running_receiver
from tests.service_fixtures import isolated_env, settings_of, supervised
from whistle.domain import load_rules
from whistle.webhooks.signing import verify

pytestmark = pytest.mark.e2e

COMMUNITY = "tongan.datong.jinhai"


async def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``whistle ARGS`` in a thread (the receiver keeps serving meanwhile)."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "whistle.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def token_of(env: dict[str, str], *args: str) -> str:
    """Create a user; return the token printed once."""
    done = await cli(env, "users", "add", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


async def test_the_lead_department_receives_a_signed_cloudevent_and_signs_for_the_case(
    kafka_bootstrap: str, fresh_database: str, tmp_path: Path
) -> None:
    env = isolated_env(tmp_path, kafka_bootstrap, fresh_database, unique_name("flow"))
    api = f"http://127.0.0.1:{settings_of(env).http_port}"
    lead = load_rules().match("parking", COMMUNITY).lead
    assert (await cli(env, "db", "migrate")).returncode == 0
    secretary = await token_of(env, "sec-jinhai", "--role", "secretary", "--area", COMMUNITY)
    liaison = await token_of(env, "li-lead", "--role", "liaison", "--department", lead)
    async with running_receiver() as receiver:
        added = await cli(
            env, "webhooks", "add", "--department", lead, "--url", receiver.url + "/hook"
        )
        assert added.returncode == 0, added.stderr
        secret = next(w for w in added.stdout.split() if w.startswith("whsec_"))
        with supervised(tmp_path, env) as supervisor:
            for name, command in {
                "worker": ("worker",),
                "projector": ("projector",),
                "api": ("api",),
                "webhooks": ("webhooks", "deliver"),
            }.items():
                supervisor.start(name, *command)
            await asyncio.to_thread(supervisor.wait_ready, f"{api}/readyz", 180)
            async with httpx.AsyncClient(base_url=api, timeout=30) as http:
                posted = await http.post(
                    "/v1/cases",
                    json={"category": "parking", "title": "滨海步道违停", "address": "金海社区"},
                    headers={"Authorization": f"Bearer {secretary}", "Idempotency-Key": "flow-1"},
                )
            assert posted.status_code in (201, 202), posted.text
            case_id = posted.json()["case_id"]
            [delivery] = await receiver.wait_for("/hook", 1, timeout_s=90)
            verify(secret, delivery.headers, delivery.body)
            cloudevent = json.loads(delivery.body)
            assert cloudevent["data"]["type"] == "CaseRouted"
            assert cloudevent["caseid"] == case_id and cloudevent["department"] == lead
            console_env = {**env, "WHISTLE_API_URL": api, "WHISTLE_TOKEN": liaison}
            for _ in range(60):  # the liaison's inbox follows the projection
                inbox = await cli(console_env, "inbox")
                if case_id in inbox.stdout:
                    break
                await asyncio.sleep(1)
            assert case_id in inbox.stdout, inbox.stderr
            ack = await cli(console_env, "ack", cloudevent["caseid"])
            assert (ack.returncode, ack.stdout.strip()) == (0, f"已签收 {case_id}"), ack.stderr
            deliveries = await receiver.wait_for("/hook", 2, timeout_s=60)
    acknowledged = json.loads(deliveries[1].body)
    assert acknowledged["data"]["type"] == "DepartmentAcknowledged"
    verify(secret, deliveries[1].headers, deliveries[1].body)

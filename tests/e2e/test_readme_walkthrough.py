"""The README's walk-through, run as written: its shell blocks, in order, in one bash session,
against ``whistle run --demo`` (own topics, database and state folder; clocks of seconds).

A new user types the blocks into a second terminal while the demo runs; this test does the
same with three substitutions a shared CI machine needs: the receiver's port is a free one,
``whistle watch`` prints the board once instead of forever, and the waits a person does by
reading (until the sign-for deadline passes, until the callback is projected) are loops.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import unique_name
from tests.e2e.test_walking_skeleton import whistle_cli
from tests.service_fixtures import free_port, isolated_env
from tests.short_sla_policies import write_short_sla_policies
from whistle.settings import REPO_ROOT

pytestmark = pytest.mark.e2e

ACK_WITHIN_S = 20
"""The demo's sign-for budget in this test (2 minutes in the real demo)."""

WAIT_FOR_BREACH = (
    'for _ in $(seq 240); do curl -s $API/v1/breaches -H "Authorization: Bearer $SUPERVISOR"'
    ' | grep -q "$CASE\\",\\"clock\\":\\"ack\\",\\"department\\":\\"public_security"'
    " && break; sleep 0.5; done"
)
WAIT_FOR_CALLBACK = (
    'for _ in $(seq 120); do curl -s "$API/v1/cases/$CASE" -H "Authorization: Bearer'
    ' $SECRETARY" | grep -q \'"callback_count":1\' && break; sleep 0.5; done'
)


def walkthrough_blocks(readme: str) -> list[str]:
    """The ``sh`` blocks of the README's "Walk-through" section, in order."""
    section = readme.split("\n## Walk-through\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


def script_of(blocks: list[str], receiver_port: int) -> str:
    """One bash script: every block, a marker line before each, the waits between them."""
    lines = ["set -eo pipefail"]
    for number, block in enumerate(blocks):
        body = block.replace("--port 9000", f"--port {receiver_port}")
        body = body.replace("127.0.0.1:9000", f"127.0.0.1:{receiver_port}")
        body = body.replace("whistle watch", "whistle watch --once --no-color")
        if "whistle watch" in body:
            lines.append(WAIT_FOR_BREACH)
        if "/v1/metrics" in body:
            lines.append(WAIT_FOR_CALLBACK)
        lines.append(f"printf '\\n@@ step {number}\\n'")
        for line in body.splitlines():
            lines.append(line)
            if re.search(r"&\s*$", line):  # a background job: keep its pid to stop it later
                lines.append("echo $! >> background.pids")
    lines.append("printf '\\n@@ done\\n'")
    return "\n".join(lines) + "\n"


def steps_of(output: str) -> dict[int, str]:
    """The output of each block, by its number."""
    parts = re.split(r"^@@ step (\d+)\n", output, flags=re.M)
    return {int(parts[i]): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def start_demo(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``whistle run --demo`` (after ``db migrate``, as ``make run`` does); ready when it
    prints its summary."""
    whistle_cli(env, "db", "migrate")
    demo = subprocess.Popen(
        [sys.executable, "-m", "whistle.cli", "run", "--demo"],
        env={**os.environ, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    while "Whistle is running with demo data" not in log.read_text(errors="replace"):
        assert demo.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline, log.read_text(errors="replace")
        time.sleep(0.5)
    return demo


def test_the_readme_walkthrough_works_as_written(
    kafka_bootstrap: str, fresh_database: str, tmp_path: Path
) -> None:
    env = isolated_env(tmp_path, kafka_bootstrap, fresh_database, unique_name("walk"))
    env["WHISTLE_STATE_DIR"] = str(tmp_path / "var")  # the blocks say var/…
    env["WHISTLE_SLA_POLICIES_FILE"] = str(write_short_sla_policies(tmp_path, ACK_WITHIN_S))
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    blocks = walkthrough_blocks((REPO_ROOT / "README.md").read_text(encoding="utf-8"))
    script = script_of(blocks, free_port())
    demo = start_demo(env, tmp_path / "demo.log")
    try:
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=240 + ACK_WITHIN_S,
            check=False,
        )
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        demo.wait(timeout=60)
        _stop_background(tmp_path / "background.pids")
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{shlex.quote(script)}"
    out = steps_of(done.stdout)
    case_id = out[2].strip()
    assert re.fullmatch(r"WH-\d{8}-[0-9A-Z]{10}", case_id), out
    assert '"service_request_id":"WH-' in out[3]
    assert "verified whistle.case.routed.v1" in out[4] and "department=urban_management" in out[4]
    assert case_id in out[5] and f"已签收 {case_id}" in out[5]
    board = out[6]
    assert case_id in board and "公安" in board
    assert "/dashboard#token=wh_" in out[7]
    joint = out[8]
    assert f"已安排集结 ja-1 {case_id}" in joint and f"已报到 ja-1 {case_id}\n" in joint
    assert f"已报到 ja-1 {case_id}：参加集结的部门已到齐" in joint
    assert f"已办结 {case_id}" in joint and '"CallbackRecorded"' in joint
    assert "地址  金海社区滨海浪漫线" in out[9] and "已到齐" in out[9], out[9]
    assert "'callbacks': 1," in out[9] and "'satisfied': 1," in out[9], out[9]
    assert "'average_score': 5.0," in out[9], out[9]
    receiver_log = (tmp_path / "var" / "receiver.log").read_text()
    assert f"verified whistle.case.acknowledged.v1 case={case_id}" in receiver_log
    assert "REJECTED" not in receiver_log


def _stop_background(pids: Path) -> None:
    """Stop the walk-through's background jobs (the receiver) by the pids it recorded."""
    for pid in pids.read_text().split() if pids.exists() else ():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGTERM)

"""A stream worker that cannot reach Kafka for its whole start deadline gives up in one line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.service_fixtures import free_port, isolated_env
from whistle.settings import REPO_ROOT

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("lang", "words"), [("zh", "秒内 Kafka"), ("en", "did not become usable")])
def test_after_the_deadline_the_worker_exits_with_one_line(
    tmp_path: Path, lang: str, words: str
) -> None:
    nobody = f"127.0.0.1:{free_port()}"  # nothing listens there
    env = isolated_env(tmp_path, nobody, "postgresql://unused@127.0.0.1:9/x", "giveup")
    env |= {"WHISTLE_WORKER_START_DEADLINE_S": "4", "WHISTLE_LANG": lang}
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "whistle.cli", "worker"],
        env={**os.environ, **env},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    took = time.monotonic() - began
    assert done.returncode == 1, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("whistle worker: ") and words in last and nobody in last, last
    assert "WHISTLE_WORKER_START_DEADLINE_S" in last
    assert 4 <= took < 60, took

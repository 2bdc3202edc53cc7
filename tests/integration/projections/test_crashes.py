"""Crashes: a projector SIGKILLed mid-batch resumes with no gap and no duplicate; a PostgreSQL
restart mid-stream is survived without help."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from projections.projector import Projector, ProjectorConfig
from projections.rebuild import check
from tests.integration.projections.helpers import (
    create_topic,
    produce,
    projected_offsets,
    wait_projected,
)
from tests.integration.projections.test_rebuild import stories
from tests.service_fixtures import restartable_port
from whistle.dev.postgres import ensure_installed
from whistle.domain import Event
from whistle.settings import REPO_ROOT

pytestmark = pytest.mark.integration


async def assert_no_gap_no_duplicate(dsn: str, events: list[Event]) -> None:
    """Every produced (case, seq) is in the timeline exactly once, and cases are complete."""
    expected = {(e.case_id, e.seq) for e in events}
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT case_id, seq FROM projection.case_events")
        got = [(r["case_id"], r["seq"]) for r in rows]
        assert len(got) == len(set(got)), "duplicate timeline rows"
        assert set(got) == expected
        bad = await conn.fetch(
            "SELECT c.case_id FROM projection.cases c"
            " JOIN (SELECT case_id, max(seq) AS top, count(*) AS n FROM projection.case_events"
            "       GROUP BY case_id) e USING (case_id)"
            " WHERE c.applied_seq <> e.top OR e.n <> e.top"
        )
        assert bad == []
    finally:
        await conn.close()


def start_projector(dsn: str, bootstrap: str, topic: str, log: Path) -> subprocess.Popen[bytes]:
    """``whistle projector`` as a child process, logging to ``log``."""
    command = [
        sys.executable,
        "-m",
        "whistle.cli",
        "projector",
        "--dsn",
        dsn,
        "--bootstrap",
        bootstrap,
        "--topic",
        topic,
        "--batch-size",
        "150",
    ]
    with log.open("ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=out, cwd=REPO_ROOT)


async def test_projector_killed_mid_batch_resumes_without_gap_or_duplicate(
    kafka_bootstrap: str, fresh_database: str, unique_name: Callable[[str], str], tmp_path: Path
) -> None:
    topic = unique_name("proj-kill")
    await create_topic(kafka_bootstrap, topic, partitions=4)
    events = stories(1200, seed=11)
    sent = await produce(kafka_bootstrap, topic, events, duplicate_every=17)
    log = tmp_path / "projector.log"
    rng = random.Random(5)
    kills = 0
    for _ in range(4):
        child = start_projector(fresh_database, kafka_bootstrap, topic, log)
        try:
            before = max(await projected_offsets(fresh_database, topic), 0)
            target = before + rng.randint(500, 2500)
            for _ in range(600):
                if await projected_offsets(fresh_database, topic) >= min(target, sent - 1):
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(rng.random() * 0.2)  # somewhere inside the next batches
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
                kills += 1
        finally:
            child.wait(10)
        if await projected_offsets(fresh_database, topic) >= sent:
            break
    assert kills >= 1
    started = log.read_text().count("projector_started")
    child = start_projector(fresh_database, kafka_bootstrap, topic, log)
    try:
        await wait_projected(fresh_database, topic, sent, timeout=120)
        # the earlier children may have projected everything: stop this one only once it runs
        # (a SIGTERM during its imports, before it handles signals, ends it with -15)
        for _ in range(1200):
            if log.read_text().count("projector_started") > started:
                break
            await asyncio.sleep(0.05)
    finally:
        child.send_signal(signal.SIGTERM)
        assert child.wait(30) == 0, log.read_text()[-2000:]
    await assert_no_gap_no_duplicate(fresh_database, events)
    diffs, _ = await check(fresh_database, kafka_bootstrap, topic)
    assert diffs == []


@dataclass
class PrivateCluster:
    """A throwaway PostgreSQL cluster this test may stop and start."""

    bins: Path
    root: Path
    port: int

    @property
    def dsn(self) -> str:
        """DSN of its ``postgres`` database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *args: str) -> None:
        """Run pg_ctl on the cluster as the server's user."""
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        command = [
            str(self.bins / "pg_ctl"),
            "-D",
            str(self.root / "data"),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            *args,
        ]
        subprocess.run(_as_server_user(command), check=True, capture_output=True)


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture
def private_postgres() -> Iterator[PrivateCluster]:
    """A PostgreSQL cluster of its own (restarting the shared one would hurt other tests)."""
    bins = ensure_installed()
    root = Path(tempfile.mkdtemp(prefix="whistle-pg-restart-", dir="/tmp"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    cluster = PrivateCluster(bins, root, restartable_port())
    init = [
        str(bins / "initdb"),
        "-D",
        str(root / "data"),
        "--auth=trust",
        "-U",
        "postgres",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
    ]
    subprocess.run(_as_server_user(init), check=True, capture_output=True)
    cluster.pg_ctl("start")
    try:
        yield cluster
    finally:
        subprocess.run(
            _as_server_user(
                [str(bins / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "stop"]
            ),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


async def test_projector_recovers_by_itself_when_postgres_restarts_mid_stream(
    kafka_bootstrap: str, private_postgres: PrivateCluster, unique_name: Callable[[str], str]
) -> None:
    topic = unique_name("proj-pgrestart")
    await create_topic(kafka_bootstrap, topic, partitions=4)
    first, second = stories(400, seed=21), stories(400, seed=22, prefix="later")
    sent = await produce(kafka_bootstrap, topic, first)
    dsn = private_postgres.dsn
    projector = Projector(
        ProjectorConfig(
            dsn=dsn, bootstrap=kafka_bootstrap, topic=topic, batch_size=100, max_backoff_s=1.0
        )
    )
    task = asyncio.create_task(projector.run())
    try:
        for _ in range(400):
            if await projected_offsets(dsn, topic) > 500:
                break
            await asyncio.sleep(0.05)
        producing = asyncio.create_task(produce(kafka_bootstrap, topic, second))
        await asyncio.to_thread(private_postgres.pg_ctl, "-m", "fast", "stop")
        await asyncio.sleep(2.0)
        await asyncio.to_thread(private_postgres.pg_ctl, "start")
        sent += await producing
        await wait_projected(dsn, topic, sent, timeout=120)
    finally:
        projector.stop()
        await asyncio.wait_for(task, 30)
    assert not task.exception()
    assert projector.retries >= 1  # it did lose the database, and came back by itself
    await assert_no_gap_no_duplicate(dsn, first + second)
    diffs, _ = await check(dsn, kafka_bootstrap, topic)
    assert diffs == []

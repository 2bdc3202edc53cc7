"""A stream worker whose start-up overlaps a broker restart waits and starts again by itself.

A private broker (free ports, temp folder) is kill -9ed and started again at several moments of
a fresh worker's start-up, each found in the worker's log as it happens: just before Faust's
first metadata request, while Faust creates its topics, as the worker first joins its group,
and while its first assignment is set up. After each the same worker process, never restarted
by the test, must route a whistle (RaiseWhistle in, CaseRouted on the events topic).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.conftest import unique_name
from tests.integration.streams.test_decider_roundtrip import raise_command
from tests.service_fixtures import isolated_env, restartable_port, settings_of
from whistle.dev.kafka import KafkaNode, KafkaPaths
from whistle.domain import encode
from whistle.service.process_supervisor import Supervisor
from whistle.settings import Settings
from whistle.topics import CASE_COMMANDS, CASE_EVENTS

pytestmark = pytest.mark.integration

MOMENTS = (
    "worker_starting",  # ours, just before Faust starts: its producer's bootstrap comes next
    "Creating topic",  # Faust creates its leader topic and the tables' changelogs
    "(Re-)joining group",  # the first rebalance
    "Executing _on_partitions_assigned",  # the first assignment: recovery, seeks
)
DOWN_S = 1.0


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[KafkaNode]:
    """A private broker on free ports that the test may kill (the dev jar cache reused)."""
    root = Path(tempfile.mkdtemp(prefix="whistle-startup-", dir="/tmp"))
    jars = KafkaPaths.under(Settings().state_dir).libs
    node = KafkaNode(KafkaPaths(root / "kafka", jars=jars), restartable_port(), restartable_port())
    node.start(timeout=180.0)
    try:
        yield node
    finally:
        node.stop(grace=10.0)
        shutil.rmtree(root, ignore_errors=True)


def wait_for_line(log: Path, text: str, timeout_s: float = 120.0) -> None:
    """Until ``log`` has a line containing ``text`` (polled every 10 ms)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        time.sleep(0.01)
    raise AssertionError(f"the worker never logged {text!r}")


async def routes_a_whistle(bootstrap: str, settings: Settings, case_id: str) -> bool:
    """Raise a whistle; whether its CaseRouted reaches the events topic (bounded wait)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        command = encode(raise_command(case_id))
        await producer.send_and_wait(settings.topic(CASE_COMMANDS.name), command, case_id.encode())
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        settings.topic(CASE_EVENTS.name), bootstrap_servers=bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + 120.0
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    event = json.loads(record.value)
                    if (event["case_id"], event["type"]) == (case_id, "CaseRouted"):
                        return True
        return False
    finally:
        await consumer.stop()


def test_a_broker_restart_during_start_up_is_waited_out(broker: KafkaNode, tmp_path: Path) -> None:
    retries: dict[str, int] = {}
    for n, moment in enumerate(MOMENTS):
        folder = tmp_path / f"start-{n}"
        prefix = unique_name(f"startup{n}")  # a fresh worker: Faust creates its topics
        env = isolated_env(folder, broker.bootstrap, "postgresql://unused@127.0.0.1:9/x", prefix)
        settings = settings_of(env)
        supervisor = Supervisor(settings, folder / "logs", env=env)
        log = folder / "logs" / "worker.log"
        try:
            supervisor.start("worker", "worker")
            worker = supervisor.children["worker"]
            wait_for_line(log, moment)
            broker.kill()
            time.sleep(DOWN_S)
            broker.start(timeout=180.0)
            assert worker.poll() is None, f"the worker exited after a restart at {moment!r}"
            routed = asyncio.run(routes_a_whistle(broker.bootstrap, settings, f"WH-START-{n}"))
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            assert routed, f"no CaseRouted after a restart at {moment!r}; worker log:\n{tail}"
            assert supervisor.children["worker"] is worker and worker.poll() is None
            retries[moment] = log.read_text(errors="replace").count('"worker_start_retry"')
        finally:
            supervisor.stop()
    print(f"start-up retries per moment of the broker restart: {retries}")
    # the restarts before Faust's first metadata and during its topic creation used to end the
    # worker (exit 1); now its start is retried
    assert sum(retries.values()) >= 1, retries

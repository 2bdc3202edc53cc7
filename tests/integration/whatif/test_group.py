"""The what-if over the real broker: process-parallel and as a consumer group, same answer.

Logs written by the worker's own code (``tests.unit.whatif.live_log``) are put on a fresh
events topic of 4 partitions; the in-process tally, two processes (``run_parallel``) and two
consumer-group members (``run_member``, each on its own thread and event loop, as on two
machines) give the same figures.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from tests.conftest import unique_name
from tests.stories import T0
from tests.unit.whatif.live_log import live_log
from tests.unit.whatif.test_replay import (
    V1,
    _move_to_civil_affairs,
    _proposed,
    tourist_case,
    water_case,
)
from whistle.settings import Settings
from whistle.topics import CASE_EVENTS, ensure_topics
from whistle.whatif.answer import answer
from whistle.whatif.group import from_json, run_member, to_json
from whistle.whatif.replay import Proposed
from whistle.whatif.source import run_parallel
from whistle.whatif.tally import Tally, replay_case

pytestmark = pytest.mark.integration

HORIZON = T0 + timedelta(days=3)
SINCE, UNTIL = T0 - timedelta(days=1), T0 + timedelta(days=2)


def _logs() -> list[list[dict[str, Any]]]:
    logs = [live_log(V1, tourist_case(f"K-T{i}"), HORIZON) for i in range(6)]
    logs += [live_log(V1, water_case(f"K-W{i}"), HORIZON) for i in range(6)]
    return logs


async def _produce(bootstrap: str, topic: str, logs: list[list[dict[str, Any]]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for log in logs:
            for event in log:
                stamp = int(T0.timestamp() * 1000)
                key = event["case_id"].encode()
                await producer.send(topic, orjson.dumps(event), key=key, timestamp_ms=stamp)
        await producer.flush()
    finally:
        await producer.stop()


def test_processes_and_group_members_give_the_in_process_answer(kafka_bootstrap: str) -> None:
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap, topic_prefix=unique_name("whatif"), partitions=4
    )
    logs = _logs()
    asyncio.run(ensure_topics(settings, (CASE_EVENTS,)))
    asyncio.run(_produce(settings.bootstrap, settings.topic(CASE_EVENTS.name), logs))
    version = _proposed("routing", _move_to_civil_affairs)

    proposed = Proposed(version)
    proposed.enter()
    alone = Tally(since=SINCE, until=UNTIL)
    for log in logs:
        replay_case(log, proposed, alone, HORIZON)
    expected = answer(alone, version, HORIZON)
    assert expected["moved"]["count"] == 6 and expected["clocks"]["changes"]

    parallel = run_parallel(settings, version, SINCE, UNTIL, HORIZON, processes=2)
    assert _comparable(answer(parallel, version, HORIZON)) == _comparable(expected)
    assert _comparable(answer(from_json(to_json(alone)), version, HORIZON)) == _comparable(expected)

    results = members(settings, version, "run-1", 2, original="log")
    for result in results:
        assert result["original_from"] == "log" and result["replayed"] == len(logs)
        assert _comparable(result) == _comparable(expected)


def members(
    settings: Settings,
    version: Any,
    run_id: str,
    n: int,
    window: tuple[datetime, datetime, datetime] = (SINCE, UNTIL, HORIZON),
    **options: Any,
) -> list[dict[str, Any]]:
    """The answers of ``n`` members of one run (cases raised in [since, until), the clocks run
    to the horizon: ``window``), each on its own thread and event loop."""
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def member() -> None:
        try:
            results.append(asyncio.run(run_member(
                settings, version, *window, run_id, wait_s=120, **options
            )))  # fmt: skip
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=member) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert not errors, errors
    assert len(results) == n
    return results


def _comparable(result: dict[str, Any]) -> dict[str, Any]:
    """The answer without its capped example lists (their order follows the partitions) and
    without where its original side came from."""
    drop = {"moved", "clocks", "original_from", "replayed"}
    out = {k: v for k, v in result.items() if k not in drop}
    out["moved"] = result["moved"]["count"]
    out["clocks"] = result["clocks"]["changes"]
    return out

"""The Faust glue declares the worker's app as configured and translates what Faust hands over;
built without a broker (nothing here starts the app)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from streams.decider import FIRED_HEADER, CommandRecord
from streams.glue import FaustGlue, command_record, fired
from streams.state_store import FaustTableStorage
from streams.transport import Transport
from whistle.settings import Settings


@pytest.fixture
def glue(tmp_path: Path) -> FaustGlue:
    settings = Settings.model_validate(
        {
            "kafka_bootstrap": "127.0.0.1:1,127.0.0.1:2",
            "topic_prefix": "glue",
            "partitions": 6,
            "state_dir": str(tmp_path),
            "worker_id": "w7",
        }
    )
    return FaustGlue(settings)


def test_the_app_is_configured_for_the_worker(glue: FaustGlue, tmp_path: Path) -> None:
    conf = glue.app.conf
    assert conf.id == "glue-streams"
    assert [str(url) for url in conf.broker] == ["kafka://127.0.0.1:1", "kafka://127.0.0.1:2"]
    assert str(conf.datadir).startswith(str(tmp_path / "workers" / "w7"))
    assert conf.consumer_group_instance_id == "glue-w7"
    assert isinstance(glue.app.transport, Transport)  # the short fetch wait
    assert glue.commands_topic == "glue.case-commands"
    assert glue.cases.partitions == 6
    assert FaustTableStorage(glue.cases).changelog_topic == "glue-streams-cases-changelog"


async def test_register_wires_the_agent_timers_page_and_signals(glue: FaustGlue) -> None:
    calls: list[Any] = []

    async def decider(stream: Any) -> None:
        pass

    async def tick() -> None:
        pass

    async def stopping() -> None:
        calls.append("stopping")

    glue.register(decider, tick, tick, stopping, lambda revoked: calls.append(revoked))
    assert list(glue.app.agents) == ["decider"]
    assert glue.app.agents["decider"].concurrency == 1
    tp = TP("glue.case-commands", 3)
    await glue.app.on_partitions_revoked.send({tp})
    await glue.app.on_before_shutdown.send()
    assert calls == [{tp}, "stopping"]


def test_an_unstarted_worker_is_not_ready_and_has_committed_nothing(glue: FaustGlue) -> None:
    assert glue.ready() is False  # the tables have not been recovered
    assert glue.recovery() is None  # nor are they being recovered
    assert dict(glue.committed()) == {}


def event(headers: Any, timestamp: float = 1_795_000_000.1234) -> Any:
    message = SimpleNamespace(
        key=b"case-1",
        value=b"{}",
        timestamp=timestamp,
        partition=2,
        offset=17,
        headers=headers,
        tp=TP("c", 2),
    )
    return SimpleNamespace(message=message)


def test_a_faust_event_becomes_a_command_record() -> None:
    record = command_record(event([(FIRED_HEADER, b"1")]))
    assert record == CommandRecord(b"case-1", b"{}", 1_795_000_000_123, 2, 17, True)
    assert command_record(event(None)).fired is False


def test_the_fired_header_is_found_in_every_form_faust_gives() -> None:
    assert fired({FIRED_HEADER: b"1"}) and fired([(FIRED_HEADER, b"1")])
    assert not fired([("other", b"1")]) and not fired({}) and not fired(None)

"""Nobody acknowledges: the worker breaches the ack clocks and escalates on schedule, once."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import unique_name
from tests.integration.streams.test_decider_roundtrip import raise_command
from tests.logcheck import check_log, read_topic
from tests.service_fixtures import isolated_env, settings_of, supervised
from tests.short_sla_policies import ACK_WITHIN_S, SUPERVISION_AFTER_S, write_short_sla_policies
from whistle.bus import CommandBus
from whistle.topics import CASE_EVENTS, ensure_topics

pytestmark = pytest.mark.integration


async def test_unanswered_whistle_is_breached_then_escalated_exactly_once(
    kafka_bootstrap: str, database_url: str, tmp_path: Path
) -> None:
    env = isolated_env(tmp_path, kafka_bootstrap, database_url, unique_name("dl"))
    env["WHISTLE_SLA_POLICIES_FILE"] = str(write_short_sla_policies(tmp_path))
    settings = settings_of(env)
    await ensure_topics(settings)
    with supervised(tmp_path, env) as supervisor:
        supervisor.start("worker", "worker")
        bus = CommandBus(settings.model_copy(update={"reply_timeout_s": 60.0}))
        await bus.start()
        try:
            command = raise_command("WH-DL-1")
            assert (await bus.submit(command, command.case_id, command.command_id)).status == (
                "accepted"
            )
        finally:
            await bus.stop()
        await asyncio.sleep(ACK_WITHIN_S + SUPERVISION_AFTER_S + 8)
        events = await read_topic(kafka_bootstrap, settings.topic(CASE_EVENTS.name))
    report = check_log(events)
    assert not report.gaps and not report.conflicts and not report.repeated_commands
    kinds = Counter(e["type"] for e in {(e["case_id"], e["seq"]): e for e in events}.values())
    routed = next(e for e in events if e["type"] == "CaseRouted")
    departments = 1 + len(routed["supporting"])
    assert kinds["ClockBreached"] == departments, kinds
    steps = [e["step"] for e in events if e["type"] == "CaseEscalated"]
    assert "reminder" in steps and "supervision" in steps, steps

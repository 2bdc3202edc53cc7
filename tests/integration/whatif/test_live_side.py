"""The original side read off the read models is the log's own, group by group.

Story-built cases (disputes, breaches, ladders, extensions, pauses, reopenings, callbacks) go on
a fresh events topic; the projector's rebuild builds their read models in a scratch database.
``whistle.whatif.live.read_live`` then counts exactly what the tally of the log projected again
counts, for every grouping and week, and says where the read models stand; delta mode around it
(``run_parallel`` with those ends, in two passes or in one with the read models' last seqs, and
two consumer-group members on one snapshot) answers as the log's way does.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import orjson
import pytest

from bench.bench_whatif import DAYS, HORIZON, case_logs, changed_version, in_time_order, produce
from projections.migrate import LIVE_SCHEMA
from projections.projector import connect
from projections.rebuild import build, swap
from tests.conftest import unique_name
from tests.integration.whatif.test_group import members
from tests.stack import scratch_database
from tests.stories import T0
from whistle.settings import Settings
from whistle.topics import CASE_EVENTS, ensure_topics
from whistle.whatif.answer import answer
from whistle.whatif.live import read_live
from whistle.whatif.replay import Proposed
from whistle.whatif.source import run_parallel
from whistle.whatif.tally import Tally, replay_case

pytestmark = pytest.mark.integration

SINCE, UNTIL = T0 - timedelta(days=1), T0 + timedelta(days=DAYS + 1)


def test_the_read_models_count_what_the_log_projected_again_counts(
    kafka_bootstrap: str, database_url: str
) -> None:
    settings = Settings(kafka_bootstrap=kafka_bootstrap, topic_prefix=unique_name("live"),
                        partitions=4)  # fmt: skip
    topic = settings.topic(CASE_EVENTS.name)
    logs = [*case_logs("random", 400), *case_logs("templates", 56)]
    asyncio.run(ensure_topics(settings, (CASE_EVENTS,)))
    asyncio.run(produce(settings.bootstrap, topic, in_time_order(logs)))
    version = changed_version("random")
    proposed = Proposed(version)
    proposed.enter()
    log_side = Tally(since=SINCE, until=UNTIL)
    for _, events in logs:
        replay_case([orjson.loads(e) for e in events], proposed, log_side, HORIZON)

    with scratch_database(database_url, "live_side") as dsn:

        async def read() -> tuple[object, dict[int, int]]:
            built = await build(dsn, settings.bootstrap, topic, LIVE_SCHEMA + "_new")
            await swap(dsn, built.schema, LIVE_SCHEMA)
            conn = await connect(dsn, LIVE_SCHEMA)
            try:
                return await read_live(conn, topic, SINCE, UNTIL)
            finally:
                await conn.close()

        side, ends = asyncio.run(read())
        assert sum(ends.values()) == sum(len(events) for _, events in logs)
        groups = side.groups  # type: ignore[attr-defined]
        for key in sorted(set(groups) | set(log_side.original.groups)):
            assert groups.get(key) == log_side.original.groups.get(key), key
        assert side.weekly == log_side.original.weekly  # type: ignore[attr-defined]

        full = run_parallel(settings, version, SINCE, UNTIL, HORIZON, 2, mirror=True)
        expected = answer(full, version, HORIZON)
        two_passes = run_parallel(
            settings, version, SINCE, UNTIL, HORIZON, 2, mirror=True, ends=ends
        )
        one_pass = run_parallel(
            settings, version, SINCE, UNTIL, HORIZON, 2, mirror=True, ends=ends, dsn=dsn
        )
        group = settings.model_copy(update={"database_url": dsn})
        window = (SINCE, UNTIL, HORIZON)
        answers = members(group, version, "run-delta", 2, window, mirror=True,
                          original="read-models")  # fmt: skip
    for delta in (two_passes, one_pass):
        assert 0 < delta.unchanged < delta.cases == len(logs) and delta.events == full.events
        whole = delta.with_live(side)  # type: ignore[arg-type]
        assert answer(whole, version, HORIZON) == expected
    for member in answers:  # as a consumer group, in delta mode on one snapshot
        assert member.pop("original_from") == "read-models"
        assert 0 < member.pop("replayed") < len(logs)
        assert member == expected

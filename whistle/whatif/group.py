"""The what-if as a Kafka consumer group: members on many machines share out the partitions.

Every member of one run (``whistle whatif --group RUN``) joins the consumer group
``<prefix>.whatif-<RUN>`` on the events topic; once its assignment has been stable for
``SETTLE_S`` it replays its partitions with the same two passes as a process of
``whistle.whatif.source`` (a rebalance meanwhile restarts it on its new assignment), then
appends its tally, as JSON, to ``<prefix>.whatif-results`` (key: the run). Each member then
reads the run's results until they cover every partition once, and adds them up: every member
answers the whole run. No offsets are committed: the group only shares out the partitions.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition

from whistle.config.versions import ConfigVersion
from whistle.settings import Settings
from whistle.topics import CASE_EVENTS, DAY_MS, TopicSpec, ensure_topics
from whistle.whatif.replay import Proposed
from whistle.whatif.source import Reader, _records, _start_offsets, collector_off, combine
from whistle.whatif.tally import SideTally, Tally

RESULTS = TopicSpec(
    "whatif-results",
    "What-if runs' partial tallies (key = run id), one per consumer-group member. Kept 7 days.",
    per_case=False,
    partitions=1,
    config={"retention.ms": str(7 * DAY_MS), "cleanup.policy": "delete"},
)
SETTLE_S = 3.0
"""How long an assignment must stay unchanged before a member starts replaying it."""


class Rebalanced(Exception):
    """The member's partitions changed while it replayed them: start over."""


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.changes = 0

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self.changes += 1

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.changes += 1


async def _settled(consumer: AIOKafkaConsumer, listener: _Listener) -> set[TopicPartition]:
    """The member's assignment once it has not changed for ``SETTLE_S``."""
    seen, since = -1, 0.0
    loop = asyncio.get_running_loop()
    while True:
        await consumer.getmany(timeout_ms=200, max_records=1)  # heartbeats, joins
        consumer.pause(*consumer.assignment())
        if listener.changes != seen:
            seen, since = listener.changes, loop.time()
        elif consumer.assignment() and loop.time() - since >= SETTLE_S:
            return set(consumer.assignment())


async def _replay(
    consumer: AIOKafkaConsumer,
    listener: _Listener,
    tps: set[TopicPartition],
    job: tuple[Proposed, datetime, datetime, datetime],
) -> Tally:
    proposed, since, until, horizon = job
    consumer.resume(*tps)
    tally = Tally(since=since, until=until)
    ends = await consumer.end_offsets(list(tps))
    starts = await _start_offsets(consumer, list(tps), since)
    reader = Reader(proposed, tally, horizon)
    with collector_off():
        await _both_passes(consumer, listener, starts, ends, reader)
    return tally


async def _both_passes(
    consumer: AIOKafkaConsumer,
    listener: _Listener,
    starts: dict[TopicPartition, int],
    ends: dict[TopicPartition, int],
    reader: Reader,
) -> None:
    """Both passes over the member's partitions (``Rebalanced`` when they move meanwhile)."""
    changes = listener.changes
    async for _tp, records in _records(consumer, starts, ends, None):
        if listener.changes != changes:
            raise Rebalanced
        reader.note(records)
    async for _tp, records in _records(consumer, starts, ends, None):
        if listener.changes != changes:
            raise Rebalanced
        reader.take(records)
    reader.close()


async def run_member(
    settings: Settings,
    version: ConfigVersion,
    since: datetime,
    until: datetime,
    horizon: datetime,
    run_id: str,
    wait_s: float = 3600.0,
    mirror: bool = False,
) -> Tally:
    """Join the run, replay this member's partitions, publish its part; the whole run's tally
    (``mirror``: as ``whistle.whatif.run.run_whatif`` decides it)."""
    await ensure_topics(settings, (RESULTS,))
    proposed = Proposed(version, mirror)
    proposed.enter()
    topic = settings.topic(CASE_EVENTS.name)
    listener = _Listener()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap,
        group_id=f"{settings.topic_prefix}.whatif-{run_id}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
    )
    await consumer.start()
    try:
        consumer.subscribe([topic], listener=listener)
        while True:
            tps = await _settled(consumer, listener)
            try:
                mine = await _replay(consumer, listener, tps, (proposed, since, until, horizon))
                break
            except Rebalanced:
                continue
    finally:
        await consumer.stop()
    part = {"run": run_id, "partitions": sorted(tp.partition for tp in tps), "tally": to_json(mine)}
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, max_request_size=64 << 20)
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topic(RESULTS.name), json.dumps(part).encode(), key=run_id.encode()
        )
    finally:
        await producer.stop()
    return await gather_run(settings, run_id, since, until, wait_s)


async def gather_run(
    settings: Settings, run_id: str, since: datetime, until: datetime, wait_s: float
) -> Tally:
    """The run's parts, read until they cover every partition once, added up."""
    tp = TopicPartition(settings.topic(RESULTS.name), 0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap, group_id=None, fetch_max_bytes=64 << 20
    )
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        parts: dict[int, Tally] = {}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while len(parts) < settings.partitions:
            if loop.time() > deadline:
                raise TimeoutError(f"what-if {run_id}: {len(parts)} partitions reported")
            batches = await consumer.getmany(tp, timeout_ms=500)
            for record in batches.get(tp, []):
                if record.key != run_id.encode():
                    continue
                part = json.loads(record.value)
                tally = from_json(part["tally"])
                for p in part["partitions"]:
                    parts.setdefault(p, tally)  # a member's part covers all its partitions
        unique = {id(t): t for t in parts.values()}
        return combine(list(unique.values()), since, until)
    finally:
        await consumer.stop()


# ---- a tally as JSON (a part travels between machines; no pickle from a topic) --------------
def _side_json(side: SideTally) -> dict[str, Any]:
    return {
        "groups": [[g, k, counts] for (g, k), counts in side.groups.items()],
        "weekly": [[d, w, n] for (d, w), n in side.weekly.items()],
    }


def _side(data: dict[str, Any]) -> SideTally:
    side = SideTally()
    side.groups = {(g, k): list(counts) for g, k, counts in data["groups"]}
    side.weekly = Counter({(d, w): n for d, w, n in data["weekly"]})
    return side


def to_json(tally: Tally) -> dict[str, Any]:
    """A tally as JSON-ready data (``from_json`` reads it back)."""
    return {
        "since": tally.since.isoformat(),
        "until": tally.until.isoformat(),
        "original": _side_json(tally.original),
        "proposed": _side_json(tally.proposed),
        "cases": tally.cases,
        "skipped": tally.skipped,
        "moved": tally.moved,
        "events": tally.events,
        "moved_examples": tally.moved_examples,
        "clock_examples": tally.clock_examples,
        "rerouted": [[*k, n] for k, n in tally.rerouted.items()],
        "clock_changes": [[*k, n] for k, n in tally.clock_changes.items()],
        "refused": [[*k, n] for k, n in tally.refused.items()],
    }


def from_json(data: dict[str, Any]) -> Tally:
    """Inverse of ``to_json``."""
    tally = Tally(
        since=datetime.fromisoformat(data["since"]), until=datetime.fromisoformat(data["until"])
    )
    tally.original, tally.proposed = _side(data["original"]), _side(data["proposed"])
    tally.cases, tally.skipped = data["cases"], data["skipped"]
    tally.moved, tally.events = data["moved"], data["events"]
    tally.moved_examples, tally.clock_examples = data["moved_examples"], data["clock_examples"]
    tally.rerouted = Counter({(d, w): n for d, w, n in data["rerouted"]})
    tally.clock_changes = Counter({(d, a, b): n for d, a, b, n in data["clock_changes"]})
    tally.refused = Counter({(c, d): n for c, d, n in data["refused"]})
    return tally

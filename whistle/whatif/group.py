"""The what-if as a Kafka consumer group: members on many machines share out the partitions.

Every member of one run (``whistle whatif --group RUN``) joins the consumer group
``<prefix>.whatif-<RUN>`` on the events topic; once its assignment has been stable for
``SETTLE_S`` it replays its partitions as a process of ``whistle.whatif.source`` does (a
rebalance meanwhile restarts it on its new assignment), then appends its tally, as JSON, to
``<prefix>.whatif-results`` (key: the run). Each member then reads the run's results until they
cover every partition once, and adds them up: every member answers the whole run. No offsets
are committed: the group only shares out the partitions.

With the read models (``original`` auto or read-models) the run is in delta mode. Its members
must fit their deltas to one snapshot of the read models, so the first member to come reads it
and appends it to the results topic before its part, and every member takes the first snapshot
found there (``run_snapshot``): the original side, and the offsets each partition is replayed
up to. Each member's database is the read models' (``WHISTLE_DATABASE_URL``), where it looks
up its changed cases' last seqs.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition

from whistle.config.versions import ConfigVersion
from whistle.settings import Settings
from whistle.topics import CASE_EVENTS, DAY_MS, TopicSpec, ensure_topics
from whistle.whatif.replay import Proposed
from whistle.whatif.source import (
    Reader,
    _records,
    _start_offsets,
    collector_off,
    combine,
    one_pass,
)
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


class MixedRun(Exception):
    """The run's members were started with different ``original``s (its argument: the run)."""


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
    snapshot: Snapshot | None,
    dsn: str,
) -> Tally:
    """This member's tally of ``tps``: with the run's ``snapshot``, in delta mode up to where
    the read models stood then (one pass), else the log's way (two passes)."""
    proposed, since, until, horizon = job
    consumer.resume(*tps)
    tally = Tally(since=since, until=until, delta=proposed.delta)
    ends = await consumer.end_offsets(list(tps))
    if snapshot is not None:
        ends = {tp: min(n, snapshot.stands.get(tp.partition, 0)) for tp, n in ends.items()}
    starts = await _start_offsets(consumer, list(tps), since)
    changes = listener.changes

    async def records() -> Any:  # every batch of one pass; Rebalanced once the group moves
        async for tp, batch in _records(consumer, starts, ends, None):
            if listener.changes != changes:
                raise Rebalanced
            yield tp, batch

    if snapshot is not None:
        await one_pass(records(), dsn, Reader(proposed, tally, horizon, by_seq=True))
        return tally
    reader = Reader(proposed, tally, horizon)
    async for _tp, batch in records():
        reader.note(batch)
    with collector_off():
        async for _tp, batch in records():
            reader.take(batch)
    reader.close()
    return tally


@dataclass(frozen=True)
class Snapshot:
    """The run's original side from the read models, and where they stood in the events topic
    (partition → offset): every member replays up to there, so their deltas fit it."""

    side: SideTally
    stands: dict[int, int]


async def run_member(
    settings: Settings,
    version: ConfigVersion,
    since: datetime,
    until: datetime,
    horizon: datetime,
    run_id: str,
    wait_s: float = 3600.0,
    mirror: bool = False,
    original: str = "auto",
) -> dict[str, Any]:
    """Join the run, replay this member's partitions, publish its part; the whole run's answer
    (``mirror``: as ``whistle.whatif.run.run_whatif`` decides it; ``original``: one of its
    ``ORIGINALS``, the same for every member of the run)."""
    from whistle.whatif.run import NoReadModels, answer_whole

    await ensure_topics(settings, (RESULTS,))
    snapshot = None if original == "log" else await run_snapshot(settings, run_id, since, until)
    if snapshot is None and original == "read-models":
        raise NoReadModels(settings.topic(CASE_EVENTS.name))
    proposed = Proposed(version, mirror, delta=snapshot is not None)
    proposed.enter()
    topic = settings.topic(CASE_EVENTS.name)
    listener = _Listener()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap,
        group_id=f"{settings.topic_prefix}.whatif-{run_id}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        consumer.subscribe([topic], listener=listener)
        job = (proposed, since, until, horizon)
        while True:
            tps = await _settled(consumer, listener)
            try:
                mine = await _replay(consumer, listener, tps, job, snapshot, settings.dsn)
                break
            except Rebalanced:
                continue
    finally:
        await consumer.stop()
    part = {"run": run_id, "partitions": sorted(tp.partition for tp in tps), "tally": to_json(mine)}
    await _publish(settings, run_id, part)
    tally = await gather_run(settings, run_id, since, until, wait_s)
    return answer_whole(tally, None if snapshot is None else snapshot.side, version, horizon)


async def _publish(settings: Settings, run_id: str, value: dict[str, Any]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, max_request_size=64 << 20)
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topic(RESULTS.name), json.dumps(value).encode(), key=run_id.encode()
        )
    finally:
        await producer.stop()


async def _run_values(
    settings: Settings, run_id: str, wait_s: float | None = None
) -> AsyncGenerator[dict[str, Any], None]:
    """The run's records on the results topic from the first, decoded, in order: up to its
    end as it is now (``wait_s`` None), else as they come, ``TimeoutError`` after ``wait_s``."""
    tp = TopicPartition(settings.topic(RESULTS.name), 0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap, group_id=None, fetch_max_bytes=64 << 20
    )
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (wait_s or 0.0)
        while wait_s is not None or await consumer.position(tp) < end:
            if wait_s is not None and loop.time() > deadline:
                raise TimeoutError(f"what-if {run_id}: not every partition reported")
            batches = await consumer.getmany(tp, timeout_ms=500)
            for record in batches.get(tp, []):
                if record.key == run_id.encode():
                    yield json.loads(record.value)
    finally:
        await consumer.stop()


async def run_snapshot(
    settings: Settings, run_id: str, since: datetime, until: datetime
) -> Snapshot | None:
    """The run's read-models snapshot, the same for every member: the first on the results
    topic. The first member to come reads the read models (``read_live_side``) and appends
    what it found (null: they could not give the original side, and the run goes the log's
    way); members who raced it take the first appended, theirs or another's."""
    from whistle.whatif.run import read_live_side

    for attempt in range(2):
        async with aclosing(_run_values(settings, run_id)) as records:
            async for record in records:
                if "snapshot" in record:
                    found = record["snapshot"]
                    if found is None:
                        return None
                    stands = {int(p): n for p, n in found["stands"].items()}
                    return Snapshot(_side(found["side"]), stands)
        if attempt == 0:
            live = await read_live_side(settings, since, until)
            mine = None if live is None else {"side": _side_json(live[0]), "stands": live[1]}
            await _publish(settings, run_id, {"run": run_id, "snapshot": mine})
    raise RuntimeError(f"what-if {run_id}: its snapshot is not on {RESULTS.name}")


async def gather_run(
    settings: Settings, run_id: str, since: datetime, until: datetime, wait_s: float
) -> Tally:
    """The run's parts, read until they cover every partition once, added up."""
    parts: dict[int, Tally] = {}
    async with aclosing(_run_values(settings, run_id, wait_s)) as records:
        async for part in records:
            if "tally" not in part:
                continue  # the run's snapshot
            tally = from_json(part["tally"])
            for p in part["partitions"]:
                parts.setdefault(p, tally)  # a member's part covers all its partitions
            if len(parts) >= settings.partitions:
                break
    return combine_parts(run_id, list({id(t): t for t in parts.values()}.values()), since, until)


def combine_parts(run_id: str, parts: list[Tally], since: datetime, until: datetime) -> Tally:
    """The members' parts added up; ``MixedRun`` when some replayed in delta mode and some
    the log's way (members started with different ``--original``): their sum means nothing."""
    if len({part.delta for part in parts}) > 1:
        raise MixedRun(run_id)
    return combine(parts, since, until)


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
        "delta": tally.delta,
        "unchanged": tally.unchanged,
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
    tally.delta, tally.unchanged = data.get("delta", False), data.get("unchanged", 0)
    tally.moved_examples, tally.clock_examples = data["moved_examples"], data["clock_examples"]
    tally.rerouted = Counter({(d, w): n for d, w, n in data["rerouted"]})
    tally.clock_changes = Counter({(d, a, b): n for d, a, b, n in data["clock_changes"]})
    tally.refused = Counter({(c, d): n for c, d, n in data["refused"]})
    return tally

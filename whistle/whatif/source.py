"""Reading the event log for a what-if: one partition set per process, results combined.

A case's events are all in one partition (key = case id), in seq order, interleaved with other
cases'. A partition set is read twice from the first record at or after ``since`` (less a
margin: a record's timestamp is its producer's, a little after the decision):

1. keys and offsets only (nothing decoded): the offset of each case's last event;
2. every event: a case raised in range starts its replay at its ``WhistleRaised`` and is
   finished, tallied and forgotten at its last offset.

So a process holds the replays of the cases open at the current offset, and one offset per
case (pass 1), never a case's history. Both passes stop at the end offsets taken at the start.

In delta mode with the read models (``Job.dsn``) there is no pass 1: the log is read up to
where the read models stand, so a case's last event there is the one whose seq they applied
last (``cases.applied_seq``). That is looked up only for the cases replayed in full, a batch
at a time (``Reader.resolve``). A case found unchanged keeps only its key, so its later
records are counted unread.
The same function serves a consumer group over many machines (``run_group``): the group shares
out the partitions, each member tallies its own, and ``combine`` adds the tallies up.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import pickle
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from projections.apply import decode
from whistle.config.versions import ConfigVersion
from whistle.settings import Settings
from whistle.topics import CASE_EVENTS
from whistle.whatif.replay import CaseOutcome, CaseReplay, Proposed, RoutingProbe
from whistle.whatif.tally import Tally

MARGIN = timedelta(minutes=5)
"""How far before ``since`` the log is read (record timestamps trail the decisions)."""
FETCH_MS = 500


@dataclass(frozen=True)
class Job:
    """What one process replays: its partitions and everything else of the what-if."""

    bootstrap: str
    topic: str
    partitions: tuple[int, ...]
    version: ConfigVersion
    since: datetime
    until: datetime
    horizon: datetime
    mirror: bool = False
    """Whether cases routed as they were are mirrored (``whistle.whatif.replay``)."""
    ends: tuple[tuple[int, int], ...] | None = None
    """(partition, end offset) to read up to (delta mode: where the read models stand);
    None: the partitions' ends when the job starts."""
    dsn: str | None = None
    """Delta mode: the read models' database, which knows each case's last seq (one pass)."""


Progress = Callable[[int], None]
"""Told the number of records read since its last call."""


async def _start_offsets(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition], since: datetime
) -> dict[TopicPartition, int]:
    found = await consumer.offsets_for_times(
        {tp: int((since - MARGIN).timestamp() * 1000) for tp in tps}
    )
    ends = await consumer.end_offsets(tps)
    return {tp: (found[tp].offset if found.get(tp) else ends[tp]) for tp in tps}


async def _records(
    consumer: AIOKafkaConsumer,
    starts: dict[TopicPartition, int],
    ends: dict[TopicPartition, int],
    progress: Progress | None,
    weight: int = 1,
) -> Any:
    """Every record of the partitions from ``starts`` to ``ends`` (batches, in order); each
    counts ``weight`` on ``progress`` (2 for a single pass: a bar counts two reads a record)."""
    open_tps = {tp for tp in starts if starts[tp] < ends[tp]}
    for tp in starts:
        consumer.seek(tp, starts[tp])
    consumer.resume(*open_tps)  # a pass before this one paused each at its end
    while open_tps:
        batches = await consumer.getmany(*open_tps, timeout_ms=FETCH_MS, max_records=5000)
        for tp, records in batches.items():
            kept = [r for r in records if r.offset < ends[tp]]
            if kept:
                yield tp, kept
                if progress is not None:
                    progress(len(kept) * weight)
            if records and records[-1].offset >= ends[tp] - 1:
                open_tps.discard(tp)
                consumer.pause(tp)  # nothing past its end is fetched meanwhile


async def replay_partitions(job: Job, progress: Progress | None = None) -> Tally:
    """The tally of the cases raised in [since, until) in ``job``'s partitions."""
    proposed = Proposed(job.version, job.mirror, delta=job.ends is not None)
    proposed.enter()
    tally = Tally(since=job.since, until=job.until, delta=proposed.delta)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=job.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        tps = [TopicPartition(job.topic, p) for p in job.partitions]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        if job.ends is not None:
            ends = {tp: min(ends[tp], dict(job.ends).get(tp.partition, 0)) for tp in tps}
        starts = await _start_offsets(consumer, tps, job.since)
        if job.dsn is not None and proposed.delta:
            records = _records(consumer, starts, ends, progress, weight=2)
            await one_pass(records, job.dsn, Reader(proposed, tally, job.horizon, by_seq=True))
        else:
            reader = Reader(proposed, tally, job.horizon)
            async for _tp, records in _records(consumer, starts, ends, progress):
                reader.note(records)
            with collector_off():
                async for _tp, records in _records(consumer, starts, ends, progress):
                    reader.take(records)
            reader.close()
        tally.peak_rss_mib = peak_rss_mib()
        return tally
    finally:
        await consumer.stop()


async def one_pass(records: Any, dsn: str, reader: Reader) -> None:
    """Delta mode with the read models: one pass over ``records`` (``_records``' batches),
    the replayed cases' last seqs looked up in the read models at ``dsn`` as it goes."""
    from projections.migrate import LIVE_SCHEMA
    from projections.projector import connect

    conn = await connect(dsn, LIVE_SCHEMA)
    try:
        with collector_off():
            async for _tp, batch in records:
                reader.take(batch)
                if len(reader.awaiting) >= RESOLVE_EVERY:
                    await reader.resolve(conn)
            await reader.resolve(conn)
            reader.close()
    finally:
        await conn.close()


def peak_rss_mib() -> float:
    """This process's peak resident memory since it started (Linux ``VmHWM``; 0 elsewhere).

    Not ``getrusage``'s ``ru_maxrss``: a spawned process's counts the parent's pages it shared
    between fork and exec, so it reports the parent's size, not the replay's."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class HeldCase:
    """Delta mode: a case found changed, its later records held as they came off the log
    until its last one, then replayed in full at once (``CaseReplay``).

    Replaying a case in one go, rather than a record at a time among the ~30,000 changed
    cases a process has open at 1,000,000 cases, keeps its objects in the CPU's caches: in
    process the same cases replay 1.25–1.45× faster in case order than interleaved in time
    order. What is held is the raw records of the cases open at once (~0.5 KiB a record),
    less than the replay's rows and state would be (~16 KiB a case); each is dropped once its
    case is replayed."""

    __slots__ = ("case_id", "events", "last_seq", "raws")

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.case_id: str = events[0]["case_id"]
        self.events = events
        """The probed events (decoded)."""
        self.raws: list[bytes] = []
        """The later records' values, as read."""
        self.last_seq: int = events[-1]["seq"]

    def replay(self, proposed: Proposed, horizon: datetime) -> CaseOutcome:
        """The case replayed in full from its raise."""
        replay = CaseReplay(self.case_id, proposed, horizon, mirrorable=False)
        for event in self.events:
            replay.feed(event)
        for raw in self.raws:
            later = decode(raw)
            if later is not None:
                replay.feed(later)
        return replay.finish()


RESOLVE_EVERY = 500
"""Replayed cases whose last seq is looked up in one query (one pass)."""


@contextmanager
def collector_off() -> Iterator[None]:
    """The cyclic garbage collector off while a process reads its partitions.

    The open replays hold millions of small objects; the collector's passes over them took a
    fifth of a replay process's CPU, and ``projections.apply.gc_paused``'s full collection
    every 50 batches still a tenth at 1,000,000 cases. A replay leaves no reference cycle
    (unit test), so reference counting frees every finished case; what the client library
    might leave in cycles meanwhile is collected when reading ends."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
            gc.collect()


class Reader:
    """The two passes' bookkeeping: each case's last offset (pass 1), then the open replays
    (pass 2), started at their raising and finished, tallied and forgotten at that offset.
    ``by_seq`` (one pass): a replay ends at the last seq the read models applied (``resolve``)."""

    def __init__(
        self, proposed: Proposed, tally: Tally, horizon: datetime, by_seq: bool = False
    ) -> None:
        self.proposed, self.tally, self.horizon = proposed, tally, horizon
        self.by_seq = by_seq
        self.last: dict[bytes, int] = {}
        self.final: dict[bytes, int] = {}
        """One pass: the last seq of a replayed case (``resolve``), until it is finished."""
        self.awaiting: dict[bytes, HeldCase] = {}
        """One pass: changed cases whose last seq is not looked up yet."""
        self.held: dict[bytes, HeldCase] = {}
        """Delta mode: the cases found changed, held until their last record (``HeldCase``)."""
        self.replays: dict[bytes, CaseReplay] = {}
        self.probes: dict[bytes, RoutingProbe] = {}
        """Delta mode: the cases not yet known to be routed as they were (``RoutingProbe``)."""
        self.done: set[bytes] = set()
        """Delta mode: cases found unchanged, whose later records are counted, not read."""
        self.probing = proposed.delta and proposed.mirror

    def note(self, records: list[Any]) -> None:
        """Pass 1: the offset of each case's last record."""
        last = self.last
        for r in records:
            if r.key is not None:
                last[r.key] = r.offset

    def take(self, records: list[Any]) -> None:
        """Pass 2: feed each record to its case's replay; start or finish replays.

        Callers read with the cyclic collector off (``collector_off``). A record of a case
        found unchanged is counted here, without a call (most records are)."""
        done, tally, take = self.done, self.tally, self._take
        for r in records:
            if r.key in done and self.by_seq:
                tally.events += 1
            else:
                take(r)
        held = len(self.replays) + len(self.probes) + len(self.held)
        self.tally.peak_open = max(self.tally.peak_open, held)

    def _take(self, record: Any) -> None:
        key, tally = record.key, self.tally
        if key in self.done:
            tally.events += 1
            if self.last.get(key) == record.offset:  # never, by seq: the key stays
                self.done.discard(key)
            return
        event = decode(record.value)
        if event is None:
            return
        held = self.held.get(key)
        if held is not None:
            held.raws.append(record.value)
            held.last_seq = event["seq"]
            tally.events += 1
            if self._ends(key, record.offset, event):
                del self.held[key]
                tally.add(held.replay(self.proposed, self.horizon))
            return
        replay = self.replays.get(key)
        if replay is None:
            probe = self.probes.get(key)
            if probe is None:
                if event["type"] != "WhistleRaised" or event["seq"] != 1:
                    return
                if not tally.in_range(datetime.fromisoformat(event["occurred_at"])):
                    return
                if self.probing:
                    probe = self.probes[key] = RoutingProbe(self.proposed)
            if probe is not None:
                self._probe(key, record.offset, probe, event)
                return
            replay = self.replays[key] = CaseReplay(event["case_id"], self.proposed, self.horizon)
        replay.feed(event)
        tally.events += 1
        if replay.outcome.unchanged:
            tally.add(self.replays.pop(key).outcome)
            if self.last.get(key) != record.offset:
                self.done.add(key)
        elif self._ends(key, record.offset, event):
            tally.add(self.replays.pop(key).finish())

    def _ends(self, key: bytes, offset: int, event: dict[str, Any]) -> bool:
        """Whether this is the case's last record (by offset, or by the read models' seq)."""
        if not self.by_seq:
            return self.last.get(key) == offset
        if self.final.get(key) != event["seq"]:
            return False
        del self.final[key]
        return True

    async def resolve(self, conn: Any) -> None:
        """One pass: look up the last seq of the changed cases awaiting it; replay those
        already past it."""
        if not self.awaiting:
            return
        waiting, self.awaiting = self.awaiting, {}
        keys = {held.case_id: key for key, held in waiting.items()}
        rows = await conn.fetch(
            "SELECT case_id, applied_seq FROM cases WHERE case_id = ANY($1::text[])", list(keys)
        )
        for case_id, seq in rows:
            key = keys[case_id]
            if waiting[key].last_seq >= seq:
                del self.held[key]
                self.tally.add(waiting[key].replay(self.proposed, self.horizon))
            else:
                self.final[key] = seq

    def _probe(self, key: bytes, offset: int, probe: RoutingProbe, event: dict[str, Any]) -> None:
        """Delta mode: a case not yet known to be routed as it was; unchanged, it is counted
        and done; else it is held until its last record (replayed now if this is it)."""
        verdict = probe.feed(event)
        self.tally.events += 1
        last = not self.by_seq and self.last.get(key) == offset
        if verdict is None and not last:
            return
        del self.probes[key]
        if verdict:
            self.tally.add_unchanged()
            if not last:
                self.done.add(key)
            return
        held = HeldCase(probe.events)
        if last:
            self.tally.add(held.replay(self.proposed, self.horizon))
            return
        self.held[key] = held
        if self.by_seq:
            self.awaiting[key] = held

    def close(self) -> None:
        """Finish what is still open: by offset nothing (every case ends at its last offset);
        by seq the cases never routed (probed to the end) and any the read models lack."""
        for key, probe in list(self.probes.items()):
            del self.probes[key]
            self.tally.add(HeldCase(probe.events).replay(self.proposed, self.horizon))
        for key, held in list(self.held.items()):
            del self.held[key]
            self.tally.add(held.replay(self.proposed, self.horizon))
        for key in list(self.replays):
            self.tally.add(self.replays.pop(key).finish())


def _run_job(job: Job, queue: Any | None) -> bytes:
    """A process's work: its partitions' tally, pickled (progress on ``queue``)."""
    progress = None if queue is None else queue.put
    return pickle.dumps(asyncio.run(replay_partitions(job, progress)))


def partition_sets(partitions: int, processes: int) -> list[tuple[int, ...]]:
    """The partitions shared out round-robin among ``processes`` (none empty)."""
    n = max(1, min(processes, partitions))
    return [tuple(range(i, partitions, n)) for i in range(n)]


async def total_records(settings: Settings, since: datetime) -> int:
    """How many records both passes read (for a progress bar)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, group_id=None)
    await consumer.start()
    try:
        topic = settings.topic(CASE_EVENTS.name)
        tps = [TopicPartition(topic, p) for p in range(settings.partitions)]
        ends = await consumer.end_offsets(tps)
        starts = await _start_offsets(consumer, tps, since)
        return 2 * sum(ends[tp] - starts[tp] for tp in tps)
    finally:
        await consumer.stop()


def run_parallel(
    settings: Settings,
    version: ConfigVersion,
    since: datetime,
    until: datetime,
    horizon: datetime,
    processes: int,
    progress: Progress | None = None,
    mirror: bool = False,
    ends: dict[int, int] | None = None,
    dsn: str | None = None,
) -> Tally:
    """Replay every partition, ``processes`` partition sets in as many processes; combined.
    With ``ends`` (where the read models stand), in delta mode up to those offsets; with the
    read models' ``dsn`` too, in one pass."""
    topic = settings.topic(CASE_EVENTS.name)
    upto = None if ends is None else tuple(sorted(ends.items()))
    jobs = [
        Job(settings.bootstrap, topic, ps, version, since, until, horizon, mirror, upto, dsn)
        for ps in partition_sets(settings.partitions, processes)
    ]
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        queue = manager.Queue() if progress is not None else None
        with ProcessPoolExecutor(len(jobs), mp_context=context) as pool:
            futures = [pool.submit(_run_job, job, queue) for job in jobs]
            while queue is not None and not all(f.done() for f in futures):
                _drain(queue, progress)
            tallies = [pickle.loads(f.result()) for f in futures]
        if queue is not None:
            _drain(queue, progress, wait=False)
    return combine(tallies, since, until)


def _drain(queue: Any, progress: Progress | None, wait: bool = True) -> None:
    import queue as queues

    try:
        n = queue.get(timeout=0.2) if wait else queue.get_nowait()
    except queues.Empty:
        return
    if progress is not None:
        progress(n)
    while True:
        try:
            n = queue.get_nowait()
        except queues.Empty:
            return
        if progress is not None:
            progress(n)


def combine(tallies: list[Tally], since: datetime, until: datetime) -> Tally:
    """The partition sets' tallies added up."""
    total = Tally(since=since, until=until)
    for tally in tallies:
        total.merge(tally)
    return total

"""The deadline tracker: the index of the owned partitions' deadlines, and their firing.

The durable deadlines are the front of each case's table value (``streams.state_store``); the
tracker keeps an in-memory index over those of the partitions this worker owns
(``streams.deadlines.DeadlineHeap``) and, every tick, sends a command to the commands topic
for each case whose deadline has come due, stamped with ``FIRED_HEADER``. The decider decides
those like any command and tells the tracker when it takes them.

Three rules make it safe and fair:

* Nothing fires until the index covers exactly the partitions owned. When the assignment
  changes, the index is rebuilt from the table in slices of ``INDEX_SLICE`` cases between
  yields to the event loop (a million cases took ~15 s in one go, during which a worker that
  had just come back routed nothing), beside the old one, and swapped in at the end; the cases
  the decider changed meanwhile are indexed again after the swap. A rebuild is abandoned when
  the assignment changes again.
* The fired commands not yet taken by the decider are kept to ``WHISTLE_DEADLINE_QUEUE_S`` of
  the decider's time (its measured cost per command), within ``DEADLINE_COMMANDS_IN_FLIGHT``,
  and topped up as soon as it takes a round: a mass expiry is fed to the decider at its own
  pace, and a whistle raised meanwhile waits behind one round of breaches, not behind a hundred
  thousand of them. A round not taken within ``STALLED_S`` is taken as lost (a rebalance);
  the index's re-arming fires its deadlines again.
* A case costs one command however many of its clocks are due together (the decider fires
  the case's others in the same step).

The tracker's ports are the consumer's assignment (:class:`Assignment`), the case store's
reads (:class:`Rows`) and a function that sends the fired commands and waits for the broker;
the unit tests give it plain fakes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Protocol

from streams import worker_metrics
from streams.deadlines import DeadlineHeap, DueDeadline, Pending
from streams.decider import BatchResult, decode_state
from streams.producer import Keyed
from whistle.domain import breach_command, deadline_command, pending_deadlines
from whistle.domain import encode as encode_message
from whistle.logs import get_logger

log = get_logger()

DEADLINE_COMMANDS_IN_FLIGHT = (20, 2000)
"""Bounds of the fired deadline commands not yet taken by the decider. Within them the number
is kept to ``WHISTLE_DEADLINE_QUEUE_S`` of the decider's time (its measured cost per command)
and topped up as soon as the decider takes a batch: a mass expiry is fed to the decider at its
own pace, the next round waiting while the current one is decided, so a whistle raised
meanwhile waits behind one round of breaches, not behind a hundred thousand of them."""
STALLED_S = 10.0
INDEX_SLICE = 2000
"""Cases indexed between yields to the event loop while the deadline index is rebuilt."""
MEASURED_FROM = 20
"""Deadline commands a decided batch needs for its cost to count (a small batch's cost is its
round trip)."""


class Assignment(Protocol):
    """What the tracker needs of the consumer."""

    def ready(self) -> bool:
        """Whether the worker is neither rebalancing nor recovering its tables."""
        ...

    def owned_partitions(self) -> frozenset[int]:
        """The commands topic's partitions assigned to this worker."""
        ...


class Rows(Protocol):
    """What the tracker reads of the case store (``streams.state_store.CaseStore``)."""

    def rows(self, owned: Iterable[int]) -> Iterable[tuple[str, Pending]]:
        """(case id, pending deadlines) of the cases of the owned partitions."""
        ...

    def load(self, case_id: str, partition: int | None = None) -> bytes | None:
        """A case's table value."""
        ...

    def pending(self, case_id: str) -> Pending:
        """A case's pending deadlines as the table holds them now."""
        ...


Fire = Callable[[list[Keyed]], Awaitable[None]]
"""Send deadline commands (case id key, command) to the commands topic, stamped with
``FIRED_HEADER``, and return once the broker has them."""


class DeadlineTracker:
    """Indexes the owned partitions' deadlines and fires those due, at the decider's pace."""

    def __init__(
        self,
        assignment: Assignment,
        store: Rows,
        fire: Fire,
        queue_s: float,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.assignment = assignment
        self.store = store
        self.fire = fire
        self.queue_s = queue_s
        """The decider's time the fired commands in flight may take (its cost per command)."""
        self.clock = clock
        self.monotonic = monotonic
        self.heap = DeadlineHeap()
        self.in_flight = 0
        """Deadline commands fired and not yet taken by the decider."""
        self.cost = 0.001
        """The decider's seconds per command (moving average)."""
        self._owned: frozenset[int] | None = None  # the partitions the heap indexes
        self._indexing: asyncio.Task[None] | None = None  # the index being rebuilt, if any
        self._indexing_for: frozenset[int] | None = None
        self._touched: list[tuple[str, Pending]] | None = None  # re-added after a rebuild
        self._taken_at = monotonic()

    # ---- the decider's side ---------------------------------------------------------------
    async def taken(self, fired: int) -> None:
        """The decider took ``fired`` deadline commands: fire the next round now, before it
        decides this one."""
        if not fired:
            return
        self.in_flight = max(0, self.in_flight - fired)
        self._taken_at = self.monotonic()
        await self.scan()

    def measured(self, result: BatchResult, seconds: float, commands: int) -> None:
        """The decider spent ``seconds`` on ``commands`` commands that produced ``result``."""
        if result.deadline_commands >= MEASURED_FROM:
            self.cost += 0.2 * (seconds / commands - self.cost)

    def stored(self, result: BatchResult) -> None:
        """Index the new or moved deadlines of the states the decider has just stored."""
        for case_id, pending in result.deadlines.items():
            self.heap.add(case_id, pending)
            if self._touched is not None:
                self._touched.append((case_id, pending))
        self.heap.deadlines += result.deadline_delta

    # ---- the tick -------------------------------------------------------------------------
    async def scan(self) -> None:
        """Fire the deadlines due now, as many as the decider's pace allows; or, when the
        owned partitions changed, start indexing them and fire nothing."""
        if not self.assignment.ready():
            return
        owned = self.assignment.owned_partitions()
        if owned != self._owned:
            running = self._indexing is not None and not self._indexing.done()
            if not running or self._indexing_for != owned:
                self._indexing_for = owned
                self._indexing = asyncio.ensure_future(self.rebuild(owned))
            return  # nothing fires until the owned partitions are indexed
        worker_metrics.DEADLINES_PENDING.set(self.heap.deadlines)
        if self.in_flight and self.monotonic() - self._taken_at > STALLED_S:
            self.in_flight = 0  # some were lost (a rebalance): their re-arming fires them
        low, high = DEADLINE_COMMANDS_IN_FLIGHT
        budget = min(high, max(low, round(self.queue_s / self.cost))) - self.in_flight
        if budget <= 0:
            return
        now = self.clock()
        by_case: dict[str, list[DueDeadline]] = {}
        for due in self.heap.pop_due(now, self.store.pending, limit=budget):
            by_case.setdefault(due.case_id, []).append(due)
        records = [r for r in (self.command_for(d, now) for d in by_case.values()) if r is not None]
        if records and not self.in_flight:
            self._taken_at = self.monotonic()
        self.in_flight += len(records)
        await self.fire(records)

    async def rebuild(self, owned: frozenset[int]) -> None:
        """Index the pending deadlines of the ``owned`` partitions, yielding to the loop.

        The new index is built beside the old one and swapped in at the end; the cases the
        decider changes meanwhile (``stored``) are added again after the swap (a case read
        before its change would otherwise keep its old next time). Abandoned when the
        assignment changes again; the next scan starts over.
        """
        heap, touched = DeadlineHeap(), list[tuple[str, Pending]]()
        self._touched = touched
        try:
            for i, (case_id, pending) in enumerate(self.store.rows(owned), 1):
                heap.add(case_id, pending, len(pending))
                if i % INDEX_SLICE == 0:
                    await asyncio.sleep(0)
                    if self._indexing_for != owned:
                        return
            for case_id, pending in touched:
                heap.add(case_id, pending)
        except Exception as exc:  # the next scan starts over
            log.error("deadline_index_failed", error=repr(exc))
            return
        finally:
            if self._touched is touched:
                self._touched = None
        self.heap, self._owned = heap, owned
        worker_metrics.DEADLINES_PENDING.set(heap.deadlines)
        log.info(
            "deadlines_rebuilt", partitions=sorted(owned), pending=len(heap), touched=len(touched)
        )

    def command_for(self, due: list[DueDeadline], now: float) -> Keyed | None:
        """One command for a case's due deadlines (None if none of them exists any more).

        The command is the earliest one's; the decider decides the case's other deadlines
        due by then in the same step (the domain's ``fire_due``), so a case costs one
        command however many of its clocks expire together. A breach needs only what the
        index holds; a ladder rung's command is built from the decoded state.
        """
        first, case_id = due[0], due[0].case_id
        when = datetime.fromtimestamp(now, tz=UTC)
        command = next(
            (c for d in due if (c := breach_command(case_id, d.key, d.due_at, when))), None
        )
        if command is None:
            state = decode_state(self.store.load(case_id))
            deadline = None
            if state is not None:
                deadline = next((d for d in pending_deadlines(state) if d.key == first.key), None)
            if state is None or deadline is None:
                return None
            command = deadline_command(state, deadline, when)
        for d in due:
            late = now - d.due_at
            worker_metrics.DEADLINES_FIRED.inc()
            worker_metrics.DEADLINE_LATENESS.observe(max(0.0, late))
            log.debug("deadline_fired", case_id=case_id, key=d.key, late_s=round(late, 3))
        return case_id.encode(), encode_message(command)

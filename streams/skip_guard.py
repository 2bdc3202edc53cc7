"""The guard that has the consumer read again the command records Faust skipped.

faust-streaming (0.15) can drop a record it fetched without handing it to the agent (its fetch
loop marks a record read when flow control is suspended while it is being delivered, as in a
rebalance during start-up), and with one record missing it even commits past it. Seen in the
kill test: six raises never decided. Offsets on the commands topic are contiguous (no
compaction, no transactions), so a jump means a record was lost on the way. The guard watches
the offsets of every batch handed to the decider; on a jump it names the first one missed, the
decider seeks back to it after the batch (before it is acknowledged), the records from there
are handed over again (those already decided are duplicates: no events), and the missed one is
decided then. Records deleted by retention while the group was behind leave a gap no re-read
can fill: after ``REREADS_PER_GAP`` seeks back to one offset the jump is accepted.

Pure bookkeeping: partitions are any hashable value with a ``partition`` attribute (Faust's
``TP``), offsets come in as plain pairs, and the committed offsets are the caller's to read.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Protocol

from streams import worker_metrics
from whistle.logs import get_logger

log = get_logger()

REREADS_PER_GAP = 3
"""Seeks back to one skipped offset before the worker accepts the jump (records deleted by
retention while the group was behind leave a gap no re-read can fill)."""


class Partition(Protocol):
    """A topic partition as the consumer names it (Faust's ``TP``)."""

    @property
    def partition(self) -> int: ...

    def __hash__(self) -> int: ...


class SkipGuard:
    """Which offsets each partition should hand the decider next, and where to seek back."""

    def __init__(self, committed: Callable[[], Mapping[Any, int | None]]) -> None:
        self._committed = committed
        """The consumer's committed offsets: where a partition starts after an assignment."""
        self._expected: dict[Any, int] = {}  # next offset the decider should be handed
        self._rereading: dict[Any, int] = {}  # tp → offset sought back to, until it is handed
        self._rereads: dict[tuple[Any, int], int] = {}  # (tp, offset) → seeks back to it so far

    def check(self, handed: Iterable[tuple[Partition, int]]) -> dict[Any, int]:
        """Partitions whose records were not all handed to the decider: tp → first one missed.

        ``handed``: (partition, offset) of each record of a batch, in the order handed. The
        caller seeks each partition returned back to its offset after deciding the batch.
        """
        committed = self._committed()
        seeks: dict[Any, int] = {}
        for tp, offset in handed:
            if tp in self._rereading:
                sought = self._rereading[tp]
                if offset != sought:
                    continue  # fetched before the seek; the re-read starts at `sought`
                del self._rereading[tp]
                self._expected[tp] = sought
            expected = self._expected.get(tp, committed.get(tp))
            if expected is not None and offset > expected and tp not in seeks:
                times = self._rereads.get((tp, expected), 0) + 1
                if times <= REREADS_PER_GAP:
                    self._rereads[(tp, expected)] = times
                    log.warning(
                        "records_skipped_rereading",
                        partition=tp.partition,
                        missed_from=expected,
                        next_handed=offset,
                    )
                    worker_metrics.REREADS.inc()
                    seeks[tp] = expected
                    self._rereading[tp] = expected
                    continue
                log.error("records_skipped_for_good", partition=tp.partition, missed_from=expected)
            if tp not in seeks:
                self._expected[tp] = max(offset + 1, self._expected.get(tp, 0))
        return seeks

    def forget(self, revoked: Collection[Any]) -> None:
        """A revoked partition's next offset is its committed one when it comes back."""
        for tp in revoked:
            self._expected.pop(tp, None)
            self._rereading.pop(tp, None)
        self._rereads = {key: n for key, n in self._rereads.items() if key[0] not in revoked}

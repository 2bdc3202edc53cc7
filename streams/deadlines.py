"""Durable deadlines: an in-memory index over the pending deadlines of the partitions we own.

The durable record is the front of each case's value in the ``cases`` table (case id →
pending deadlines, then state; see ``streams.decider.encode_value``), co-partitioned with the
case and written by the decider with the state. The heap is only an index for "which case is
due next"; it is rebuilt from the table whenever the assignment changes. A case's deadlines are
fired only if the table still holds them, and re-armed a little later in case the firing
command is lost; the decider ignores a deadline command that has already taken effect.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

Pending = dict[str, float]
"""Deadline key → due time (epoch seconds) of one case."""

REARM_AFTER_S = 30.0


def encode_pending(pending: Pending) -> bytes:
    """Table value for one case's pending deadlines."""
    return json.dumps(pending, separators=(",", ":"), sort_keys=True).encode()


def decode_pending(raw: bytes | None) -> Pending:
    """Inverse of :func:`encode_pending`; an absent value is no deadline."""
    return json.loads(raw) if raw else {}


@dataclass(frozen=True)
class DueDeadline:
    """A deadline that has come due: which case, which deadline, when it was due."""

    case_id: str
    key: str
    due_at: float


class DeadlineHeap:
    """Next-due-time index of the cases of the owned partitions: one entry per case.

    A case with six open clocks costs one heap entry and one dict slot, not six objects, so a
    million open cases fit in a few hundred MiB. When a case's time comes, its pending
    deadlines are read from the table: the due ones fire, the rest (and the fired ones,
    re-armed in case the firing command is lost) set its next time.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []
        self._next: dict[str, float] = {}
        self.deadlines = 0
        """How many deadlines the indexed cases hold (for the pending-deadlines gauge)."""

    def __len__(self) -> int:
        return len(self._next)

    def rebuild(self, rows: Iterable[tuple[str, Pending]]) -> None:
        """Replace the index by the deadlines of ``rows`` (case id, pending), row by row as
        the worker builds it (``DeadlineTracker.rebuild`` adds each row, yielding between
        slices)."""
        self._heap, self._next, self.deadlines = [], {}, 0
        for case_id, pending in rows:
            self.add(case_id, pending, len(pending))

    def add(self, case_id: str, pending: Pending, delta: int = 0) -> None:
        """Index a case's new or moved deadlines; ``delta``: change of its deadline count."""
        self.deadlines += delta
        if pending:
            self._schedule(case_id, min(pending.values()))

    def _schedule(self, case_id: str, at: float) -> None:
        scheduled = self._next.get(case_id)
        if scheduled is None or at < scheduled:  # a later entry is superseded by this one
            self._next[case_id] = at
            heapq.heappush(self._heap, (at, case_id))

    def pop_due(
        self, now: float, current: Callable[[str], Pending], limit: int = 5000
    ) -> list[DueDeadline]:
        """The deadlines due at ``now`` that the table still holds, in due order of cases.

        At most ``limit`` cases; a case's due deadlines come together, earliest first.
        """
        fired: list[DueDeadline] = []
        cases = 0
        while self._heap and self._heap[0][0] <= now and cases < limit:
            at, case_id = heapq.heappop(self._heap)
            if self._next.get(case_id) != at:
                continue  # superseded by an earlier time
            del self._next[case_id]
            later: list[float] = []
            before = len(fired)
            for key, due in sorted(current(case_id).items(), key=lambda item: item[1]):
                if due <= now:
                    fired.append(DueDeadline(case_id, key, due))
                    later.append(now + REARM_AFTER_S)
                else:
                    later.append(due)
            if later:
                self._schedule(case_id, min(later))
            cases += len(fired) > before
        return fired


def changed(old: Pending, new: Pending) -> Pending:
    """The deadlines of ``new`` that ``old`` did not have with the same due time."""
    return {key: due for key, due in new.items() if old.get(key) != due}


def total(rows: Mapping[str, Pending]) -> int:
    """How many deadlines a mapping of cases holds."""
    return sum(len(p) for p in rows.values())

"""Durable deadlines: an in-memory heap over the deadlines table of the partitions we own.

The deadlines table (case id → pending deadlines) is the durable record, co-partitioned with
the cases and written by the decider. The heap is only an index for "what is due next"; it is
rebuilt from the table whenever the assignment changes. A popped entry is fired only if the
table still holds it, and it is re-armed a little later in case the firing command is lost;
the decider ignores a deadline command that has already taken effect.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

Pending = dict[str, float]
"""Deadline key → due time (epoch seconds) of one case."""

REARM_AFTER_S = 30.0


def encode_pending(pending: Pending) -> bytes:
    """Table value for one case's pending deadlines."""
    return json.dumps(pending, separators=(",", ":"), sort_keys=True).encode()


def decode_pending(raw: bytes | None) -> Pending:
    """Inverse of :func:`encode_pending`; an absent value is no deadline."""
    return json.loads(raw) if raw else {}


@dataclass(order=True)
class _Entry:
    fire_at: float
    case_id: str = field(compare=False)
    key: str = field(compare=False)
    due_at: float = field(compare=False)


@dataclass(frozen=True)
class DueDeadline:
    """A deadline that has come due: which case, which deadline, when it was due."""

    case_id: str
    key: str
    due_at: float


class DeadlineHeap:
    """Due-time index of the pending deadlines of the owned partitions."""

    def __init__(self) -> None:
        self._heap: list[_Entry] = []

    def __len__(self) -> int:
        return len(self._heap)

    def rebuild(self, rows: Iterable[tuple[str, Pending]]) -> None:
        """Replace the index by the deadlines of ``rows`` (case id, pending)."""
        self._heap = [
            _Entry(due, case_id, key, due)
            for case_id, pending in rows
            for key, due in pending.items()
        ]
        heapq.heapify(self._heap)

    def add(self, case_id: str, pending: Pending) -> None:
        """Index a case's (new) deadlines; stale entries are dropped when popped."""
        for key, due in pending.items():
            heapq.heappush(self._heap, _Entry(due, case_id, key, due))

    def pop_due(
        self, now: float, current: Callable[[str], Pending], limit: int = 5000
    ) -> list[DueDeadline]:
        """Pop the deadlines due at ``now`` that the table still holds; re-arm each one."""
        fired: list[DueDeadline] = []
        while self._heap and self._heap[0].fire_at <= now and len(fired) < limit:
            entry = heapq.heappop(self._heap)
            if current(entry.case_id).get(entry.key) != entry.due_at:
                continue  # met, moved or already taken effect: stale index entry
            fired.append(DueDeadline(entry.case_id, entry.key, entry.due_at))
            heapq.heappush(
                self._heap, _Entry(now + REARM_AFTER_S, entry.case_id, entry.key, entry.due_at)
            )
        return fired


def changed(old: Pending, new: Pending) -> Pending:
    """The deadlines of ``new`` that ``old`` did not have with the same due time."""
    return {key: due for key, due in new.items() if old.get(key) != due}


def rows_of(items: Iterable[tuple[bytes | str, bytes]]) -> Iterable[tuple[str, Pending]]:
    """Decode table items into (case id, pending) rows, skipping empty ones."""
    for key, raw in items:
        pending = decode_pending(raw)
        if pending:
            yield (key.decode() if isinstance(key, bytes) else key), pending


def total(rows: Mapping[str, Pending]) -> int:
    """How many deadlines a mapping of cases holds."""
    return sum(len(p) for p in rows.values())

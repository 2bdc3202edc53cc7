"""The recovery watchdog: when has a worker's table recovery stopped making progress?

Faust rebuilds a table partition the worker was just given by reading its changelog from the
offset the local store holds up to the changelog's last offset (its highwater), and the worker
neither decides commands nor fires deadlines until that is done. Once, in CI, a worker given a
dead worker's partitions read nothing of one changelog partition for minutes ("No event
received for active tp … since recovery start", from -1 towards 8): Faust warns every 5 s and
waits on. :class:`RecoveryWatchdog` decides, from what recovery has read, when it has read
nothing new for too long; the worker then stops its Faust process and its parent starts a
new one (``streams.worker``, ``streams.startup``), which reads the changelog from where the
local store is, with a new consumer.

Pure: it is given the time and the recovery's offsets, and keeps only the last ones it saw.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

Partition = tuple[str, int]
"""A changelog partition: topic and partition (Faust's ``TP`` is one)."""
Behind = dict[Partition, tuple[int | None, int | None]]
"""(offset read, offset wanted) per changelog partition."""


@dataclass(frozen=True)
class RecoveryProgress:
    """Where a table recovery in progress is, per changelog partition: the offset read (None:
    not known yet) and the offset it reads up to (None: not known yet)."""

    offsets: Mapping[Partition, int | None]
    highwaters: Mapping[Partition, int | None]

    def behind(self) -> Behind:
        """(offset read, offset wanted) of each partition not yet read up to its highwater."""
        behind: Behind = {}
        for tp, highwater in self.highwaters.items():
            offset = self.offsets.get(tp)
            if highwater is None or offset is None or offset < highwater:
                behind[tp] = (offset, highwater)
        return behind


@dataclass(frozen=True)
class Stall:
    """A recovery that has read nothing new for ``seconds``; ``behind`` as
    :meth:`RecoveryProgress.behind` (empty: everything read, yet recovery did not end)."""

    seconds: float
    behind: Behind

    def described(self) -> list[dict[str, object]]:
        """``behind`` as log fields: topic, partition, offset read, highwater."""
        return [
            {"topic": tp[0], "partition": tp[1], "offset": offset, "highwater": highwater}
            for tp in sorted(self.behind)
            for offset, highwater in [self.behind[tp]]
        ]


class RecoveryWatchdog:
    """Tells a stalled recovery from a slow one: a recovery is stalled once its offsets (and
    highwaters) have stayed the same for ``stall_after_s`` (0: never).

    Any change is progress: an offset read, or new highwaters (a new round of recovery after
    another rebalance). Not being in recovery resets it.
    """

    def __init__(self, stall_after_s: float) -> None:
        self.stall_after_s = stall_after_s
        self._seen: RecoveryProgress | None = None
        self._since = 0.0

    def check(self, now: float, progress: RecoveryProgress | None) -> Stall | None:
        """The stall, if the recovery in ``progress`` (None: no recovery in progress) has been
        the same since ``stall_after_s`` before ``now`` (a monotonic clock's seconds)."""
        if progress is None:
            self._seen = None
            return None
        if self._seen is None or progress != self._seen:
            self._seen, self._since = progress, now
            return None
        stalled_s = now - self._since
        if self.stall_after_s <= 0 or stalled_s < self.stall_after_s:
            return None
        return Stall(stalled_s, progress.behind())

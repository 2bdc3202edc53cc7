"""The deadline tracker fires what is due once its index covers the owned partitions, at the
decider's pace, and indexes again when the assignment changes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator

from streams.deadline_tracker import DEADLINE_COMMANDS_IN_FLIGHT, STALLED_S, DeadlineTracker
from streams.deadlines import Pending
from streams.decider import BatchResult
from streams.producer import Keyed
from whistle.domain import parse_command

NOW = 1_800_000_000.0
LOW, HIGH = DEADLINE_COMMANDS_IN_FLIGHT


class FakeConsumer:
    def __init__(self, owned: set[int]) -> None:
        self.owned = frozenset(owned)
        self.is_ready = True

    def ready(self) -> bool:
        return self.is_ready

    def owned_partitions(self) -> frozenset[int]:
        return self.owned


class FakeTable:
    """Cases' pending deadlines by partition (breach keys only: no state is needed)."""

    def __init__(self, partitions: dict[int, dict[str, Pending]]) -> None:
        self.partitions = partitions
        self.while_read: list[object] = []  # run once each, while the rows are read

    def rows(self, owned: Iterable[int]) -> Iterator[tuple[str, Pending]]:
        for partition in sorted(owned):
            for case_id, pending in list(self.partitions.get(partition, {}).items()):
                while self.while_read:
                    self.while_read.pop()()  # type: ignore[operator]
                if pending:
                    yield case_id, pending

    def load(self, case_id: str, partition: int | None = None) -> bytes | None:
        return None

    def pending(self, case_id: str) -> Pending:
        return next((p[case_id] for p in self.partitions.values() if case_id in p), {})


class Clock:
    def __init__(self) -> None:
        self.wall, self.mono = NOW, 100.0

    def time(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono


class Fired:
    def __init__(self) -> None:
        self.rounds: list[list[Keyed]] = []

    async def __call__(self, records: list[Keyed]) -> None:
        self.rounds.append(records)

    def cases(self) -> list[str]:
        return [key.decode() for key, _ in self.rounds[-1]] if self.rounds else []


def tracker(
    table: FakeTable, consumer: FakeConsumer, queue_s: float = 1.0
) -> tuple[DeadlineTracker, Fired, Clock]:
    fired, clock = Fired(), Clock()
    t = DeadlineTracker(consumer, table, fired, queue_s, clock.time, clock.monotonic)
    return t, fired, clock


async def indexed(t: DeadlineTracker) -> None:
    """Scan once (the index is rebuilt) and let the rebuild finish."""
    await t.scan()
    for _ in range(5):
        await asyncio.sleep(0)


def due(n: int, partition: int = 0, at: float = NOW - 1) -> dict[int, dict[str, Pending]]:
    return {partition: {f"c{partition}-{i:03}": {"ack:dept": at + i / 10_000} for i in range(n)}}


async def test_nothing_fires_until_the_owned_partitions_are_indexed() -> None:
    t, fired, _ = tracker(FakeTable(due(2)), FakeConsumer({0}))
    await t.scan()
    assert fired.rounds == []
    for _ in range(5):
        await asyncio.sleep(0)
    await t.scan()
    assert fired.cases() == ["c0-000", "c0-001"]
    command = parse_command(fired.rounds[-1][0][1] or b"")
    assert command.type == "BreachClock" and command.actor.role == "system"
    assert t.in_flight == 2


async def test_a_worker_rebalancing_or_recovering_fires_nothing() -> None:
    consumer = FakeConsumer({0})
    t, fired, _ = tracker(FakeTable(due(2)), consumer)
    await indexed(t)
    consumer.is_ready = False
    await t.scan()
    assert fired.rounds == []


async def test_a_new_assignment_is_indexed_again_before_anything_fires() -> None:
    consumer = FakeConsumer({0})
    t, fired, _ = tracker(FakeTable({**due(1, 0), **due(1, 1)}), consumer)
    await indexed(t)
    consumer.owned = frozenset({1})
    await t.scan()
    assert fired.rounds == []  # indexing partition 1
    for _ in range(5):
        await asyncio.sleep(0)
    await t.scan()
    assert fired.cases() == ["c1-000"]  # partition 0's case is another worker's now


async def test_in_flight_commands_are_kept_to_the_low_bound_and_topped_up_when_taken() -> None:
    t, fired, _ = tracker(FakeTable(due(50)), FakeConsumer({0}), queue_s=0.0)
    await indexed(t)
    await t.scan()
    assert len(fired.cases()) == LOW
    await t.scan()
    assert len(fired.rounds) == 1  # the decider has not taken them yet
    await t.taken(LOW)
    assert len(fired.cases()) == LOW and fired.cases()[0] == f"c0-{LOW:03}"


async def test_a_round_never_taken_counts_as_lost_after_a_while() -> None:
    t, fired, clock = tracker(FakeTable(due(50)), FakeConsumer({0}), queue_s=0.0)
    await indexed(t)
    await t.scan()
    clock.mono += STALLED_S + 1
    await t.scan()
    assert len(fired.cases()) == LOW and t.in_flight == LOW


async def test_the_decider_s_measured_cost_sets_the_round_size() -> None:
    t, fired, _ = tracker(FakeTable(due(3000)), FakeConsumer({0}), queue_s=1.0)
    await indexed(t)
    t.measured(BatchResult(deadline_commands=19), seconds=100.0, commands=19)  # too small
    await t.scan()
    assert len(fired.cases()) == 1000  # 1 s at the initial 1 ms a command
    t.measured(BatchResult(deadline_commands=1000), seconds=1000 * 0.0105, commands=1000)
    await t.taken(1000)
    assert len(fired.cases()) == round(1 / (0.001 + 0.2 * (0.0105 - 0.001)))


async def test_cases_decided_while_the_index_is_rebuilt_are_indexed_after_the_swap() -> None:
    table = FakeTable({0: {"early": {"ack:dept": NOW + 3600}}})
    t, fired, _ = tracker(table, FakeConsumer({0}))

    def decided_meanwhile() -> None:  # the decider moves the clock after the row was read
        table.partitions[0]["early"] = {"ack:dept": NOW - 1}
        result = BatchResult(deadlines={"early": {"ack:dept": NOW - 1}})
        t.stored(result)

    table.while_read.append(decided_meanwhile)
    await indexed(t)
    await t.scan()
    assert fired.cases() == ["early"]


async def test_stored_deadlines_are_indexed_and_counted() -> None:
    table = FakeTable({0: {}})
    t, fired, _ = tracker(table, FakeConsumer({0}))
    await indexed(t)
    table.partitions[0]["new"] = {"ack:dept": NOW - 1, "ack:other": NOW + 60}
    t.stored(BatchResult(deadlines={"new": table.partitions[0]["new"]}, deadline_delta=2))
    assert t.heap.deadlines == 2
    await t.scan()
    assert fired.cases() == ["new"]
    assert parse_command(fired.rounds[-1][0][1] or b"").deadline_key == "ack:dept"  # type: ignore[attr-defined]

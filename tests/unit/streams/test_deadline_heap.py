"""The deadline index fires what is due and still pending, once, and re-arms it."""

from __future__ import annotations

from streams.deadlines import (
    REARM_AFTER_S,
    DeadlineHeap,
    DueDeadline,
    Pending,
    decode_pending,
    encode_pending,
)


def test_fires_only_due_deadlines_in_due_order() -> None:
    heap = DeadlineHeap()
    table = {"a": {"ack:x": 10.0, "resolve:x": 50.0}, "b": {"ack:y": 5.0}}
    heap.rebuild(table.items())
    fired = heap.pop_due(20.0, lambda case: table.get(case, {}))
    assert [(d.case_id, d.key) for d in fired] == [("b", "ack:y"), ("a", "ack:x")]


def test_a_deadline_met_meanwhile_is_not_fired() -> None:
    heap = DeadlineHeap()
    table: dict[str, Pending] = {"a": {"ack:x": 10.0}}
    heap.rebuild(table.items())
    table["a"] = {}
    assert heap.pop_due(20.0, lambda case: table.get(case, {})) == []


def test_a_moved_deadline_fires_at_its_new_time_only() -> None:
    heap = DeadlineHeap()
    table = {"a": {"ack:x": 10.0}}
    heap.rebuild(table.items())
    table["a"] = {"ack:x": 30.0}
    heap.add("a", table["a"])
    assert heap.pop_due(20.0, lambda case: table[case]) == []
    assert [d.due_at for d in heap.pop_due(31.0, lambda case: table[case])] == [30.0]


def test_a_fired_deadline_still_pending_is_rearmed_not_repeated_at_once() -> None:
    heap = DeadlineHeap()
    table = {"a": {"ack:x": 10.0}}
    heap.rebuild(table.items())
    assert len(heap.pop_due(11.0, lambda case: table[case])) == 1
    assert heap.pop_due(11.0 + REARM_AFTER_S - 1, lambda case: table[case]) == []
    assert len(heap.pop_due(11.0 + REARM_AFTER_S, lambda case: table[case])) == 1


def test_pending_round_trips_through_table_bytes() -> None:
    pending = {"ack:urban_management": 1764000000.5}
    assert decode_pending(encode_pending(pending)) == pending
    assert decode_pending(None) == {}


def test_one_entry_per_case_however_many_clocks_it_has() -> None:
    heap = DeadlineHeap()
    table = {"a": {"ack:x": 10.0, "ack:y": 10.0, "resolve:x": 90.0}, "b": {"ack:z": 12.0}}
    heap.rebuild(table.items())
    assert len(heap) == 2 and heap.deadlines == 4
    fired = heap.pop_due(11.0, lambda case: table[case])
    assert sorted(d.key for d in fired) == ["ack:x", "ack:y"]
    table["a"] = {"resolve:x": 90.0}  # both breaches took effect
    assert heap.pop_due(11.0 + REARM_AFTER_S, lambda case: table[case]) == [
        DueDeadline("b", "ack:z", 12.0)
    ]
    # b re-armed at 41 + 30 (its breach not yet seen), then a at 90
    assert [d.key for d in heap.pop_due(95.0, lambda case: table[case])] == ["ack:z", "resolve:x"]


def test_an_earlier_deadline_supersedes_the_scheduled_time() -> None:
    heap = DeadlineHeap()
    table = {"a": {"resolve:x": 100.0}}
    heap.rebuild(table.items())
    table["a"] = {"resolve:x": 100.0, "ack:x": 20.0}
    heap.add("a", {"ack:x": 20.0}, delta=1)
    assert heap.deadlines == 2 and len(heap) == 1
    assert [d.key for d in heap.pop_due(25.0, lambda case: table[case])] == ["ack:x"]

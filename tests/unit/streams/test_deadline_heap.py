"""The deadline index fires what is due and still pending, once, and re-arms it."""

from __future__ import annotations

from streams.deadlines import REARM_AFTER_S, DeadlineHeap, Pending, decode_pending, encode_pending


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

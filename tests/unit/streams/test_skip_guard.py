"""The skip guard sends the consumer back to a record Faust fetched but never handed over."""

from __future__ import annotations

from faust.types import TP

from streams.skip_guard import SkipGuard

P0, P1 = TP("commands", 0), TP("commands", 1)


def guard(committed: dict[TP, int | None] | None = None) -> SkipGuard:
    offsets = committed if committed is not None else {}
    return SkipGuard(lambda: offsets)


def test_contiguous_batches_need_no_seek() -> None:
    g = guard({P0: 10})
    assert g.check([(P0, 10), (P0, 11), (P1, 0)]) == {}
    assert g.check([(P0, 12), (P1, 1)]) == {}


def test_a_jump_past_the_committed_offset_seeks_back_to_it() -> None:
    g = guard({P0: 10})
    assert g.check([(P0, 12), (P0, 13)]) == {P0: 10}


def test_a_jump_inside_the_stream_seeks_back_to_the_first_missed() -> None:
    g = guard()
    assert g.check([(P0, 5), (P0, 6)]) == {}  # nothing committed: the first one sets the pace
    assert g.check([(P0, 9), (P1, 3)]) == {P0: 7}


def test_records_fetched_before_the_seek_are_ignored_until_the_reread_starts() -> None:
    g = guard()
    g.check([(P0, 5)])
    assert g.check([(P0, 8)]) == {P0: 6}
    assert g.check([(P0, 9), (P0, 10)]) == {}  # still the old fetch: not a new gap
    assert g.check([(P0, 6), (P0, 7), (P0, 8)]) == {}  # the re-read, contiguous from 6
    assert g.check([(P0, 9)]) == {}


def test_a_gap_retention_emptied_costs_one_seek_not_a_loop() -> None:
    g = guard({P0: 0})
    assert g.check([(P0, 4)]) == {P0: 0}  # 0-3 were deleted while the group was behind
    # The consumer finds 0 gone and starts again from the earliest record left: no new seek.
    assert g.check([(P0, 4), (P0, 5)]) == {}
    assert g.check([(P0, 6)]) == {}


def test_a_revoked_partition_starts_again_from_its_committed_offset() -> None:
    committed: dict[TP, int | None] = {P0: 0}
    g = SkipGuard(lambda: committed)
    g.check([(P0, 0), (P0, 1)])
    g.forget({P0})
    committed[P0] = 20  # another worker decided up to there meanwhile
    assert g.check([(P0, 20)]) == {}
    assert g.check([(P0, 22)]) == {P0: 21}

"""A consumer-group member's part: it travels as JSON, and parts of different modes never add up."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.stories import T0
from whistle.whatif.group import MixedRun, combine_parts, from_json, to_json
from whistle.whatif.tally import Tally

SINCE, UNTIL = T0, T0 + timedelta(days=1)


def _part(delta: bool, unchanged: int) -> Tally:
    part = Tally(since=SINCE, until=UNTIL, delta=delta)
    for _ in range(unchanged):
        part.add_unchanged()
    return part


def test_a_delta_part_keeps_its_mode_and_its_unchanged_cases_as_json() -> None:
    back = from_json(to_json(_part(delta=True, unchanged=3)))
    assert (back.delta, back.unchanged, back.cases) == (True, 3, 3)


def test_parts_of_one_mode_add_up_and_of_two_modes_are_refused() -> None:
    total = combine_parts("r", [_part(True, 2), _part(True, 5)], SINCE, UNTIL)
    assert (total.delta, total.unchanged, total.cases) == (True, 7, 7)
    with pytest.raises(MixedRun, match="r"):
        combine_parts("r", [_part(True, 2), _part(False, 0)], SINCE, UNTIL)

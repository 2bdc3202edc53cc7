"""The duplicate scorer on the labelled pairs, and its parts."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from tests.stories.duplicate_pairs import KINDS, NOW, Pair, pairs
from whistle.read.similarity import (
    WINDOW,
    Text,
    bigrams,
    dice,
    eligible,
    fold,
    likeness,
    metres,
    rank,
)

QUALITY_FLOOR = 0.8
"""The issue's bar for precision and recall (figures: bench/bench_duplicates.py)."""


def suggested(pair: Pair) -> bool:
    """What the endpoint does with one candidate: eligible, then scored."""
    draft = pair.draft
    row = pair.case.row("WH-1")
    text = Text.of(draft.title, draft.description, draft.address, draft.category, draft.location)
    return eligible(draft.community, NOW, row) and likeness(text, Text.of_row(row)).suggested


def test_the_labelled_set_has_200_pairs_of_every_kind() -> None:
    kinds = Counter(p.kind for p in pairs())
    assert sum(kinds.values()) >= 200
    assert set(kinds) == set(KINDS)
    assert min(kinds.values()) >= 20, kinds
    labels = Counter(p.duplicate for p in pairs())
    assert labels[True] >= 60 and labels[False] >= 100, labels


def test_the_labelled_pairs_are_distinct() -> None:
    seen = Counter((p.draft, p.case) for p in pairs())
    assert max(seen.values()) == 1


def test_precision_and_recall_on_the_labelled_set_reach_the_floor() -> None:
    outcomes = Counter((p.duplicate, suggested(p)) for p in pairs())
    tp, fp, fn = outcomes[True, True], outcomes[False, True], outcomes[True, False]
    assert tp / (tp + fp) >= QUALITY_FLOOR, outcomes
    assert tp / (tp + fn) >= QUALITY_FLOOR, outcomes


@pytest.mark.parametrize("kind", ["other_community", "older", "closed"])
def test_cases_that_are_no_candidates_are_never_suggested(kind: str) -> None:
    chosen = [p for p in pairs() if p.kind == kind]
    assert chosen and not any(suggested(p) for p in chosen)


def test_words_for_the_same_problem_fold_to_one() -> None:
    assert fold("乱停车") == fold("违章停车") == fold("占道停车") == "违停"
    assert fold("摆摊") == fold("占道经营") == "摊贩"
    assert dice(bigrams(fold("步道口乱停车")), bigrams(fold("步道入口违章停车"))) > 0.5


def test_bigrams_skip_the_words_every_complaint_has() -> None:
    assert bigrams("居民，反映") == frozenset()
    assert bigrams("居民反映") == {"民反"}  # only the bigram across the two words stays
    assert bigrams("海堤路 12号") == {"海堤", "堤路", "12", "2号"}
    assert bigrams("a") == {"a"}


def test_the_place_is_the_address_without_its_district_street_and_community() -> None:
    full = Text.of("t", address="同安区大同街道金海社区滨海步道入口")
    short = Text.of("t", address="滨海步道入口")
    assert full.place == short.place
    compound = Text.of("t", address="芸溪社区芸溪小区地下车库")
    assert "小区" in compound.place  # a compound's name stays: 小区 is no administrative level
    assert "小镇" in Text.of("t", address="大嶝小镇门口").place


def test_locations_close_together_are_the_same_place() -> None:
    assert metres((24.7301, 118.1602), (24.7301, 118.1602)) == 0
    assert 180 < metres((24.7301, 118.1602), (24.7319, 118.1602)) < 220
    a = Text.of("滨海步道违停", location=(24.7301, 118.1602))
    near = Text.of("别的", location=(24.7305, 118.1602))
    far = Text.of("别的", location=(24.7401, 118.1602))
    assert likeness(a, near).place == 1.0
    assert likeness(a, far).place == 0.0


def test_why_names_what_is_alike() -> None:
    a = Text.of("滨海步道违停", "入口停满车", "滨海步道入口", "parking")
    same = likeness(a, Text.of("步道入口乱停车", "车停满入口", "滨海步道入口", "parking"))
    assert same.suggested and same.why == ("similar_text", "same_place")
    elsewhere = likeness(a, Text.of("滨海步道入口违停", "", "金海路菜市场", "parking"))
    assert "same_place" not in elsewhere.why
    other_problem = likeness(a, Text.of("垃圾桶满溢", "两天没人清运", "滨海步道入口", "sanitation"))
    assert other_problem.why == ("same_place",) and not other_problem.suggested


def test_only_open_cases_of_the_community_within_the_window_are_candidates() -> None:
    row = {"community": "c", "status": "routed", "raised_at": NOW - WINDOW}
    assert eligible("c", NOW, row)
    assert not eligible("d", NOW, row)
    assert not eligible("c", NOW, row | {"raised_at": NOW - WINDOW - timedelta(seconds=1)})
    assert not eligible("c", NOW, row | {"raised_at": NOW + timedelta(seconds=1)})
    assert not eligible("c", NOW, row | {"raised_at": None})
    for status in ("closed", "withdrawn", "duplicate"):
        assert not eligible("c", NOW, row | {"status": status})
    for status in ("raised", "routed", "in_progress", "resolved", "reopened"):
        assert eligible("c", NOW, row | {"status": status})


def test_rank_keeps_the_suggested_best_first_then_newest() -> None:
    draft = Text.of("滨海步道违停", "入口停满车", "滨海步道入口", "parking")
    base = {"title": "滨海步道违停", "description": "入口停满车", "address": "滨海步道入口"}
    rows = [
        base | {"case_id": "A", "category": "parking", "raised_at": NOW - timedelta(days=3)},
        base | {"case_id": "B", "category": "parking", "raised_at": NOW - timedelta(days=1)},
        base | {"case_id": "C", "category": "noise", "raised_at": NOW},
        {"case_id": "D", "title": "噪音", "address": "别处", "raised_at": NOW},
    ]
    ranked = rank(draft, rows, limit=5)
    assert [r["case_id"] for r, _ in ranked] == ["B", "A", "C"]
    assert [r["case_id"] for r, _ in rank(draft, rows, limit=1)] == ["B"]

"""The projection's rows agree with the domain's own fold of the same events."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from projections.apply import ApplyStats, apply_event, decode
from projections.model import Model
from tests.stories import Story, random_story
from whistle.domain import Event, encode, fold, parse_event

T0 = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)


def project(
    events: Sequence[Event | bytes], model: Model | None = None
) -> tuple[Model, ApplyStats]:
    """Apply events (or encoded ones) to an in-memory model."""
    model = model or Model()
    stats = ApplyStats()
    for i, event in enumerate(events):
        raw = event if isinstance(event, bytes) else encode(event)
        decoded = decode(raw)
        assert decoded is not None
        apply_event(model, decoded, raw.decode(), 0, i, stats)
    return model, stats


def test_random_stories_agree_with_the_domain_fold() -> None:
    rng = random.Random(7)
    for n in range(300):
        story = random_story(rng, f"case-{n}", T0 + timedelta(hours=n))
        state = fold(parse_event(raw) for raw in story.encoded())
        assert state is not None
        model, stats = project(story.events)
        case = model.cases[story.case_id].case
        assert stats.applied == len(story.events) and stats.gaps == 0
        assert case["applied_seq"] == state.seq
        assert case["status"] == state.status
        assert case["lead_department"] == state.lead
        assert case["reopen_count"] == state.reopen_count
        assert case["resolved_at"] == state.resolved_at
        assert case["closed_at"] == state.closed_at
        assert case["escalation_tier"] == state.escalation_tier
        assert case["callback_count"] == state.callbacks
        assert set(case["departments"]) == set(state.assignments)
        clocks = model.cases[story.case_id].table("clocks")
        for key, clock in state.clocks.items():
            kind, department = key.split(":", 1)
            row = clocks[(kind, department)]
            assert row["due_at"] == clock.due_at, key
            assert (row["breached_at"] is not None) == clock.breached, key
            assert (row["status"] == "met") == (clock.met_at is not None), key


def test_a_redelivered_event_is_skipped_and_a_different_one_is_a_conflict() -> None:
    story = Story("c-1", "tongan.datong.jinhai")
    story.raised(T0)
    story.routed(T0 + timedelta(minutes=1), "urban_management")
    model, stats = project([*story.events, story.events[1], story.events[0]])
    assert (stats.applied, stats.duplicates, stats.conflicts) == (2, 2, 0)
    assert len(model.timeline) == 2
    forged = json.loads(encode(story.events[1]))
    forged["event_id"] = "another"
    _, stats = project([json.dumps(forged).encode()], model)
    assert (stats.applied, stats.conflicts) == (0, 1)


def test_a_gap_is_counted_but_applied() -> None:
    story = Story("c-2", "tongan.datong.jinhai")
    story.raised(T0)
    story.routed(T0, "urban_management")
    story.acknowledged(T0 + timedelta(minutes=3), "urban_management")
    model, stats = project([story.events[0], story.events[2]])
    assert stats.gaps == 1
    assert model.cases["c-2"].case["applied_seq"] == 3


def test_without_the_timeline_the_rows_are_the_same() -> None:
    rng = random.Random(11)
    for n in range(50):
        story = random_story(rng, f"case-{n}", T0 + timedelta(hours=n))
        with_rows, _ = project(story.events)
        model, stats = Model(), ApplyStats()
        for raw in story.encoded():
            decoded = decode(raw)
            assert decoded is not None
            apply_event(model, decoded, raw.decode(), 0, 0, stats, timeline=False)
        assert model.cases == with_rows.cases and model.dirty == with_rows.dirty
        assert not model.timeline and len(with_rows.timeline) == len(story.events)

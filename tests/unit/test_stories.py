"""The story builder's random cases are histories the domain decided, in time order, streamed."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from itertools import islice

from tests.stories import random_events, random_stories
from whistle.domain import fold, parse_event

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_random_stories_decode_and_fold_back_to_the_state_the_domain_reached() -> None:
    kinds: set[str] = set()
    for story in random_stories(random.Random(3), 300, T0, timedelta(hours=1)):
        decoded = [parse_event(raw) for raw in story.encoded()]
        assert decoded == story.events
        assert fold(decoded) == story.state
        instants = [event.occurred_at for event in story.events]
        assert instants == sorted(instants), story.case_id
        kinds |= {event.type for event in story.events}
    assert {"AssignmentDisputed", "ClockBreached", "ClockResumed", "ExtensionGranted"} <= kinds
    assert {"CaseReopened", "CaseWithdrawn", "CaseClosed", "CaseEscalated"} <= kinds


def test_random_events_are_made_as_they_are_taken() -> None:
    events = random_events(random.Random(1), 10**9, T0)
    first = list(islice(events, 50))
    assert len(first) == 50
    assert first[0][0] == b"case-000000000"
    assert parse_event(first[0][1]).type == "WhistleRaised"

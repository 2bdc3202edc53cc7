"""Given events read back from the log, when a command, then the same decision as in memory."""

from __future__ import annotations

from datetime import timedelta

from tests.stories import LEAD, ack, complete, joint, resolve, working_story
from whistle.domain import (
    CaseResolved,
    Rejection,
    decide,
    encode,
    fold,
    parse_event,
)
from whistle.domain.state import decode_state


def test_decisions_on_a_state_folded_from_decoded_events_match_the_live_state() -> None:
    story = working_story()
    story.do(joint((LEAD, "transport"), at=story.now + timedelta(hours=2)))
    given = [parse_event(encode(e)) for e in story.events]
    from_log = fold(given)
    from_table = decode_state(encode(story.s))
    assert from_log == story.s == from_table

    refused = decide(from_log, resolve(), story.now)
    assert isinstance(refused, Rejection) and refused.code == "joint_action_incomplete"

    done = complete("transport")
    outcomes = [decide(state, done, story.now) for state in (from_log, from_table, story.s)]
    encoded = [[encode(e) for e in outcome] for outcome in outcomes if isinstance(outcome, list)]
    assert len(encoded) == 3 and encoded[0] == encoded[1] == encoded[2] and len(encoded[0]) == 1
    story.do(done)
    [resolved] = story.do(resolve())
    assert isinstance(resolved, CaseResolved) and resolved.seq == len(story.events)
    replayed = fold(parse_event(encode(e)) for e in story.events)
    assert decide(replayed, done, story.now) == []  # the retry is recognised after a replay
    late = decide(replayed, ack(LEAD), story.now)
    assert isinstance(late, Rejection) and late.code == "case_resolved"

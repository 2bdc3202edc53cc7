"""What ``decide``, ``route`` and the deadline tracker build without re-validation equals the
validated model, for every event type; and the folded state (a msgspec record) reads what the
pydantic model wrote before it and gives the same time-travel document."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from pydantic import BaseModel

from tests.stories import (
    LEAD,
    SECRETARY,
    T0,
    Story,
    ack,
    attach,
    callback,
    cid,
    close,
    complete,
    contact,
    dispute,
    duplicate,
    escalate,
    grant,
    joint,
    liaison,
    pause,
    photo,
    progress,
    publish,
    raise_whistle,
    refuse,
    reopen,
    report_in,
    request_ext,
    resolve,
    resume,
    routed_story,
    rule,
    system_breach_command,
    withdraw,
    working_story,
)
from whistle.domain import (
    ClockPlan,
    Event,
    RaiseWhistle,
    deadline_command,
    fold,
    parse_event,
    pending_deadlines,
)
from whistle.domain.events import ALL_EVENTS
from whistle.domain.prevalidated import builder
from whistle.domain.reactions import follow_ups
from whistle.domain.sla import plan_clock
from whistle.domain.state import (
    StateDecodeError,
    decode_state,
    encode_state,
    state_document,
    state_from_document,
)
from whistle.domain.steps.merge import MergeDuplicate

FIXTURES = Path(__file__).parent / "fixtures"


def every_event() -> list[Event]:
    """One long case and two short ones whose events include every event type."""
    story = working_story()
    story.later(minutes=5).do(contact(LEAD))
    story.do(dispute("culture_tourism"))
    story.do(rule("culture_tourism"))  # upheld
    story.do(dispute("culture_tourism"))
    story.do(rule("culture_tourism", new="market_regulation"))  # reassigned
    story.do(ack("market_regulation"))
    story.do(joint((LEAD, "public_security"), at=story.now + timedelta(hours=2)))
    story.later(hours=2).do(report_in(LEAD))
    story.do(report_in("public_security"))
    story.do(progress(LEAD))
    story.do(attach("progress", liaison(LEAD), photo(1), photo(2)))
    story.do(pause())
    story.later(hours=1).do(resume())
    story.do(request_ext(LEAD, until=T0 + timedelta(days=20)))
    story.do(refuse(f"resolve:{LEAD}"))
    story.do(request_ext(LEAD, until=T0 + timedelta(days=20)))
    story.do(grant(f"resolve:{LEAD}"))
    story.do(escalate())
    story.do(complete("public_security"))
    story.do(resolve())
    story.do(callback(solved=False, satisfied=False, fault="department"))
    story.do(reopen())
    story.do(resolve())
    story.do(callback())
    story.do(publish())
    story.do(close())

    late = routed_story()
    key = next(d.key for d in pending_deadlines(late.s) if d.kind == "breach")
    fired = late.s.clocks[key].due_at + timedelta(minutes=1)
    late.do(system_breach_command(late.s, key, fired), at=fired)
    rung = next(d for d in pending_deadlines(late.s) if d.kind == "escalate")
    late.do(deadline_command(late.s, rung, rung.due_at), at=rung.due_at)

    withdrawn = Story()
    withdrawn.do(raise_whistle(case_id="K-0002"))
    withdrawn.do(withdraw().model_copy(update={"case_id": "K-0002"}))
    twin = Story()
    twin.do(raise_whistle(case_id="K-0003"))
    twin.do(duplicate("K-0002").model_copy(update={"case_id": "K-0003"}))
    merged = Story()
    merged.do(raise_whistle(case_id="K-0004"))
    into = merged.do(
        MergeDuplicate(
            command_id=cid(), case_id="K-0004", actor=SECRETARY, original_case_id="K-0002"
        )
    )
    [record] = follow_ups(into)
    withdrawn.do(record)
    return story.events + late.events + withdrawn.events + twin.events + merged.events


def assert_equals_validated(model: BaseModel) -> None:
    validated = type(model).model_validate(model.model_dump())
    assert validated == model
    assert validated.model_dump_json() == model.model_dump_json()


def test_every_event_decide_builds_equals_the_validated_event() -> None:
    events = every_event()
    assert {type(e) for e in events} == set(ALL_EVENTS)
    for event in events:
        assert_equals_validated(event)


def test_clock_plans_and_deadline_commands_equal_validated_ones() -> None:
    story = routed_story()
    for plan in story.events[-1].clocks:  # type: ignore[attr-defined]
        assert_equals_validated(plan)
    assert_equals_validated(plan_clock("ack", LEAD, "working", timedelta(hours=2), T0))
    for d in pending_deadlines(story.s):
        assert_equals_validated(deadline_command(story.s, d, d.due_at))


def test_a_builder_fills_defaults_and_refuses_unknown_fields() -> None:
    given = {
        "command_id": "c-1",
        "case_id": "K-9",
        "actor": raise_whistle().actor,
        "community": "tongan.datong.jinhai",
        "category": "noise",
        "title": "t",
        "address": "金海社区",
    }
    built = builder(RaiseWhistle)(given)
    assert built == RaiseWhistle.model_validate(given)
    assert built.model_fields_set == set(given)
    assert built.channel == "whistle" and built.requester is None
    with pytest.raises(ValueError, match=r"[Ee]xtra"):
        builder(ClockPlan)({"kind": "ack", "colour": "red"})


def test_the_state_reads_table_values_the_pydantic_model_wrote() -> None:
    """``fixtures/state-v1.json``: the events of a 15-command lifecycle (``bench_domain``'s) and
    the states the pydantic ``CaseState`` folded from them at three steps, as it wrote them
    (``model_dump_json(exclude_defaults=True)`` for the table, ``model_dump(mode="json")`` for
    time travel)."""
    recorded = json.loads((FIXTURES / "state-v1.json").read_text(encoding="utf-8"))
    events = [parse_event(e) for e in recorded["events"]]
    assert len(recorded["states"]) == 3
    for seq, old in recorded["states"].items():
        state = fold(events[: int(seq)])
        assert state is not None and state.seq == int(seq)
        assert decode_state(old["table"]) == state
        assert state_document(state) == old["full"] | {"photos": {}}  # a field added since
        assert state_from_document(old["full"]) == state
        assert decode_state(encode_state(state)) == state


def test_equal_states_encode_to_equal_bytes() -> None:
    state = working_story().s
    ids = sorted(state.applied_command_ids)
    shuffled = msgspec.structs.replace(state, applied_command_ids=frozenset(reversed(ids)))
    assert encode_state(shuffled) == encode_state(state)
    assert json.loads(encode_state(state))["applied_command_ids"] == ids


@pytest.mark.parametrize(
    "change",
    [
        {"seq": -1},
        {"status": "lost"},
        {"raised_at": "2025-09-22T09:00:00"},  # no offset
        {"colour": "red"},
    ],
)
def test_a_state_with_a_wrong_field_is_refused(change: dict[str, Any]) -> None:
    document = {**state_document(routed_story().s), **change}
    with pytest.raises(StateDecodeError):
        decode_state(json.dumps(document))
    with pytest.raises(StateDecodeError):
        state_from_document(document)

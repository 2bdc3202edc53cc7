"""The decider's batch step: chained states, replies, dead letters, and identical replays."""

from __future__ import annotations

import json

from streams.decider import (
    BatchResult,
    CommandRecord,
    decide_batch,
    decode_state,
    encode_value,
    pending_in,
    pending_of,
)
from whistle.domain import (
    Acknowledge,
    Actor,
    CaseState,
    RaiseWhistle,
    RouteCase,
    WhistleRaised,
    encode,
    load_rules,
    parse_event,
    route,
)

SECRETARY = Actor(user_id="sec", role="secretary", area="tongan.datong.jinhai")
T0 = 1_795_000_000_000


def raise_record(case_id: str, offset: int = 0) -> CommandRecord:
    """A RaiseWhistle record for a parking whistle in 金海社区."""
    command = RaiseWhistle(
        command_id=f"raise-{case_id}",
        case_id=case_id,
        actor=SECRETARY,
        community="tongan.datong.jinhai",
        category="parking",
        title="违停",
        address="金海社区",
    )
    return CommandRecord(case_id.encode(), encode(command), T0 + offset, 0, offset)


def run(records: list[CommandRecord], store: dict[str, bytes]) -> BatchResult:
    """One batch against an in-memory state store, which it updates like the agent does."""
    result = decide_batch(records, lambda case_id, _: store.get(case_id))
    store.update(result.states)
    return result


def test_commands_for_one_case_chain_within_a_batch() -> None:
    store: dict[str, bytes] = {}
    raised = run([raise_record("A")], store)
    event = parse_event(raised.events[0][1])
    state = decode_state(store["A"])
    assert isinstance(state, CaseState)
    route_command = route(load_rules(), event, event.occurred_at)  # type: ignore[arg-type]
    lead = route_command.lead
    ack = Acknowledge(
        command_id="ack-A",
        case_id="A",
        actor=Actor(user_id="l", role="liaison", department=lead),
        department=lead,
    )
    batch = [
        CommandRecord(b"A", encode(route_command), T0 + 1, 0, 1),
        CommandRecord(b"A", encode(ack), T0 + 2, 0, 2),
    ]
    result = run(batch, store)
    seqs = [json.loads(value)["seq"] for _, value in result.events]
    assert seqs == [2, 3]
    assert result.outcomes == {"accepted": 2}
    assert "ack:" + lead not in result.deadlines["A"]
    assert "ack:" + lead not in pending_in(store["A"])


def test_a_repeated_command_is_a_duplicate_with_no_events() -> None:
    store: dict[str, bytes] = {}
    run([raise_record("A")], store)
    again = run([raise_record("A", 5)], store)
    assert again.events == []
    assert json.loads(again.replies[0][1])["status"] == "duplicate"


def test_undecodable_records_become_dead_letters_and_the_batch_goes_on() -> None:
    store: dict[str, bytes] = {}
    bad = CommandRecord(b"X", b"{not json", T0, 0, 0)
    result = run([bad, raise_record("B", 1)], store)
    assert [value for _, value, _ in result.dead_letters] == [b"{not json"]
    assert result.outcomes == {"dead_letter": 1, "accepted": 1}


def test_replaying_a_batch_from_the_same_state_yields_identical_bytes() -> None:
    first = decide_batch([raise_record("C")], lambda *_: None)
    again = decide_batch([raise_record("C")], lambda *_: None)
    assert first.events == again.events
    assert first.states == again.states


def routed_run(records: list[CommandRecord], store: dict[str, bytes]) -> BatchResult:
    """One batch with the router in force, as the worker runs it."""
    rules = load_rules()

    def router(event: WhistleRaised) -> RouteCase:
        return route(rules, event, event.occurred_at)

    result = decide_batch(records, lambda case_id, _: store.get(case_id), router)
    store.update(result.states)
    return result


def test_a_raised_whistle_is_routed_in_the_same_step_with_one_reply() -> None:
    store: dict[str, bytes] = {}
    result = routed_run([raise_record("R")], store)
    kinds = [json.loads(body)["type"] for _, body in result.events]
    assert kinds == ["WhistleRaised", "CaseRouted"]
    assert [json.loads(body)["seq"] for _, body in result.events] == [1, 2]
    assert [json.loads(body)["status"] for _, body in result.replies] == ["accepted"]
    state = decode_state(store["R"])
    assert state is not None and state.status == "routed"
    assert result.deadlines["R"]  # the routed clocks are pending deadlines at once


def test_a_replayed_raise_routes_identically_and_a_duplicate_routes_nothing() -> None:
    first = routed_run([raise_record("S")], {})
    again = routed_run([raise_record("S")], {})  # a crash before the state was stored
    assert again.events == first.events
    store: dict[str, bytes] = {}
    routed_run([raise_record("T")], store)
    repeat = routed_run([raise_record("T", offset=5)], store)  # the API retried the POST
    assert repeat.events == []
    assert [json.loads(body)["status"] for _, body in repeat.replies] == ["duplicate"]


def test_a_table_value_holds_the_deadlines_before_the_state() -> None:
    store: dict[str, bytes] = {}
    routed_run([raise_record("V")], store)
    value = store["V"]
    state = decode_state(value)
    assert state is not None
    assert pending_in(value) == pending_of(state) != {}
    assert encode_value(state) == value
    bare = state.model_dump_json().encode()  # a value without the deadlines in front
    assert decode_state(bare) == state
    assert pending_in(bare) == pending_of(state)
    assert pending_in(None) == {} and decode_state(None) is None


def test_an_accepted_reply_carries_the_command_events_as_json() -> None:
    result = routed_run([raise_record("J")], {})
    body = json.loads(result.replies[0][1])
    assert body["status"] == "accepted" and body["case_id"] == "J"
    assert [e["type"] for e in body["events"]] == ["WhistleRaised"]  # not the routing's
    assert body["events"][0] == json.loads(result.events[0][1])

"""The decider's batch step: chained states, replies, dead letters, and identical replays."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from streams.decider import (
    BatchResult,
    CommandRecord,
    by_urgency,
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
    deadline_command,
    decide,
    encode,
    evolve,
    load_rules,
    parse_event,
    pending_deadlines,
    route,
)
from whistle.domain.state import encode_state

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
    bare = encode_state(state)  # a value without the deadlines in front
    assert decode_state(bare) == state
    assert pending_in(bare) == pending_of(state)
    assert pending_in(None) == {} and decode_state(None) is None


def test_an_accepted_reply_carries_the_command_events_as_json() -> None:
    result = routed_run([raise_record("J")], {})
    body = json.loads(result.replies[0][1])
    assert body["status"] == "accepted" and body["case_id"] == "J"
    assert [e["type"] for e in body["events"]] == ["WhistleRaised"]  # not the routing's
    assert body["events"][0] == json.loads(result.events[0][1])


def fire_record(state: CaseState, key: str, at_ms: int, offset: int = 0) -> CommandRecord:
    """The tracker's command for one pending deadline of ``state``, fired at ``at_ms``."""
    deadline = next(d for d in pending_deadlines(state) if d.key == key)
    fired_at = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
    command = deadline_command(state, deadline, fired_at)
    return CommandRecord(state.case_id.encode(), encode(command), at_ms, 0, offset)


def due_keys(state: CaseState, at_ms: int) -> list[str]:
    """Keys of the deadlines of ``state`` due at ``at_ms``, earliest first."""
    at = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
    due = sorted((d.due_at, d.key) for d in pending_deadlines(state) if d.due_at <= at)
    return [key for _, key in due]


def effects(result_events: list[tuple[str, bytes]]) -> list[tuple[str, str, int | None]]:
    """(type, clock, ladder level) of events, sorted: what happened, whatever the order."""
    out = []
    for _, body in result_events:
        e = json.loads(body)
        out.append((e["type"], e.get("clock_key") or "", e.get("level")))
    return sorted(out, key=lambda item: (item[0], item[1], item[2] or 0))


def test_one_firing_decides_every_deadline_of_the_case_due_by_then() -> None:
    store: dict[str, bytes] = {}
    routed_run([raise_record("M")], store)
    state = decode_state(store["M"])
    assert state is not None
    late = T0 + 3 * 86_400_000  # three days on: every ack clock and some ladder rungs are due
    keys = due_keys(state, late)
    assert len([k for k in keys if k.startswith("ack:")]) >= 2
    chained = run([fire_record(state, keys[0], late)], store)
    after = decode_state(store["M"])
    assert after is not None and due_keys(after, late) == []
    seqs = [json.loads(body)["seq"] for _, body in chained.events]
    assert seqs == list(range(state.seq + 1, state.seq + 1 + len(seqs)))
    # the same effects as the domain deciding each deadline on its own, one at a time
    current, events = state, []
    while pending := due_keys(current, late):
        deadline = next(d for d in pending_deadlines(current) if d.key == pending[0])
        at = datetime.fromtimestamp(late / 1000, tz=UTC)
        outcome = decide(current, deadline_command(current, deadline, at), at)
        assert isinstance(outcome, list) and len(outcome) == 1
        current = evolve(current, outcome[0])
        events.append(("M", encode(outcome[0])))
    assert effects(chained.events) == effects(events)
    assert {e[0] for e in effects(chained.events)} == {"ClockBreached", "CaseEscalated"}


def test_a_replayed_firing_chains_identically_and_a_repeat_adds_nothing() -> None:
    store: dict[str, bytes] = {}
    routed_run([raise_record("N")], store)
    state = decode_state(store["N"])
    assert state is not None
    late = T0 + 3 * 86_400_000
    record = fire_record(state, due_keys(state, late)[0], late)
    before = dict(store)
    first = run([record], store)
    again = run([record], dict(before))  # a crash before the state was stored
    assert again.events == first.events and again.states == first.states
    repeat = run([fire_record(state, due_keys(state, late)[0], late + 30_000, 1)], store)
    assert repeat.events == [] and repeat.replies == []


def test_whistles_go_before_the_trackers_firings_and_a_case_keeps_its_order() -> None:
    def rec(key: str, offset: int, fired: bool) -> CommandRecord:
        return CommandRecord(key.encode(), b"{}", T0, 0, offset, fired)

    batch = [rec("a", 0, True), rec("b", 1, False), rec("c", 2, True), rec("a", 3, False)]
    first, then = by_urgency(batch)
    assert [r.offset for r in first] == [0, 1, 3]  # a's firing stays before a's command
    assert [r.offset for r in then] == [2]
    assert by_urgency(batch[1:2]) == [batch[1:2]]
    assert by_urgency([batch[2]]) == [[batch[2]]]


def test_a_rejection_reply_carries_the_code_its_params_and_the_english_message() -> None:
    store: dict[str, bytes] = {}
    run([raise_record("A")], store)
    again = RaiseWhistle.model_validate(
        {**json.loads(raise_record("A").value or b"{}"), "command_id": "raise-A-again"}
    )
    result = run([CommandRecord(b"A", encode(again), T0 + 5, 0, 1)], store)
    ((key, value),) = result.replies
    assert key == "raise-A-again"
    assert json.loads(value) == {
        "command_id": "raise-A-again",
        "case_id": "A",
        "status": "rejected",
        "code": "case_exists",
        "params": {"case_id": "A"},
        "message": "Case A already exists.",
    }

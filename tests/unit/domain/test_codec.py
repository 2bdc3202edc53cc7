"""Decoding and encoding: discriminated unions, readable errors, the v1 → v2 upcast."""

from __future__ import annotations

import json

import pytest

from tests.stories import T0, raise_whistle, routed_story
from whistle.domain import (
    Acknowledge,
    DecodeError,
    WhistleRaised,
    encode,
    parse_command,
    parse_event,
)
from whistle.domain.state import decode_state, state_document, state_from_document


def test_commands_round_trip_through_json() -> None:
    command = raise_whistle()
    assert parse_command(encode(command)) == command
    assert parse_command(encode(command).decode()) == command
    assert parse_command(json.loads(encode(command))) == command


def test_events_round_trip_and_keep_chinese_unescaped() -> None:
    story = routed_story()
    for event in story.events:
        data = encode(event)
        assert parse_event(data) == event
        assert encode(parse_event(data)) == data
    assert "滨海浪漫线".encode() in encode(story.events[0])


def test_state_round_trips_through_json() -> None:
    state = routed_story().s
    assert state_from_document(state_document(state)) == state
    assert decode_state(encode(state)) == state


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{not json", "malformed JSON"),
        (b"[1, 2]", "JSON object"),
        (b"\xff\xfe", "malformed JSON"),
        ('{"type": "Explode"}', "Explode"),
    ],
)
def test_malformed_commands_raise_a_decode_error(data: bytes | str, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        parse_command(data)


def test_an_invalid_command_names_the_field() -> None:
    data = json.loads(encode(raise_whistle()))
    data["urgency"] = "whenever"
    with pytest.raises(DecodeError, match="urgency"):
        parse_command(data)
    assert issubclass(DecodeError, ValueError)


def test_a_command_needs_an_address_or_location() -> None:
    data = json.loads(encode(raise_whistle()))
    data["address"] = None
    with pytest.raises(DecodeError, match="address or a location"):
        parse_command(data)


def test_parse_command_gives_the_concrete_class() -> None:
    data = {
        "type": "Acknowledge",
        "command_id": "c1",
        "case_id": "K1",
        "actor": {"user_id": "u", "role": "liaison", "department": "transport"},
        "department": "transport",
    }
    assert isinstance(parse_command(data), Acknowledge)


def test_unknown_event_type_and_version() -> None:
    event = json.loads(encode(routed_story().events[1]))
    with pytest.raises(DecodeError, match="unknown event type"):
        parse_event({**event, "type": "CaseVanished"})
    with pytest.raises(DecodeError, match="unknown schema_version 7"):
        parse_event({**event, "schema_version": 7})
    with pytest.raises(DecodeError, match="integer"):
        parse_event({**event, "schema_version": "1"})


def test_upcast_v1_whistle_raised_to_v2() -> None:
    """v1 WhistleRaised had no ``channel``: stored v1 events read as community whistles."""
    v2 = json.loads(encode(routed_story().events[0]))
    v1 = {k: v for k, v in v2.items() if k != "channel"} | {"schema_version": 1}
    event = parse_event(json.dumps(v1, ensure_ascii=False))
    assert isinstance(event, WhistleRaised)
    assert event.schema_version == 2 and event.channel == "whistle"
    assert event.occurred_at == T0


def test_a_current_event_without_a_required_field_is_invalid() -> None:
    v2 = json.loads(encode(routed_story().events[0]))
    del v2["channel"]
    with pytest.raises(DecodeError, match="channel"):
        parse_event(v2)

"""Properties of the decoders of Kafka records: whatever arrives, ``parse_command`` and
``parse_event`` give a message of the right kind or raise ``DecodeError`` (which sends the
record to the dead letters), never anything else; what they accept re-encodes to itself."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.stories import (
    LEAD,
    ack,
    callback,
    close,
    complete,
    contact,
    dispute,
    duplicate,
    escalate,
    progress,
    publish,
    raise_whistle,
    reopen,
    resolve,
    withdraw,
    working_story,
)
from whistle.domain import Command, DecodeError, Event, encode, parse_command, parse_event
from whistle.domain.codec import EVENT_TYPES

COMMANDS = [
    json.loads(encode(c))
    for c in (
        raise_whistle(),
        ack(LEAD),
        dispute(LEAD),
        contact(LEAD),
        progress(LEAD),
        complete(LEAD),
        resolve(),
        callback(),
        reopen(),
        close(),
        withdraw(),
        duplicate("K-0002"),
        escalate(),
        publish(),
    )
]
EVENTS = [json.loads(encode(e)) for e in working_story().events]

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome_of(parse: Any, data: Any, kind: type) -> Any:
    """The parsed message, or None for a DecodeError; any other exception fails the test."""
    try:
        message = parse(data)
    except DecodeError:
        return None
    assert isinstance(message, kind)
    return message


@st.composite
def mutated(draw: st.DrawFn, originals: list[dict[str, Any]]) -> dict[str, Any]:
    """A valid message with one field removed, replaced by any JSON, or one field added."""
    message = dict(draw(st.sampled_from(originals)))
    key = draw(st.sampled_from(sorted(message)))
    action = draw(st.sampled_from(["drop", "replace", "add"]))
    if action == "drop":
        del message[key]
    elif action == "replace":
        message[key] = draw(JSON)
    else:
        message[draw(st.text(min_size=1, max_size=10))] = draw(JSON)
    return message


@FAST
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_any_bytes_decode_or_raise_a_decode_error(data: bytes | str) -> None:
    outcome_of(parse_command, data, Command)
    outcome_of(parse_event, data, Event)


@FAST
@given(JSON)
def test_any_json_value_decodes_or_raises_a_decode_error(value: Any) -> None:
    text = json.dumps(value)
    outcome_of(parse_command, text, Command)
    outcome_of(parse_event, text, Event)


@FAST
@given(mutated(COMMANDS))
def test_a_mutated_command_is_refused_or_survives_a_round_trip(raw: dict[str, Any]) -> None:
    command = outcome_of(parse_command, json.dumps(raw), Command)
    if command is not None:
        assert parse_command(encode(command)) == command


@FAST
@given(mutated(EVENTS))
def test_a_mutated_event_is_refused_or_survives_a_round_trip(raw: dict[str, Any]) -> None:
    event = outcome_of(parse_event, json.dumps(raw), Event)
    if event is not None:
        assert parse_event(encode(event)) == event


@FAST
@given(st.sampled_from(EVENTS), st.integers() | st.text() | st.floats() | st.booleans())
def test_an_unknown_schema_version_is_refused(event: dict[str, Any], version: Any) -> None:
    known = EVENT_TYPES[event["type"]].SCHEMA_VERSION
    raw = {**event, "schema_version": version}
    parsed = outcome_of(parse_event, raw, Event)
    if type(version) is int and 1 <= version <= known:
        return  # the current version, or one the upcasters lift
    assert parsed is None, f"schema_version {version!r} accepted"


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(COMMANDS + EVENTS))
def test_valid_messages_round_trip_byte_for_byte(raw: dict[str, Any]) -> None:
    data = json.dumps(raw, ensure_ascii=False).encode()
    if "schema_version" in raw:
        assert encode(parse_event(data)) == encode(parse_event(encode(parse_event(data))))
    else:
        assert parse_command(encode(parse_command(data))) == parse_command(data)


@FAST
@given(st.sampled_from(COMMANDS), st.text(max_size=10), st.text(max_size=10))
def test_a_command_with_a_nul_character_is_refused(
    raw: dict[str, Any], before: str, after: str
) -> None:
    text_fields = sorted(k for k, v in raw.items() if isinstance(v, str) and k != "type")
    field = text_fields[len(before) % len(text_fields)]
    data = json.dumps({**raw, field: before + "\x00" + after})
    assert outcome_of(parse_command, data, Command) is None
    assert outcome_of(parse_command, data.encode(), Command) is None


def test_an_escaped_backslash_before_u0000_is_not_a_nul() -> None:
    raw = {**COMMANDS[0], "title": "C:\\u0000"}
    assert parse_command(json.dumps(raw)).title == "C:\\u0000"  # type: ignore[attr-defined]

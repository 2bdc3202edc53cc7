"""Decode and encode commands and events: discriminated unions, upcasting, compact JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias, Union

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from whistle.domain.base import Command, Event
from whistle.domain.commands import ALL_COMMANDS
from whistle.domain.events import ALL_EVENTS
from whistle.domain.state import CaseState, encode_state

if TYPE_CHECKING:
    AnyCommand: TypeAlias = Command
    AnyEvent: TypeAlias = Event
else:
    AnyCommand = Annotated[Union[ALL_COMMANDS], Field(discriminator="type")]  # noqa: UP007
    """Any command, told apart by its ``type`` (the union of ``ALL_COMMANDS``)."""
    AnyEvent = Annotated[Union[ALL_EVENTS], Field(discriminator="type")]  # noqa: UP007
    """Any event, told apart by its ``type`` (the union of ``ALL_EVENTS``)."""

COMMAND_ADAPTER: TypeAdapter[AnyCommand] = TypeAdapter(AnyCommand)
EVENT_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)

EVENT_TYPES: dict[str, type[Event]] = {cls.__name__: cls for cls in ALL_EVENTS}

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class DecodeError(ValueError):
    """A message that cannot be decoded: malformed JSON, unknown type or schema version."""


def _whistle_raised_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 WhistleRaised had no ``channel``: every v1 case was a community whistle."""
    return {**data, "channel": data.get("channel", "whistle"), "schema_version": 2}


UPCASTERS: dict[tuple[str, int], Upcaster] = {
    ("WhistleRaised", 1): _whistle_raised_v1_to_v2,
}
"""(event type, version) → function lifting a raw event one version up."""


def _as_dict(data: bytes | str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(data, dict):
        return data
    try:
        decoded = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecodeError(f"malformed JSON: {exc}") from exc
    if not isinstance(decoded, dict):
        raise DecodeError("a message must be a JSON object")
    return decoded


def _reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['msg']}" if loc else err["msg"])
    return "; ".join(parts)


_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
"""A JSON ``\\u0000`` escape (not an escaped backslash followed by ``u0000``)."""


def _refuse_nul(data: bytes | str | dict[str, Any]) -> None:
    """NUL characters cannot be stored by PostgreSQL: a command carrying one would reach the
    event log and then fail every projection of it, so it is refused (dead-lettered) here. (A
    raw NUL byte is not valid JSON: ``_as_dict`` refuses that one.)"""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if isinstance(raw, bytes) and b"\\u0000" in raw and _JSON_NUL.search(raw):
        raise DecodeError("a command must not contain NUL characters (U+0000)")


def parse_command(data: bytes | str | dict[str, Any]) -> Command:
    """Decode and validate a command; raise ``DecodeError`` with a readable reason."""
    _refuse_nul(data)
    raw = _as_dict(data)
    try:
        return COMMAND_ADAPTER.validate_python(raw)
    except ValidationError as exc:
        raise DecodeError(f"invalid command {raw.get('type')!r}: {_reason(exc)}") from exc


def upcast(raw: dict[str, Any]) -> dict[str, Any]:
    """Lift a raw event to its current schema version; unknown types/versions raise."""
    kind = raw.get("type")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise DecodeError(f"unknown event type {kind!r}")
    version = raw.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool):
        raise DecodeError(f"schema_version must be an integer, got {version!r}")
    while version < cls.SCHEMA_VERSION:
        step = UPCASTERS.get((cls.__name__, version))
        if step is None:
            raise DecodeError(f"no upcaster for {cls.__name__} v{version}")
        raw = step(raw)
        version = raw["schema_version"]
    if version != cls.SCHEMA_VERSION:
        raise DecodeError(
            f"unknown schema_version {version} for {cls.__name__} (known ≤ {cls.SCHEMA_VERSION})"
        )
    return raw


def parse_event(data: bytes | str | dict[str, Any]) -> Event:
    """Decode, upcast and validate an event; raise ``DecodeError`` with a readable reason."""
    raw = upcast(_as_dict(data))
    try:
        return EVENT_ADAPTER.validate_python(raw)
    except ValidationError as exc:
        raise DecodeError(f"invalid event {raw.get('type')!r}: {_reason(exc)}") from exc


def encode(message: BaseModel | CaseState) -> bytes:
    """Compact UTF-8 JSON of a command, event or state (non-ASCII kept as is; a state's fields
    equal to their defaults left out, see ``whistle.domain.state.encode_state``)."""
    if isinstance(message, CaseState):
        return encode_state(message)
    return message.model_dump_json().encode("utf-8")

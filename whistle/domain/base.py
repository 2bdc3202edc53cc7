"""Base types shared by every command and event: the actor, the envelopes, the rejection."""

from __future__ import annotations

import hashlib
import importlib
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, Literal, cast

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Role = Literal["secretary", "liaison", "supervisor", "admin", "system"]

EVENT_ID_NAMESPACE = uuid.UUID("6f1c2a3e-9b7d-4c1e-8a55-0d3b2f4e7a91")


class Frozen(BaseModel):
    """Immutable pydantic model that rejects unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Actor(Frozen):
    """Who issued a command: a person in a role, or the system (router, deadlines)."""

    user_id: str = Field(min_length=1, max_length=128)
    role: Role
    department: str | None = Field(default=None, description="Department code of a liaison.")
    area: str | None = Field(default=None, description="Area code of a secretary/supervisor.")


SYSTEM = Actor(user_id="system", role="system")


class Command(Frozen):
    """Imperative request to change one case. ``type`` names the concrete command."""

    type: str
    command_id: str = Field(min_length=1, max_length=128, description="Unique per request.")
    case_id: str = Field(min_length=1, max_length=64)
    actor: Actor


class Event(Frozen):
    """Something that happened to a case; the envelope fields are set by ``decide``."""

    SCHEMA_VERSION: ClassVar[int] = 1
    CE_NAME: ClassVar[str] = ""

    type: str
    event_id: str
    case_id: str
    seq: int = Field(ge=1, description="Gap-free per-case sequence number from 1.")
    occurred_at: AwareDatetime
    actor: Actor
    command_id: str
    schema_version: int = 1


class Rejection(Frozen):
    """A refused command: a stable machine code, its params, and the message a person can act
    on, rendered from the code's templates (``whistle.domain.rejections``)."""

    code: str
    message: str = Field(description="In English (logs, older readers).")
    command_id: str = ""
    case_id: str = ""
    message_zh: str | None = Field(default=None, description="The same in Chinese.")
    params: dict[str, str] = Field(
        default_factory=dict, description="What the message names: department, clock, case id."
    )


def _builtin_sha1() -> Callable[[bytes], Any]:
    """CPython's own SHA-1 (module ``_sha1``), else hashlib's.

    For the short inputs of event ids the built-in one is about twice as fast: hashlib's
    OpenSSL-backed constructor sets up an EVP context on every call.
    """
    try:
        return cast(Callable[[bytes], Any], importlib.import_module("_sha1").sha1)
    except (ImportError, AttributeError):  # pragma: no cover - other interpreters
        return hashlib.sha1


_sha1 = _builtin_sha1()
_NAMESPACE_BYTES = EVENT_ID_NAMESPACE.bytes
_VARIANT = {f"{n:x}": f"{(n & 0x3) | 0x8:x}" for n in range(16)}


def event_id_for(command_id: str, seq: int) -> str:
    """Deterministic event id: a retried command yields the same ids.

    Equal to ``str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{command_id}:{seq}"))``, computed directly
    from the SHA-1 hex digest (version nibble 5, RFC 4122 variant) because it is on the hot path.
    """
    h = _sha1(_NAMESPACE_BYTES + f"{command_id}:{seq}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


def envelope(command: Command, seq: int, now: datetime) -> dict[str, object]:
    """Envelope fields for the event number ``seq`` produced by ``command`` at ``now``."""
    return {
        "event_id": event_id_for(command.command_id, seq),
        "case_id": command.case_id,
        "seq": seq,
        "occurred_at": now,
        "actor": command.actor,
        "command_id": command.command_id,
    }

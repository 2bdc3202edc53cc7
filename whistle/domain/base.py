"""Base types shared by every command and event: the actor, the envelopes, the rejection."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any, ClassVar, Literal

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


ActsFor = Literal["department", "lead"]

COMMAND_CLASSES: dict[str, type[Command]] = {}
"""Command type → class, in declaration order: every concrete command registers itself."""
EVENT_CLASSES: dict[str, type[Event]] = {}
"""Event type → class, in declaration order: every concrete event registers itself."""


def _concrete_type(cls: type[BaseModel]) -> str | None:
    """The ``type`` literal a concrete message class declares (None for abstract bases)."""
    field = cls.model_fields.get("type")
    default = field.default if field is not None else None
    return default if isinstance(default, str) else None


class Command(Frozen):
    """Imperative request to change one case. ``type`` names the concrete command.

    A concrete command declares, beside its fields, who may issue it (``ROLES``), whether a
    liaison issues it for a named department or only for the lead (``ACTS_FOR``), and
    whether the HTTP API offers it (``INTERNAL``: issued by the system only). Its decider is
    registered beside it with ``@decides`` (``whistle.domain.decisions.base``).
    """

    ROLES: ClassVar[frozenset[Role]] = frozenset()
    ACTS_FOR: ClassVar[ActsFor | None] = None
    INTERNAL: ClassVar[bool] = False

    type: str
    command_id: str = Field(min_length=1, max_length=128, description="Unique per request.")
    case_id: str = Field(min_length=1, max_length=64)
    actor: Actor

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Register a concrete command; refuse one that names nobody who may issue it."""
        super().__pydantic_init_subclass__(**kwargs)
        name = _concrete_type(cls)
        if name is None:
            return
        if not cls.ROLES:
            raise TypeError(f"command {name} declares no ROLES (who may issue it)")
        if name in COMMAND_CLASSES:
            raise TypeError(f"command type {name} declared twice")
        COMMAND_CLASSES[name] = cls


class Event(Frozen):
    """Something that happened to a case; the envelope fields are set by ``decide``.

    A concrete event registers itself; its ``evolve`` handler is registered beside that
    function with ``@evolves`` (``whistle.domain.evolve``).
    """

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

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Register a concrete event."""
        super().__pydantic_init_subclass__(**kwargs)
        name = _concrete_type(cls)
        if name is None:
            return
        if name in EVENT_CLASSES:
            raise TypeError(f"event type {name} declared twice")
        EVENT_CLASSES[name] = cls


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


_sha1 = hashlib.sha1
_NAMESPACE_BYTES = EVENT_ID_NAMESPACE.bytes
_VARIANT = {f"{n:x}": f"{(n & 0x3) | 0x8:x}" for n in range(16)}


def event_id_for(command_id: str, seq: int) -> str:
    """Deterministic event id: a retried command yields the same ids.

    Equal to ``str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{command_id}:{seq}"))``, computed directly
    from the SHA-1 hex digest (version nibble 5, RFC 4122 variant) because it is on the hot path.
    """
    h = _sha1(_NAMESPACE_BYTES + f"{command_id}:{seq}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"

"""Small value objects carried inside commands and events."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import AwareDatetime, ConfigDict, Field
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError

from whistle.domain.base import Frozen
from whistle.domain.types import ClockKind, ClockMode, EscalationStep, Tier

PERSONAL_DATA: JsonDict = {"x-personal-data": True}


class GeoPoint(Frozen):
    """WGS-84 coordinates of the problem."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Requester(Frozen):
    """The resident who asked; personal data, never published nor sent to webhooks unmasked."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=PERSONAL_DATA)

    name: str | None = Field(default=None, max_length=64, json_schema_extra=PERSONAL_DATA)
    phone: str | None = Field(default=None, max_length=32, json_schema_extra=PERSONAL_DATA)


class ClockPlan(Frozen):
    """One SLA clock as routed: its budget, how time is counted and the due time computed then."""

    kind: ClockKind
    department: str
    mode: ClockMode
    budget: timedelta = Field(description="Allowed time; working time when mode is 'working'.")
    started_at: AwareDatetime
    due_at: AwareDatetime

    @property
    def key(self) -> str:
        """Stable clock key within the case, e.g. ``ack:urban_management``."""
        return clock_key(self.kind, self.department)


class LadderRung(Frozen):
    """One step of the escalation ladder: fires ``after`` the breached clock's due time."""

    step: EscalationStep
    tier: Tier
    after: timedelta = Field(ge=timedelta(0))


def clock_key(kind: str, department: str) -> str:
    """The key of the clock ``kind`` of ``department`` (``resolve:urban_management``)."""
    return f"{kind}:{department}"


def as_aware(value: datetime) -> datetime:
    """Reject naive datetimes early: every instant in Whistle carries its offset."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise PydanticCustomError("naive_datetime", "datetime must be timezone-aware")
    return value

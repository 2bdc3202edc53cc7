"""What the API reads, as a protocol: the Postgres read models in production, fakes in tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from whistle.api.identity import Principal

Row = dict[str, Any]
GroupBy = Literal["department", "community", "street", "district", "category"]
Period = Literal["day", "week", "month", "all"]
RankBy = Literal["score", "response_rate", "resolution_rate", "satisfaction_rate", "average_score"]


@dataclass(frozen=True, slots=True)
class Scope:
    """The slice of cases a caller may see: an area prefix, a department, or everything."""

    area: str | None = None
    department: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> Scope:
        """The scope of ``principal`` (admin: everything)."""
        if principal.role == "liaison":
            return cls(department=principal.department or "\x00none")
        if principal.role == "admin":
            return cls()
        return cls(area=principal.area or "\x00none")


@dataclass(frozen=True, slots=True)
class CaseFilters:
    """Filters of a case listing."""

    status: tuple[str, ...] = ()
    category: str | None = None
    department: str | None = None
    area: str | None = None
    raised_after: datetime | None = None
    raised_before: datetime | None = None
    case_ids: tuple[str, ...] = ()
    published_only: bool = False
    duplicate_of: str | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Lag:
    """How far the read models are behind the event log."""

    events: int
    seconds: float | None


class ReadModel(Protocol):
    """Queries over the read models; every case row carries ``area`` and ``departments``."""

    async def case(self, case_id: str) -> Row | None:
        """One case with its assignments and clocks, or None."""
        ...

    async def case_scope(self, case_id: str) -> Row | None:
        """Just what scope checks need: ``area`` and ``departments`` (one indexed lookup)."""
        ...

    async def cases(self, scope: Scope, filters: CaseFilters) -> list[Row]:
        """Cases in ``scope`` matching ``filters``, newest first."""
        ...

    async def timeline(self, case_id: str) -> list[Row]:
        """Every event of the case, in order."""
        ...

    async def case_timeline(self, case_id: str) -> tuple[Row, list[Row]] | None:
        """The case's scope columns (``area``, ``departments``) and its events in order, in
        one round trip; None when there is no such case."""
        ...

    async def whistles(self, case_ids: list[str]) -> dict[str, Row]:
        """The WhistleRaised body (address, location, description…) of each case."""
        ...

    async def follow_ups(self, case_ids: list[str]) -> dict[str, Row]:
        """What a resident following each case is told beyond its row: ``expected_at`` (the
        due time of the lead's resolve clock) and ``summary`` (the 晒事 text, once published)."""
        ...

    async def breaches(self, scope: Scope) -> list[Row]:
        """Breached clocks of open cases in ``scope``."""
        ...

    async def disputes(self, scope: Scope) -> list[Row]:
        """Disputes awaiting a ruling in ``scope``."""
        ...

    async def joint_actions(self, scope: Scope) -> list[Row]:
        """集结 of open cases in ``scope``, soonest first, with each department's 报到."""
        ...

    async def extensions(self, scope: Scope) -> list[Row]:
        """Extension requests awaiting a decision in ``scope``."""
        ...

    async def escalations(self, scope: Scope) -> list[Row]:
        """催办 / 督办 / 通报 of open cases in ``scope``, newest first."""
        ...

    async def metrics(
        self,
        scope: Scope,
        group_by: GroupBy,
        period: Period,
        since: datetime | None,
        until: datetime | None,
    ) -> list[Row]:
        """三率 and times per group (and per period bucket)."""
        ...

    async def rankings(
        self,
        scope: Scope,
        group_by: GroupBy,
        by: RankBy,
        since: datetime | None,
        until: datetime | None,
    ) -> list[Row]:
        """排名: groups ranked by ``by`` (higher is better), ties sharing a rank."""
        ...

    async def lag(self) -> Lag:
        """The projection lag."""
        ...

    async def ping(self) -> None:
        """Raise when the database does not answer."""
        ...

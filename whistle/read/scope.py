"""What a caller may see, and which cases a listing wants: one rule, in memory and in SQL.

A ``Scope`` holds a case when the case's area lies within the scope's area (the area itself
or beneath it: ``whistle.domain.areas.within``) and the scope's department is one of the
case's departments; a missing part does not restrict. ``Scope.holds`` is that rule in memory
(the API's per-case checks, the in-memory read model of the tests); ``scope_sql`` is the same
rule as a SQL condition, the only place that writes it, for every read-model table:

- a cases row knows its most precise area (``area``: community, compound or grid), so the
  area is matched by dotted prefix;
- a cohort row (assignments, callbacks, clocks, metric_days) knows only its case's
  ``district``, ``street`` and ``community``, which answers the same for a scope area at
  community depth or above (every user's area is); a deeper one is refused, never guessed.

``CaseFilters.matches`` and ``filters_sql`` are the same pair for a listing's filters.
tests/integration/api/test_read_contract.py checks that both forms agree, over generated
areas and scopes in PostgreSQL, and over whole listings against the in-memory model.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from whistle.domain.areas import within

if TYPE_CHECKING:
    from whistle.api.identity import Principal

Row = dict[str, Any]
NOBODY = "\x00none"
"""The area or department of a user who lacks one: no case carries it, so it holds nothing."""
COHORT_DEPTH = 3
"""Parts of a community code (district.street.community): the deepest area cohort columns name."""


@dataclass(frozen=True, slots=True)
class Scope:
    """The slice of cases a caller may see: an area, a department, both, or everything."""

    area: str | None = None
    department: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> Scope:
        """The scope of ``principal``: a liaison's department, an admin's everything, else the
        user's area (a user without the one its role needs sees nothing)."""
        if principal.role == "liaison":
            return cls(department=principal.department or NOBODY)
        if principal.role == "admin":
            return cls()
        return cls(area=principal.area or NOBODY)

    def holds(self, area: str | None, departments: Sequence[str]) -> bool:
        """Whether a case in ``area`` assigned to ``departments`` lies in this scope (what
        ``scope_sql`` renders)."""
        if self.department is not None and self.department not in departments:
            return False
        return self.area is None or within(area, self.area)


EVERYTHING = Scope()


@dataclass(frozen=True, slots=True)
class Columns:
    """Where the rows a scope restricts keep the case's area and the department."""

    area: str
    """Alias of the row carrying the area columns."""
    department: str
    """The department column, qualified (``c.departments``, ``b.department``)."""
    many: bool = False
    """``department`` is an array (a case's departments) rather than one department."""
    cohort: bool = False
    """The row has only the cohort columns (district, street, community), not ``area``."""


CASES = Columns("c", "c.departments", many=True)
"""A ``cases`` row aliased ``c``."""


def of_department(alias: str, case: str = "c") -> Columns:
    """A per-department row ``alias`` joined to its case ``case`` (a clock, a dispute…)."""
    return Columns(case, f"{alias}.department")


def cohort(alias: str, department: str = "department") -> Columns:
    """A cohort row ``alias`` with its own department column (metrics tables)."""
    return Columns(alias, f"{alias}.{department}", cohort=True)


class Params:
    """The numbered parameters of one statement, from ``$first``; a value bound under a key
    keeps one number however many conditions use it."""

    def __init__(self, first: int = 1) -> None:
        self.values: list[Any] = []
        self._first = first
        self._bound: dict[Hashable, str] = {}

    def add(self, value: Any) -> str:
        """A new parameter holding ``value``; its placeholder."""
        self.values.append(value)
        return f"${self._first + len(self.values) - 1}"

    def bind(self, key: Hashable, value: Any) -> str:
        """The placeholder bound to ``key``, adding ``value`` the first time."""
        if key not in self._bound:
            self._bound[key] = self.add(value)
        return self._bound[key]


def require_cohort_depth(scope: Scope) -> None:
    """Refuse (ValueError) a scope whose area lies below a community: cohort rows cannot
    tell it (``scope_sql`` over them, and the in-memory read model alike)."""
    if scope.area is not None and scope.area.count(".") >= COHORT_DEPTH:
        raise ValueError(f"cohort rows cannot tell an area below a community: {scope.area!r}")


def scope_sql(scope: Scope, params: Params, columns: Columns = CASES, key: str = "scope") -> str:
    """``Scope.holds`` as a SQL condition over ``columns``; its values go to ``params``."""
    clauses = []
    if scope.area is not None:
        a = columns.area
        p = params.bind((key, "area"), scope.area)
        if not columns.cohort:
            clauses.append(f"({a}.area = {p} OR starts_with({a}.area, {p} || '.'))")
        else:
            require_cohort_depth(scope)
            clauses.append(f"{p} IN ({a}.district, {a}.street, {a}.community)")
    if scope.department is not None:
        p = params.bind((key, "department"), scope.department)
        d = columns.department
        clauses.append(f"{p} = ANY({d})" if columns.many else f"{d} = {p}")
    return " AND ".join(clauses) or "true"


@dataclass(frozen=True, slots=True)
class CaseFilters:
    """Filters of a case listing (within a scope); empty or None means any."""

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

    @property
    def narrowed(self) -> Scope:
        """The area and department filters, which narrow as a scope does."""
        return Scope(area=self.area, department=self.department)

    def matches(self, row: Row) -> bool:
        """Whether a case row passes the filters (what ``filters_sql`` renders)."""
        raised = row.get("raised_at")
        return (
            (not self.status or row["status"] in self.status)
            and (self.category is None or row.get("category") == self.category)
            and (self.duplicate_of is None or row.get("duplicate_of") == self.duplicate_of)
            and self.narrowed.holds(row.get("area"), row.get("departments") or ())
            and (self.raised_after is None or (raised is not None and raised >= self.raised_after))
            and (self.raised_before is None or (raised is not None and raised < self.raised_before))
            and (not self.published_only or row.get("published_at") is not None)
            and (not self.case_ids or row["case_id"] in self.case_ids)
        )


def filters_sql(filters: CaseFilters, params: Params) -> list[str]:
    """``CaseFilters.matches`` as SQL conditions over a ``cases`` row ``c``."""
    where = [scope_sql(filters.narrowed, params, CASES, key="filters")]
    if filters.status:
        where.append(f"c.status = ANY({params.add(list(filters.status))})")
    if filters.category is not None:
        where.append(f"c.category = {params.add(filters.category)}")
    if filters.duplicate_of is not None:
        where.append(f"c.duplicate_of = {params.add(filters.duplicate_of)}")
    if filters.raised_after is not None:
        where.append(f"c.raised_at >= {params.add(filters.raised_after)}")
    if filters.raised_before is not None:
        where.append(f"c.raised_at < {params.add(filters.raised_before)}")
    if filters.published_only:
        where.append("c.published_at IS NOT NULL")
    if filters.case_ids:
        where.append(f"c.case_id = ANY({params.add(list(filters.case_ids))})")
    return [w for w in where if w != "true"]


NEWEST_FIRST = "c.raised_at DESC NULLS LAST, c.case_id"
"""The order of a listing (``newest_first`` in memory)."""


def newest_first(rows: list[Row]) -> list[Row]:
    """``rows`` in ``NEWEST_FIRST`` order."""
    dated = sorted((r for r in rows if r.get("raised_at") is not None), key=lambda r: r["case_id"])
    dated.sort(key=lambda r: r["raised_at"], reverse=True)  # stable: ties stay by case id
    return dated + sorted(
        (r for r in rows if r.get("raised_at") is None), key=lambda r: r["case_id"]
    )

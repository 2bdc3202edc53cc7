"""In-memory read-model rows of a set of cases, shared by the live projector and the rebuild."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from projections.tables import CHILD_TABLES, TABLES

Row = dict[str, Any]
Key = tuple[Any, ...]


@dataclass(slots=True)
class CaseRows:
    """The ``cases`` row of one case and its rows in every per-case child table."""

    case: Row
    children: dict[str, dict[Key, Row]] = field(default_factory=dict)

    def table(self, name: str) -> dict[Key, Row]:
        """The rows of child table ``name`` for this case, by key (without case_id)."""
        rows = self.children.get(name)
        if rows is None:
            rows = self.children[name] = {}
        return rows


def new_case_row(case_id: str) -> Row:
    """A ``cases`` row with every column at its default."""
    row = TABLES["cases"].defaults()
    row["case_id"] = case_id
    return row


@dataclass
class Model:
    """Rows of the cases touched so far, the timeline rows to append, and the dirty cases."""

    cases: dict[str, CaseRows] = field(default_factory=dict)
    timeline: list[tuple[Any, ...]] = field(default_factory=list)
    dirty: set[str] = field(default_factory=set)
    stored: set[str] = field(default_factory=set)
    """Cases whose rows are in the database (loaded from it, or written by a committed batch)."""

    def evict(self, keep: int, protect: set[str] | frozenset[str] = frozenset()) -> None:
        """Forget the oldest cases beyond ``keep``, except ``protect`` (rows not yet stored)."""
        excess = len(self.cases) - keep
        if excess <= 0:
            return
        for case_id in list(self.cases):
            if excess <= 0:
                break
            if case_id in protect:
                continue
            del self.cases[case_id]
            self.stored.discard(case_id)
            excess -= 1

    def case_rows(self, case_id: str) -> CaseRows:
        """The rows of ``case_id``, creating an empty case when it is new."""
        rows = self.cases.get(case_id)
        if rows is None:
            rows = self.cases[case_id] = CaseRows(new_case_row(case_id))
        return rows

    def child(self, case_id: str, table: str, key: Key, create: bool = True) -> Row | None:
        """The child row ``key`` of ``table`` for a case, created with defaults when missing.

        The hottest path of the handlers (routing creates a case's clocks and assignments
        here): written flat, without the helper calls above.
        """
        rows = self.cases.get(case_id)
        if rows is None:
            rows = self.cases[case_id] = CaseRows(new_case_row(case_id))
        children = rows.children.get(table)
        if children is None:
            children = rows.children[table] = {}
        row = children.get(key)
        if row is None and create:
            spec = CHILD_TABLES[table]
            row = spec.defaults()
            row["case_id"] = case_id
            case = rows.case
            for column in spec.cohort:
                row[column] = case[column]
            row.update(zip(spec.child_key, key, strict=True))
            children[key] = row
        return row

    def children(self, case_id: str, table: str) -> dict[Key, Row]:
        """Every row of ``table`` for a case, by key."""
        return self.case_rows(case_id).table(table)

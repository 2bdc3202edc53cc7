"""The area hierarchy (district → street → community → compound → grid) and department registry.

Area codes are dotted paths (``tongan.datong.jinhai``), so ancestors are known from the code
alone; names and kinds come from ``whistle/data/areas.toml`` and ``departments.toml``.
"""

from __future__ import annotations

import tomllib
from contextvars import ContextVar
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import Field

from whistle.domain.base import Frozen

AreaKind = Literal["district", "street", "town", "community", "village", "compound", "grid"]

LEVELS: dict[str, int] = {
    "district": 0,
    "street": 1,
    "town": 1,
    "community": 2,
    "village": 2,
    "compound": 3,
    "grid": 4,
}
GRID_PARENT_KINDS = ("community", "village", "compound")
"""A grid (网格) divides a community or village, or a compound within one."""


class Area(Frozen):
    """One node of the hierarchy."""

    code: str
    kind: AreaKind
    name_zh: str
    name_en: str
    parent: str | None = None
    in_seed: bool = True


class Department(Frozen):
    """A government department that cases are routed to."""

    code: str
    name_zh: str
    name_en: str
    contact: str = Field(
        default="", max_length=200, description="How to reach its liaisons (phone, e-mail)."
    )


def within(area: str | None, scope_area: str) -> bool:
    """Whether ``area`` is ``scope_area`` or lies beneath it (``a.b.c`` is within ``a.b``):
    the one rule of area scope (``whistle.read.scope`` renders it in SQL)."""
    return area is not None and (area == scope_area or area.startswith(scope_area + "."))


@cache
def ancestors(code: str) -> tuple[str, ...]:
    """The codes above ``code``, nearest first: ``a.b.c`` → (``a.b``, ``a``)."""
    parts = code.split(".")
    return tuple(".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1))


@cache
def lineage(code: str) -> tuple[str, ...]:
    """``code`` and its ancestors, most specific first."""
    return (code, *ancestors(code))


def case_area(community: str, compound: str | None, grid: str | None) -> str:
    """The most specific area code of a case: its grid, else its compound, else its community.

    The decider only accepts a grid of the tree beneath the compound (or community), so the
    grid's code names them. Whistles raised before grids were validated may carry free text;
    such a grid is not beneath them and is passed over, keeping the case in its own scope.
    """
    place = compound or community
    if grid is not None and grid.startswith(place + "."):
        return grid
    return place


def district_of(code: str) -> str:
    """The district code of any area code."""
    return code.split(".", 1)[0]


def street_of(code: str) -> str | None:
    """The street/town code of a community or deeper area, else None."""
    parts = code.split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else None


def _read_toml(name: str, path: Path | None) -> dict[str, object]:
    if path is not None:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    text = resources.files("whistle.data").joinpath(name).read_text(encoding="utf-8")
    return tomllib.loads(text)


@cache
def _packaged_areas() -> dict[str, Area]:
    return _parse_areas(_read_toml("areas.toml", None))


def _parse_areas(data: dict[str, object]) -> dict[str, Area]:
    rows = data.get("areas", [])
    assert isinstance(rows, list)
    areas: dict[str, Area] = {}
    for row in rows:
        code = row["code"]
        parent = ancestors(code)[0] if "." in code else None
        areas[code] = Area(parent=parent, **row)
    for area in areas.values():
        if area.parent is not None and area.parent not in areas:
            raise ValueError(f"area {area.code}: parent {area.parent} is not defined")
        if area.kind == "grid" and (
            area.parent is None or areas[area.parent].kind not in GRID_PARENT_KINDS
        ):
            raise ValueError(f"grid {area.code}: its parent must be a community or compound")
    return areas


def load_areas(path: Path | None = None) -> dict[str, Area]:
    """Areas by code, from ``path`` or the packaged ``areas.toml``."""
    if path is None:
        return dict(_packaged_areas())
    return _parse_areas(_read_toml("areas.toml", path))


@cache
def _packaged_departments() -> dict[str, Department]:
    return _parse_departments(_read_toml("departments.toml", None))


def _parse_departments(data: dict[str, object]) -> dict[str, Department]:
    rows = data.get("departments", [])
    assert isinstance(rows, list)
    return {row["code"]: Department(**row) for row in rows}


def load_departments(path: Path | None = None) -> dict[str, Department]:
    """Departments by code, from ``path`` or the packaged ``departments.toml``."""
    if path is None:
        return dict(_packaged_departments())
    return _parse_departments(_read_toml("departments.toml", path))


_IN_FORCE: ContextVar[tuple[dict[str, Area], dict[str, Department]] | None] = ContextVar(
    "areas_in_force", default=None
)
"""The areas and departments of the configuration version in force for the decision being
made (set by the stream worker per command); None: the packaged ones."""


def use_areas(areas: dict[str, Area], departments: dict[str, Department]) -> None:
    """Make ``areas`` and ``departments`` the ones ``known_area``/``known_department`` answer
    from in the current context (the worker sets the version in force at each command)."""
    _IN_FORCE.set((areas, departments))


def known_area(code: str) -> Area | None:
    """The area ``code`` in force (packaged unless a version was set), or None."""
    found = _IN_FORCE.get()
    return (found[0] if found is not None else _packaged_areas()).get(code)


def known_department(code: str) -> bool:
    """Whether ``code`` is a department in force (packaged unless a version was set)."""
    found = _IN_FORCE.get()
    return code in (found[1] if found is not None else _packaged_departments())


def department_in_force(code: str) -> Department | None:
    """The department ``code`` in force, or None."""
    found = _IN_FORCE.get()
    return (found[1] if found is not None else _packaged_departments()).get(code)

"""Configuration versions: numbered without gaps, each in force from its ``effective_from``.

A version is a whole configuration snapshot (``whistle.domain.configuration.Configuration``)
with its number, author, time, reason, the kinds it changed and the rule-set and policy
versions a case routed under it records. ``History`` holds the versions one process has read
from the configuration topic and answers which one is in force at an instant: the highest
numbered version whose ``effective_from`` is not after it. Every process reads the same
records in the same order and applies the same acceptance rule, so for the same instant they
all answer the same version.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, Literal, get_args

from pydantic import Field, TypeAdapter

from whistle.domain.areas import Area, Department
from whistle.domain.base import Frozen
from whistle.domain.calendar import BusinessCalendar, default_calendar
from whistle.domain.configuration import CalendarYear, Configuration
from whistle.domain.routing import Category, RoutingRules, Rule
from whistle.domain.sla import SlaPolicy

Kind = Literal["areas", "departments", "categories", "routing", "policies", "calendars"]
KINDS: tuple[Kind, ...] = get_args(Kind)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SEED_AUTHOR = "system"
SEED_REASON = "packaged files (version 1)"
APPEND_MARGIN = timedelta(seconds=1)
"""A version (after the first) must take effect at least this long after the broker appended
it (its record's LogAppendTime); followers ignore one that does not. It bounds the clock skew
between the broker and the workers that the no-stale-version argument tolerates."""
MIN_LEAD = timedelta(seconds=3)
"""The API refuses an ``effective_from`` sooner than this after its own clock (the publish
and the append take place in between; more than ``APPEND_MARGIN``)."""


class VersionMeta(Frozen):
    """A version without its document: what the lists show."""

    version: int = Field(ge=1)
    author: str
    published_at: datetime
    reason: str
    effective_from: datetime
    kinds: tuple[Kind, ...] = Field(description="The kinds this version changed.")
    rules_version: str = Field(description="Recorded on the cases it routes (CaseRouted).")
    policy_version: str = Field(description="Recorded on the cases it routes (CaseRouted).")


class ConfigVersion(VersionMeta):
    """One published version: its metadata and the whole configuration."""

    document: Configuration

    def meta(self) -> VersionMeta:
        """The metadata alone."""
        return VersionMeta.model_validate(
            {name: getattr(self, name) for name in VersionMeta.model_fields}
        )

    @cached_property
    def calendar(self) -> BusinessCalendar:
        """The business calendar of this version (working hours as packaged, its years)."""
        return calendar_of(self.document)


def calendar_of(config: Configuration) -> BusinessCalendar:
    """The packaged working hours and time zone with ``config``'s holiday years."""
    base = default_calendar()
    years = config.calendar_years
    return BusinessCalendar(
        tz=base.tz,
        working_hours=base.working_hours,
        holidays=frozenset(d for y in years for d in y.holidays),
        workdays=frozenset(d for y in years for d in y.workdays),
        years=frozenset(y.year for y in years),
        sources=tuple(y.source for y in years),
    )


def encode_version(version: ConfigVersion) -> bytes:
    """The record value on the configuration topic (JSON)."""
    return version.model_dump_json().encode()


def decode_version(value: bytes) -> ConfigVersion:
    """A record value back into a version (raises on anything else)."""
    return ConfigVersion.model_validate_json(value)


# ---- kinds ------------------------------------------------------------------------------
_AREAS: TypeAdapter[dict[str, Area]] = TypeAdapter(dict[str, Area])
_DEPARTMENTS: TypeAdapter[dict[str, Department]] = TypeAdapter(dict[str, Department])
_CATEGORIES: TypeAdapter[dict[str, Category]] = TypeAdapter(dict[str, Category])
_POLICIES: TypeAdapter[dict[str, SlaPolicy]] = TypeAdapter(dict[str, SlaPolicy])
_YEARS: TypeAdapter[tuple[CalendarYear, ...]] = TypeAdapter(tuple[CalendarYear, ...])


class RoutingDocument(Frozen):
    """The routing kind: the rules and the fallback owner (categories are their own kind)."""

    fallback: Rule
    rules: tuple[Rule, ...] = ()


def kind_document(config: Configuration, kind: Kind) -> Any:
    """The part of ``config`` that ``kind`` names, as JSON-ready data."""
    match kind:
        case "areas":
            return _AREAS.dump_python(config.areas, mode="json")
        case "departments":
            return _DEPARTMENTS.dump_python(config.departments, mode="json")
        case "categories":
            return _CATEGORIES.dump_python(config.routing.categories, mode="json")
        case "routing":
            doc = RoutingDocument(fallback=config.routing.fallback, rules=config.routing.rules)
            return doc.model_dump(mode="json")
        case "policies":
            return _POLICIES.dump_python(config.policies, mode="json")
        case "calendars":
            return _YEARS.dump_python(config.calendar_years, mode="json")


def with_kind(config: Configuration, kind: Kind, document: Any) -> Configuration:
    """``config`` with ``kind`` replaced by ``document``; raises ``ValueError`` (pydantic's
    ``ValidationError`` among them) when the document is not of that kind's shape."""
    routing = config.routing
    match kind:
        case "areas":
            areas = _AREAS.validate_python(document)
            _check_area_codes(areas)
            return config.model_copy(update={"areas": areas})
        case "departments":
            departments = _DEPARTMENTS.validate_python(document)
            for code, department in departments.items():
                if code != department.code:
                    raise ValueError(f"department {code}: its code says {department.code}")
            return config.model_copy(update={"departments": departments})
        case "categories":
            categories = _CATEGORIES.validate_python(document)
            rules = _rules(routing.version, routing.fallback, routing.rules, categories)
            return config.model_copy(update={"routing": rules})
        case "routing":
            doc = RoutingDocument.model_validate(document)
            rules = _rules(routing.version, doc.fallback, doc.rules, routing.categories)
            return config.model_copy(update={"routing": rules})
        case "policies":
            policies = _POLICIES.validate_python(document)
            for name, policy in policies.items():
                if name != policy.name:
                    raise ValueError(f"policy {name}: its name says {policy.name}")
            return config.model_copy(update={"policies": policies})
        case "calendars":
            years = _YEARS.validate_python(document)
            return config.model_copy(update={"calendar_years": tuple(years)})


class KindInvalid(ValueError):
    """A proposal's document that is not of its kind's shape: the kind, and why."""

    def __init__(self, kind: Kind, error: ValueError) -> None:
        super().__init__(f"{kind}: {error}")
        self.kind = kind
        self.error = error


def with_kinds(config: Configuration, changes: Sequence[tuple[Kind, Any]]) -> Configuration:
    """``config`` with each ``(kind, document)`` put in place in turn (a proposal of several
    kinds); raises ``KindInvalid`` naming the first document not of its kind's shape."""
    for kind, document in changes:
        try:
            config = with_kind(config, kind, document)
        except ValueError as exc:
            raise KindInvalid(kind, exc) from exc
    return config


def _check_area_codes(areas: dict[str, Area]) -> None:
    for code, area in areas.items():
        if code != area.code:
            raise ValueError(f"area {code}: its code says {area.code}")
        expected = code.rsplit(".", 1)[0] if "." in code else None
        if area.parent != expected:
            raise ValueError(f"area {code}: its parent must be {expected}")
        if expected is not None and expected not in areas:
            raise ValueError(f"area {code}: parent {expected} is not defined")


def _rules(
    version: str, fallback: Rule, rules: tuple[Rule, ...], categories: dict[str, Category]
) -> RoutingRules:
    """A rule set (its constructor refuses two rules for the same category × area)."""
    return RoutingRules(version=version, fallback=fallback, rules=rules, categories=categories)


def changed_kinds(current: Configuration, proposed: Configuration) -> tuple[Kind, ...]:
    """The kinds whose documents differ between the two configurations."""
    return tuple(
        k
        for k in KINDS
        if _canonical(kind_document(current, k)) != _canonical(kind_document(proposed, k))
    )


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


# ---- making versions --------------------------------------------------------------------
def seed_version(config: Configuration) -> ConfigVersion:
    """Version 1 from the packaged (or configured) files: in force since ever.

    Deterministic (no wall clock), so two processes that seed an empty topic at once append
    the same record and either copy reads as the same version 1.
    """
    return ConfigVersion(
        version=1,
        author=SEED_AUTHOR,
        published_at=EPOCH,
        reason=SEED_REASON,
        effective_from=EPOCH,
        kinds=KINDS,
        rules_version=config.routing.version,
        policy_version="1",
        document=config,
    )


def next_version(
    previous: ConfigVersion,
    proposed: Configuration,
    *,
    author: str,
    reason: str,
    effective_from: datetime,
    published_at: datetime,
) -> ConfigVersion:
    """Version ``previous + 1`` holding ``proposed``.

    The rule-set version becomes the new number when the routing or the categories change
    (and is written into the rule set, as ``route`` records it), the policy version when the
    policies change; otherwise both carry over.
    """
    number = previous.version + 1
    kinds = changed_kinds(previous.document, proposed)
    rules_version = previous.rules_version
    if {"routing", "categories"} & set(kinds):
        rules_version = str(number)
    policy_version = str(number) if "policies" in kinds else previous.policy_version
    routing = proposed.routing.model_copy(update={"version": rules_version})
    document = proposed.model_copy(
        update={
            "routing": _rules(rules_version, routing.fallback, routing.rules, routing.categories)
        }
    )
    return ConfigVersion(
        version=number,
        author=author,
        published_at=published_at,
        reason=reason,
        effective_from=effective_from,
        kinds=kinds,
        rules_version=rules_version,
        policy_version=policy_version,
        document=document,
    )


# ---- the history ------------------------------------------------------------------------
Refusal = Literal["duplicate", "gap", "too_soon"]


def acceptance(
    known_last: int, version: ConfigVersion, appended_at: datetime | None
) -> Refusal | None:
    """Why a follower ignores a record (None: it takes it as the next version).

    Versions are taken in topic order only as ``last + 1`` (a stale publish that slipped past
    the precondition is ignored, by every follower alike); a version after the first must
    take effect at least ``APPEND_MARGIN`` after the broker appended it.
    """
    if version.version <= known_last:
        return "duplicate"
    if version.version != known_last + 1:
        return "gap"
    if (
        version.version > 1
        and appended_at is not None
        and version.effective_from < appended_at + APPEND_MARGIN
    ):
        return "too_soon"
    return None


class History:
    """The versions one process knows, in number order."""

    def __init__(self) -> None:
        self.versions: list[ConfigVersion] = []
        self.refused: list[tuple[int, Refusal]] = []

    @property
    def last(self) -> ConfigVersion | None:
        """The highest numbered version, or None before the first."""
        return self.versions[-1] if self.versions else None

    @property
    def last_number(self) -> int:
        """The highest version number known (0 before the first)."""
        return self.versions[-1].version if self.versions else 0

    def offer(self, version: ConfigVersion, appended_at: datetime | None) -> Refusal | None:
        """Take ``version`` if acceptable; the refusal otherwise (a duplicate is not kept)."""
        why = acceptance(self.last_number, version, appended_at)
        if why is None:
            self.versions.append(version)
        elif why != "duplicate":
            self.refused.append((version.version, why))
        return why

    def get(self, number: int) -> ConfigVersion | None:
        """Version ``number``, if known."""
        if 1 <= number <= len(self.versions):
            return self.versions[number - 1]
        return None

    def at(self, instant: datetime) -> ConfigVersion:
        """The version in force at ``instant``: the highest numbered one in effect by then."""
        for version in reversed(self.versions):
            if version.effective_from <= instant:
                return version
        raise LookupError(f"no configuration version in force at {instant.isoformat()}")

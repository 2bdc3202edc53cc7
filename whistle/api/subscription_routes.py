"""Which kinds of notification are received (#18 item 1): a user's own settings and a
department's for its liaisons (admins); the rules are in :mod:`whistle.notify.subscriptions`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from whistle.api.deps import CurrentPrincipal, CurrentServices, Services, require_role
from whistle.api.identity import Principal
from whistle.api.notifier_routes import store_of
from whistle.api.problems import ProblemError, problem_responses
from whistle.domain.areas import known_department
from whistle.notify.message import KINDS
from whistle.notify.recipients import Person
from whistle.notify.subscriptions import (
    Source,
    Subscriptions,
    fixed_off,
    mutable,
    unknown_kinds,
)

router = APIRouter(tags=["notifications"])


class SubscriptionsIn(BaseModel):
    """On/off per notification kind; a kind left out follows the department or the default."""

    model_config = ConfigDict(extra="forbid")

    settings: dict[str, StrictBool] = Field(
        default_factory=dict,
        max_length=len(KINDS),
        examples=[{"deadline_approaching": False}],
        description="kind → received; replaces the stored settings whole.",
    )


class KindSubscription(BaseModel):
    """Whether one kind is received, and why: the role's default, the department's setting,
    the user's own, or fixed (a supervisor's breaches and escalations)."""

    kind: str
    enabled: bool
    source: Source
    mutable: bool


class SubscriptionsOut(BaseModel):
    """The owner's stored settings and, for every kind, what is received."""

    owner: str = Field(examples=["user:li-urban", "department:urban_management"])
    settings: dict[str, bool]
    kinds: list[KindSubscription]


def checked(role: str, settings: Mapping[str, bool]) -> dict[str, bool]:
    """``settings`` in kind order, or a 422 naming the first unknown kind or the first kind
    ``role`` cannot turn off (in the caller's language)."""
    unknown = unknown_kinds(settings)
    if unknown:
        raise ProblemError(
            422, "validation", detail_key="unknown_kind", detail_values={"kind": unknown[0]}
        )
    fixed = fixed_off(role, settings)
    if fixed:
        raise ProblemError(
            422, "validation", detail_key="kind_fixed", detail_values={"kind": fixed[0]}
        )
    return {k: settings[k] for k in KINDS if k in settings}


def overview(person: Person, subs: Subscriptions) -> list[KindSubscription]:
    """Every kind as ``person`` receives it under ``subs``."""
    return [
        KindSubscription(kind=kind, enabled=on, source=source, mutable=mutable(person.role, kind))
        for kind in KINDS
        for on, source in [subs.setting(person, kind)]
    ]


def department_person(code: str) -> Person:
    """A liaison of ``code`` without settings of their own: what the department's setting
    gives its liaisons."""
    return Person("", "liaison", department=code)


def known(code: str) -> str:
    """``code``, or a 404 problem when no department has it."""
    if not known_department(code):
        raise ProblemError(
            404, "not_found", detail_key="unknown_department", detail_values={"code": code}
        )
    return code


async def _mine(services: Services, person: Person) -> SubscriptionsOut:
    store = store_of(services).subscriptions
    own = await store.of("user", person.user_id)
    dept = await store.of("department", person.department) if person.department else {}
    subs = Subscriptions({person.user_id: own}, {person.department or "": dept})
    return SubscriptionsOut(owner=f"user:{person.user_id}", settings=own,
                            kinds=overview(person, subs))  # fmt: skip


async def _department(services: Services, code: str) -> SubscriptionsOut:
    settings = await store_of(services).subscriptions.of("department", code)
    subs = Subscriptions(departments={code: settings})
    return SubscriptionsOut(owner=f"department:{code}", settings=settings,
                            kinds=overview(department_person(code), subs))  # fmt: skip


def person_of(principal: Principal) -> Person:
    """The caller as the rules see them."""
    return Person(principal.user_id, principal.role, principal.area, principal.department)


@router.get(
    "/v1/notifications/subscriptions/me",
    response_model=SubscriptionsOut,
    summary="Which notifications I receive",
    responses=problem_responses(401),
    operation_id="getMySubscriptions",
)
async def my_subscriptions(principal: CurrentPrincipal, services: CurrentServices) -> Any:
    """Every kind: on by default, a liaison's department's setting, the caller's own."""
    return await _mine(services, person_of(principal))


@router.put(
    "/v1/notifications/subscriptions/me",
    response_model=SubscriptionsOut,
    summary="Choose which notifications I receive",
    responses=problem_responses(401, 422),
    operation_id="setMySubscriptions",
)
async def set_my_subscriptions(
    body: SubscriptionsIn, principal: CurrentPrincipal, services: CurrentServices
) -> Any:
    """Replaces the caller's settings whole (audited). A supervisor cannot turn off
    ``deadline_breached`` or ``escalated``; an emergency case's notices come regardless."""
    person = person_of(principal)
    settings = checked(person.role, body.settings)
    await store_of(services).subscriptions.put("user", person.user_id, settings, principal.user_id)
    return await _mine(services, person)


@router.get(
    "/v1/notifications/subscriptions/departments/{department}",
    response_model=SubscriptionsOut,
    summary="Which notifications a department's liaisons receive (admins)",
    responses=problem_responses(401, 403, 404),
    operation_id="getDepartmentSubscriptions",
)
async def department_subscriptions(
    department: Annotated[str, Path(max_length=64)],
    principal: CurrentPrincipal,
    services: CurrentServices,
) -> Any:
    """The department's settings; a liaison's own setting overrides them."""
    require_role(principal, ("admin",))
    return await _department(services, known(department))


@router.put(
    "/v1/notifications/subscriptions/departments/{department}",
    response_model=SubscriptionsOut,
    summary="Choose which notifications a department's liaisons receive (admins)",
    responses=problem_responses(401, 403, 404, 422),
    operation_id="setDepartmentSubscriptions",
)
async def set_department_subscriptions(
    department: Annotated[str, Path(max_length=64)],
    body: SubscriptionsIn,
    principal: CurrentPrincipal,
    services: CurrentServices,
) -> Any:
    """Replaces the department's settings whole (audited)."""
    require_role(principal, ("admin",))
    code = known(department)
    settings = checked("liaison", body.settings)
    await store_of(services).subscriptions.put("department", code, settings, principal.user_id)
    return await _department(services, code)

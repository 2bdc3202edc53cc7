"""Notification preferences (a user's own, and an admin's per user), the group robots of
departments and areas, and the notifier's delivery log with redelivery (admins)."""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from whistle.api.deps import CurrentPrincipal, CurrentServices, Services, require_role
from whistle.api.identity import Principal
from whistle.api.problems import ProblemError, problem_responses
from whistle.domain.areas import load_areas, load_departments
from whistle.notify.message import KINDS
from whistle.notify.notifier_store import LogFilter, NotifierStore
from whistle.notify.preferences import Preferences, Robot

router = APIRouter(tags=["notifications"])

Platform = Literal["wecom", "dingtalk", "feishu"]
ChannelName = Literal["wecom", "dingtalk", "feishu", "email", "sms"]
HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_PHONE = re.compile(r"^(\+86)?1[3-9]\d{9}$")
DeliveryId = Annotated[int, Path(ge=1, le=2**62)]


class RobotIn(BaseModel):
    """A chat robot: its platform, webhook URL and (DingTalk 加签, Feishu 签名校验) secret."""

    model_config = ConfigDict(extra="forbid")

    platform: Platform
    url: AnyHttpUrl = Field(description="The robot's webhook URL (its key is in it).")
    secret: str | None = Field(default=None, min_length=1, max_length=200)


class QuietHours(BaseModel):
    """Quiet hours in China time; an end before the start runs over midnight."""

    model_config = ConfigDict(extra="forbid")

    start: str = Field(pattern=HHMM, examples=["22:00"])
    end: str = Field(pattern=HHMM, examples=["07:00"])


class PreferencesIn(BaseModel):
    """Where and how to be told (in-app is always on)."""

    model_config = ConfigDict(extra="forbid")

    language: Literal["zh", "en"] = "zh"
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=20, description="Mainland mobile.")
    robot: RobotIn | None = None
    quiet_hours: QuietHours | None = None
    digest: bool = Field(default=False, strict=True, description="One message a day instead.")
    channels: list[ChannelName] = Field(
        default=["wecom", "dingtalk", "feishu", "email", "sms"],
        max_length=5,
        description="Order of channels: the first with an address is used, the next when it "
        "fails for good.",
    )


class RobotOut(BaseModel):
    """A robot as shown: its URL without the key, and whether it signs."""

    platform: str
    url: str
    signed: bool


class PreferencesOut(BaseModel):
    """A user's notification preferences."""

    user_id: str
    language: str
    email: str | None
    phone: str | None
    robot: RobotOut | None
    quiet_hours: QuietHours | None
    digest: bool
    channels: list[str]


class GroupRobotOut(RobotOut):
    """A group robot: whose (``department:x`` / ``area:y``)."""

    owner: str


class NotifyDeliveryOut(BaseModel):
    """One notification delivery of the log."""

    model_config = ConfigDict(extra="allow")

    delivery_id: int
    case_id: str
    kind: str
    user_id: str
    recipient: str
    channel: str
    status: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime


class NotifyDeliveries(BaseModel):
    """The delivery log, newest first."""

    items: list[NotifyDeliveryOut]


class AttemptOut(BaseModel):
    """One attempt of a delivery."""

    attempt: int
    started_at: datetime
    duration_ms: float
    status_code: int | None
    error: str | None
    manual: bool


class Redelivered(BaseModel):
    """The delivery is queued again."""

    delivery_id: int
    status: str


def store_of(services: Services) -> NotifierStore:
    if services.notifier is None:
        raise ProblemError(
            503,
            "unavailable",
            detail_key="unavailable",
            detail_values={"what": "notifications", "retry": 1},
            headers={"Retry-After": "1"},
        )
    return services.notifier


def _redact(url: str) -> str:
    head, sep, _ = url.partition("?")
    if sep:
        return f"{head}?***"
    parts = url.rstrip("/").rsplit("/", 1)
    return f"{parts[0]}/***" if len(parts) == 2 else url


def _out(p: Preferences) -> PreferencesOut:
    robot = p.robot
    quiet = None
    if p.quiet_start is not None and p.quiet_end is not None:
        quiet = QuietHours(start=p.quiet_start.strftime("%H:%M"), end=p.quiet_end.strftime("%H:%M"))
    return PreferencesOut(
        user_id=p.user_id,
        language=p.language,
        email=p.email,
        phone=p.phone,
        robot=RobotOut(platform=robot.platform, url=_redact(robot.url), signed=bool(robot.secret))
        if robot
        else None,
        quiet_hours=quiet,
        digest=p.digest,
        channels=list(p.channels),
    )


def validated(user_id: str, body: PreferencesIn) -> Preferences:
    """The preferences of ``body``, or a 422 naming what is wrong (in the caller's language)."""
    if body.email is not None and not _EMAIL.match(body.email):
        raise ProblemError(
            422, "validation", detail_key="bad_email", detail_values={"value": "email"}
        )
    phone = body.phone.replace(" ", "").replace("-", "") if body.phone else None
    if phone is not None and not _PHONE.match(phone):
        raise ProblemError(
            422, "validation", detail_key="bad_phone", detail_values={"value": "phone"}
        )
    if len(set(body.channels)) != len(body.channels):
        raise ProblemError(422, "validation", detail_key="channels_repeated")
    quiet = body.quiet_hours
    start = time.fromisoformat(quiet.start) if quiet else None
    end = time.fromisoformat(quiet.end) if quiet else None
    if start is not None and start == end:
        raise ProblemError(422, "validation", detail_key="quiet_empty")
    robot = body.robot
    return Preferences(
        user_id=user_id,
        language=body.language,
        email=body.email,
        phone=phone,
        robot=Robot(robot.platform, str(robot.url), robot.secret) if robot else None,
        quiet_start=start,
        quiet_end=end,
        digest=body.digest,
        channels=tuple(body.channels),
    )


@router.get(
    "/v1/me/notification-preferences",
    response_model=PreferencesOut,
    summary="My notification preferences",
    responses=problem_responses(401),
    operation_id="getMyNotificationPreferences",
)
async def my_preferences(principal: CurrentPrincipal, services: CurrentServices) -> Any:
    """Defaults (Chinese, in-app only) until set."""
    return _out(await store_of(services).preferences.get(principal.user_id))


@router.put(
    "/v1/me/notification-preferences",
    response_model=PreferencesOut,
    summary="Set my notification preferences",
    responses=problem_responses(401, 422),
    operation_id="setMyNotificationPreferences",
)
async def set_my_preferences(
    body: PreferencesIn, principal: CurrentPrincipal, services: CurrentServices
) -> Any:
    """Replaces them whole; robot URLs, secrets and addresses are stored encrypted."""
    prefs = validated(principal.user_id, body)
    store = store_of(services)
    await store.preferences.put(prefs, actor=principal.user_id)
    return _out(await store.preferences.get(principal.user_id))


async def _known_user(store: NotifierStore, user_id: str) -> None:
    if not await store.user_exists(user_id):
        raise ProblemError(
            404, "not_found", detail_key="unknown_user", detail_values={"id": user_id}
        )


@router.get(
    "/v1/notifications/preferences/{user_id}",
    response_model=PreferencesOut,
    summary="A user's notification preferences (admins)",
    responses=problem_responses(401, 403, 404),
    operation_id="getNotificationPreferences",
)
async def user_preferences(
    user_id: Annotated[str, Path(max_length=128)],
    principal: CurrentPrincipal,
    services: CurrentServices,
) -> Any:
    """Admins read anyone's."""
    require_role(principal, ("admin",))
    store = store_of(services)
    await _known_user(store, user_id)
    return _out(await store.preferences.get(user_id))


@router.put(
    "/v1/notifications/preferences/{user_id}",
    response_model=PreferencesOut,
    summary="Set a user's notification preferences (admins)",
    responses=problem_responses(401, 403, 404, 422),
    operation_id="setNotificationPreferences",
)
async def set_user_preferences(
    user_id: Annotated[str, Path(max_length=128)],
    body: PreferencesIn,
    principal: CurrentPrincipal,
    services: CurrentServices,
) -> Any:
    """Admins set anyone's (recorded in the audit log, without the addresses)."""
    require_role(principal, ("admin",))
    store = store_of(services)
    await _known_user(store, user_id)
    await store.preferences.put(validated(user_id, body), actor=principal.user_id)
    return _out(await store.preferences.get(user_id))


def _may_manage_group(principal: Principal, kind: str, code: str) -> bool:
    if principal.role == "admin":
        return True
    if kind == "department":
        return principal.role == "liaison" and principal.department == code
    return principal.role == "supervisor" and principal.area == code


def _check_group(principal: Principal, kind: str, code: str) -> None:
    require_role(principal, ("admin", "liaison", "supervisor"))
    known = load_departments() if kind == "department" else load_areas()
    if code not in known:
        key = "unknown_department" if kind == "department" else "unknown_area"
        raise ProblemError(422, "validation", detail_key=key, detail_values={"code": code})
    if not _may_manage_group(principal, kind, code):
        raise ProblemError(
            403, "forbidden_role", detail_key="out_of_scope", detail_values={"what": code}
        )


class GroupRobotIn(BaseModel):
    """A group robot's URL and secret (the platform is in the path)."""

    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl
    secret: str | None = Field(default=None, min_length=1, max_length=200)


OwnerKind = Literal["department", "area"]


@router.get(
    "/v1/notifications/robots",
    response_model=list[GroupRobotOut],
    summary="Group robots in scope",
    responses=problem_responses(401, 403),
    operation_id="listGroupRobots",
)
async def list_group_robots(principal: CurrentPrincipal, services: CurrentServices) -> Any:
    """Every one (admin), a liaison's department's, a supervisor's area's."""
    require_role(principal, ("admin", "liaison", "supervisor"))
    found = await store_of(services).preferences.group_robots()
    return [
        GroupRobotOut(owner=owner, platform=r.platform, url=_redact(r.url), signed=bool(r.secret))
        for owner, robots in found.items()
        if _may_manage_group(principal, *owner.split(":", 1))
        for r in robots
    ]


@router.put(
    "/v1/notifications/robots/{owner_kind}/{owner}/{platform}",
    response_model=GroupRobotOut,
    summary="Set a department's or an area's group robot",
    responses=problem_responses(401, 403, 422),
    operation_id="setGroupRobot",
)
async def set_group_robot(
    owner_kind: OwnerKind,
    owner: Annotated[str, Path(max_length=128)],
    platform: Platform,
    body: GroupRobotIn,
    principal: CurrentPrincipal,
    services: CurrentServices,
) -> Any:
    """Admins for any; a liaison for their department, a supervisor for their area."""
    _check_group(principal, owner_kind, owner)
    robot = Robot(platform, str(body.url), body.secret)
    await store_of(services).preferences.put_group_robot(
        f"{owner_kind}:{owner}", robot, actor=principal.user_id
    )
    return GroupRobotOut(
        owner=f"{owner_kind}:{owner}", platform=platform, url=_redact(robot.url),
        signed=bool(robot.secret),
    )  # fmt: skip


@router.delete(
    "/v1/notifications/robots/{owner_kind}/{owner}/{platform}",
    status_code=204,
    summary="Remove a group robot",
    responses=problem_responses(401, 403, 404, 422),
    operation_id="removeGroupRobot",
)
async def remove_group_robot(
    owner_kind: OwnerKind,
    owner: Annotated[str, Path(max_length=128)],
    platform: Platform,
    principal: CurrentPrincipal,
    services: CurrentServices,
) -> None:
    """404 when there is none."""
    _check_group(principal, owner_kind, owner)
    if not await store_of(services).preferences.delete_group_robot(
        f"{owner_kind}:{owner}", platform, actor=principal.user_id
    ):
        raise ProblemError(404, "not_found", detail_key="no_robot", detail_values={"what": owner})


@router.get(
    "/v1/notifications/deliveries",
    response_model=NotifyDeliveries,
    summary="The notification delivery log (admins)",
    responses=problem_responses(401, 403, 422),
    operation_id="listNotificationDeliveries",
)
async def deliveries(
    principal: CurrentPrincipal,
    services: CurrentServices,
    status: Literal["pending", "delivered", "dead", "cancelled", "digested"] | None = None,
    channel: Literal["inapp", "wecom", "dingtalk", "feishu", "email", "sms"] | None = None,
    user_id: Annotated[str | None, Query(max_length=128)] = None,
    case_id: Annotated[str | None, Query(max_length=64)] = None,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Any:
    """Newest first; ``before`` pages back."""
    require_role(principal, ("admin",))
    if kind is not None and kind not in KINDS:
        raise ProblemError(
            422, "validation", detail_key="unknown_kind", detail_values={"kind": kind}
        )
    found = await store_of(services).deliveries(
        LogFilter(status, channel, user_id, case_id, kind, before, limit)
    )
    return NotifyDeliveries(items=[NotifyDeliveryOut(**d) for d in found])


@router.get(
    "/v1/notifications/deliveries/{delivery_id}/attempts",
    response_model=list[AttemptOut],
    summary="Every attempt of a notification delivery (admins)",
    responses=problem_responses(401, 403, 404),
    operation_id="listNotificationAttempts",
)
async def attempts(
    delivery_id: DeliveryId, principal: CurrentPrincipal, services: CurrentServices
) -> Any:
    """In order."""
    require_role(principal, ("admin",))
    store = store_of(services)
    if await store.delivery(delivery_id) is None:
        raise ProblemError(
            404, "not_found", detail_key="no_notify_delivery", detail_values={"id": delivery_id}
        )
    return await store.attempts(delivery_id)


@router.post(
    "/v1/notifications/deliveries/{delivery_id}/redeliver",
    response_model=Redelivered,
    summary="Send a notification delivery again (admins)",
    responses=problem_responses(401, 403, 404),
    operation_id="redeliverNotification",
)
async def redeliver(
    delivery_id: DeliveryId, principal: CurrentPrincipal, services: CurrentServices
) -> Any:
    """A dead letter (or a delivered one) is queued now, its attempts kept."""
    require_role(principal, ("admin",))
    if not await store_of(services).redeliver(delivery_id):
        raise ProblemError(
            404, "not_found", detail_key="no_notify_delivery", detail_values={"id": delivery_id}
        )
    return Redelivered(delivery_id=delivery_id, status="pending")

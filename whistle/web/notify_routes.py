"""A person's own notification settings (#18): where and how to be told — language, e-mail,
mobile, a chat robot, quiet hours, a daily digest and the order of channels — on the same
validation and store as ``PUT /v1/me/notification-preferences``; and which kinds of
notification they receive (接收哪些通知), as ``PUT /v1/notifications/subscriptions/me``."""

from __future__ import annotations

from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from whistle.api.i18n import DETAILS, text
from whistle.api.notifier_routes import ChannelName, Platform, PreferencesIn, validated
from whistle.api.problems import ProblemError, field_errors
from whistle.api.subscription_routes import KindSubscription, checked, overview, person_of
from whistle.notify.message import KINDS
from whistle.notify.notifier_store import NotifierStore
from whistle.notify.preferences import Preferences
from whistle.notify.subscriptions import Subscriptions, mutable
from whistle.web.pages import FormPage, Page, PageError, form, redirect, render, user_page

router = APIRouter()

CHANNEL_ORDER: tuple[str, ...] = get_args(ChannelName)
PLATFORMS: tuple[str, ...] = get_args(Platform)
FIELD_OF = {"bad_email": "email", "bad_phone": "phone", "channels_repeated": "channels",
            "quiet_empty": "quiet_start"}  # fmt: skip
"""The form field beside which each refusal of ``validated`` is shown."""


def store_of(page: Page) -> NotifierStore:
    store: NotifierStore | None = page.request.app.state.services.notifier
    if store is None:
        raise PageError(503, "notify_unavailable")
    return store


def _values(prefs: Preferences) -> dict[str, Any]:
    """The form's values for ``prefs`` (a robot's URL is never shown: it holds its key)."""
    return {
        "language": prefs.language,
        "email": prefs.email or "",
        "phone": prefs.phone or "",
        "robot_platform": prefs.robot.platform if prefs.robot else "",
        "robot_url": "",
        "quiet_start": prefs.quiet_start.strftime("%H:%M") if prefs.quiet_start else "",
        "quiet_end": prefs.quiet_end.strftime("%H:%M") if prefs.quiet_end else "",
        "digest": prefs.digest,
        "channels": list(prefs.channels),
    }


async def subscriptions_of(store: NotifierStore, department: str | None, user_id: str = "",
                           ) -> Subscriptions:  # fmt: skip
    """The stored settings that decide what ``user_id`` (of ``department``) receives."""
    own = await store.subscriptions.of("user", user_id) if user_id else {}
    dept = await store.subscriptions.of("department", department) if department else {}
    return Subscriptions({user_id: own}, {department or "": dept})


async def _kinds(page: Page, chosen: set[str] | None = None) -> list[KindSubscription]:
    """The visitor's kinds as received; ``chosen``: as just submitted (a refused form)."""
    person = person_of(page.principal)
    subs = await subscriptions_of(store_of(page), person.department, person.user_id)
    rows = overview(person, subs)
    if chosen is None:
        return rows
    return [r.model_copy(update={"enabled": r.kind in chosen or not r.mutable}) for r in rows]


async def _show(page: Page, prefs: Preferences, values: dict[str, Any], errors: dict[str, str],
                status: int = 200, saved: str = "", chosen: set[str] | None = None,
                ) -> Response:  # fmt: skip
    return render(page, "notify_settings.html", status, values=values, errors=errors,
                  saved=saved, has_robot=prefs.robot is not None, signed=bool(
                      prefs.robot and prefs.robot.secret), channel_order=CHANNEL_ORDER,
                  platforms=PLATFORMS, kinds=await _kinds(page, chosen), hints=True)  # fmt: skip


@router.get("/settings/notifications", response_class=HTMLResponse, include_in_schema=False)
async def settings_page(page: Annotated[Page, Depends(user_page)]) -> Response:
    """通知设置: the visitor's own preferences (defaults: Chinese, in-app only) and which
    notifications they receive (default: all)."""
    prefs = await store_of(page).preferences.get(page.principal.user_id)
    saved = page.request.query_params.get("saved", "")
    return await _show(page, prefs, _values(prefs), {}, saved=saved)


@router.post("/settings/notifications", response_class=HTMLResponse, include_in_schema=False)
async def save_settings(page: Annotated[FormPage, Depends(form(user_page))]) -> Response:
    """Save the form whole, as the API's PUT does; an error beside its field changes nothing.
    A robot URL left empty keeps the robot on file; 删除机器人 removes it."""
    store = store_of(page)
    user_id = page.principal.user_id
    before = await store.preferences.get(user_id)
    channels = [c for c in page.form.getlist("channels") if isinstance(c, str)]
    values: dict[str, Any] = {
        name: page.value(name)
        for name in ("language", "email", "phone", "robot_platform", "robot_url",
                     "quiet_start", "quiet_end")
    } | {"digest": page.value("digest") == "on", "channels": channels}  # fmt: skip
    errors: dict[str, str] = {}
    robot: dict[str, Any] | None = None
    if values["robot_url"]:
        robot = {"platform": values["robot_platform"], "url": values["robot_url"],
                 "secret": page.value("robot_secret") or None}  # fmt: skip
    elif before.robot is not None and page.value("robot_remove") != "on":
        robot = {"platform": before.robot.platform, "url": before.robot.url,
                 "secret": before.robot.secret}  # fmt: skip
    quiet = None
    if values["quiet_start"] or values["quiet_end"]:
        quiet = {"start": values["quiet_start"], "end": values["quiet_end"]}
    body = {
        "language": values["language"] or "zh",
        "email": values["email"] or None,
        "phone": values["phone"] or None,
        "robot": robot,
        "quiet_hours": quiet,
        "digest": values["digest"],
        "channels": channels,
    }
    try:
        prefs = validated(user_id, PreferencesIn.model_validate(body))
    except ValidationError as exc:
        for error in field_errors(exc.errors(), page.lang):
            errors.setdefault(_form_field(error.field), error.message)
        return await _show(page, before, values, errors, 422)
    except ProblemError as exc:
        key = exc.detail_key or "validation"
        errors[FIELD_OF.get(key, "email")] = text(DETAILS, key, page.lang, **exc.detail_values)
        return await _show(page, before, values, errors, 422)
    await store.preferences.put(prefs, actor=user_id)
    return redirect(page, "/settings/notifications?saved=1")


def _form_field(path: str) -> str:
    """The form field of an API body path (``robot.url`` → ``robot_url``)."""
    head, _, tail = path.partition(".")
    if head == "quiet_hours":
        return f"quiet_{tail or 'start'}"
    if head == "robot":
        return f"robot_{tail or 'url'}" if tail in ("", "url", "platform") else "robot_url"
    return head.split("[")[0] or "email"


def chosen_kinds(page: FormPage) -> set[str]:
    """The kinds ticked on a form (``kinds`` checkboxes)."""
    return {k for k in page.form.getlist("kinds") if isinstance(k, str)}


def kind_error(page: Page, exc: ProblemError) -> dict[str, str]:
    """A refusal of :func:`checked`, beside the kinds' fieldset."""
    key = exc.detail_key or "validation"
    return {"kinds": text(DETAILS, key, page.lang, **exc.detail_values)}


@router.post(
    "/settings/notifications/subscriptions", response_class=HTMLResponse, include_in_schema=False
)
async def save_subscriptions(page: Annotated[FormPage, Depends(form(user_page))]) -> Response:
    """Save which kinds the visitor receives: a ticked box is on, an unticked one off; only
    what differs from the department's setting or the default is stored (as the API's PUT
    stores it), so a department's later change still reaches a liaison who left it alone.
    A supervisor's breaches and escalations stay on."""
    store = store_of(page)
    person = person_of(page.principal)
    chosen = chosen_kinds(page)
    subs = await subscriptions_of(store, person.department)
    wanted = {k: k in chosen for k in KINDS if mutable(person.role, k)}
    settings = {k: on for k, on in wanted.items() if subs.inherited(person, k)[0] != on}
    try:
        checked(person.role, dict.fromkeys(chosen, True) | settings)
    except ProblemError as exc:
        before = await store.preferences.get(person.user_id)
        return await _show(page, before, _values(before), kind_error(page, exc), 422,
                           chosen=chosen)  # fmt: skip
    await store.subscriptions.put("user", person.user_id, settings, actor=person.user_id)
    return redirect(page, "/settings/notifications?saved=kinds#kinds")

"""A person's own notification settings (#18): where and how to be told — language, e-mail,
mobile, a chat robot, quiet hours, a daily digest and the order of channels — on the same
validation and store as ``PUT /v1/me/notification-preferences``."""

from __future__ import annotations

from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from whistle.api.i18n import DETAILS, text
from whistle.api.notifier_routes import ChannelName, Platform, PreferencesIn, validated
from whistle.api.problems import ProblemError, field_errors
from whistle.notify.notifier_store import NotifierStore
from whistle.notify.preferences import Preferences
from whistle.web.pages import FormPage, Page, PageError, form, redirect, render, user_page

router = APIRouter()

CHANNEL_ORDER: tuple[str, ...] = get_args(ChannelName)
PLATFORMS: tuple[str, ...] = get_args(Platform)
FIELD_OF = {"bad_email": "email", "bad_phone": "phone", "channels_repeated": "channels",
            "quiet_empty": "quiet_start"}  # fmt: skip
"""The form field beside which each refusal of ``validated`` is shown."""


def _store(page: Page) -> NotifierStore:
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


def _show(page: Page, prefs: Preferences, values: dict[str, Any], errors: dict[str, str],
          status: int = 200, saved: bool = False) -> Response:  # fmt: skip
    return render(page, "notify_settings.html", status, values=values, errors=errors,
                  saved=saved, has_robot=prefs.robot is not None, signed=bool(
                      prefs.robot and prefs.robot.secret), channel_order=CHANNEL_ORDER,
                  platforms=PLATFORMS)  # fmt: skip


@router.get("/settings/notifications", response_class=HTMLResponse, include_in_schema=False)
async def settings_page(page: Annotated[Page, Depends(user_page)]) -> Response:
    """通知设置: the visitor's own preferences (defaults: Chinese, in-app only)."""
    prefs = await _store(page).preferences.get(page.principal.user_id)
    saved = page.request.query_params.get("saved") == "1"
    return _show(page, prefs, _values(prefs), {}, saved=saved)


@router.post("/settings/notifications", response_class=HTMLResponse, include_in_schema=False)
async def save_settings(page: Annotated[FormPage, Depends(form(user_page))]) -> Response:
    """Save the form whole, as the API's PUT does; an error beside its field changes nothing.
    A robot URL left empty keeps the robot on file; 删除机器人 removes it."""
    store = _store(page)
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
        return _show(page, before, values, errors, 422)
    except ProblemError as exc:
        key = exc.detail_key or "validation"
        errors[FIELD_OF.get(key, "email")] = text(DETAILS, key, page.lang, **exc.detail_values)
        return _show(page, before, values, errors, 422)
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

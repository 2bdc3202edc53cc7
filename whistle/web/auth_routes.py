"""Pages every person uses: log in, log out, change password, switch language, home."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from whistle.api.i18n import Lang
from whistle.domain.areas import department_in_force, known_area
from whistle.web.accounts import SESSION_LIFETIME, Session
from whistle.web.nav import links_for
from whistle.web.pages import (
    CSRF_COOKIE,
    LANG_COOKIE,
    SESSION_COOKIE,
    FormPage,
    Page,
    accounts_of,
    form,
    local_target,
    public_page,
    redirect,
    render,
    set_cookie,
    user_page,
)

router = APIRouter(include_in_schema=False)
LANG_MAX_AGE = 365 * 24 * 3600
USERNAME_MAX = 64
PASSWORD_MAX = 256
"""Longer input is refused before hashing (Argon2 of a megabyte is a cheap denial of service)."""


@router.get("/login", response_class=HTMLResponse)
async def login_page(page: Annotated[Page, Depends(public_page)], next: str = "/") -> Response:
    """The login form (a logged-in visitor goes on to ``next``)."""
    if page.session is not None:
        return redirect(page, local_target(next))
    bye = page.request.query_params.get("bye") == "1"
    return render(page, "login.html", next=local_target(next), errors={}, values={}, bye=bye)


@router.post("/login", response_class=HTMLResponse)
async def login(page: Annotated[FormPage, Depends(form(public_page))]) -> Response:
    """Check the username and password; a session cookie and on to ``next``, or the form again
    with the reason beside the field (locked: how long to wait)."""
    username, password = page.value("username"), page.value("password")
    target = local_target(page.value("next"))
    errors: dict[str, str] = {}
    if not username:
        errors["username"] = page.t("required")
    if not password:
        errors["password"] = page.t("required")
    if len(username) > USERNAME_MAX or len(password) > PASSWORD_MAX:
        errors["password"] = page.t("bad_credentials")
    if not errors:
        client = page.request.client.host if page.request.client else "unknown"
        result = await accounts_of(page.request).login(username, password, client)
        if result.session is not None and result.cookie is not None:
            return logged_in(page, result.session, result.cookie, target)
        if result.refused == "locked":
            errors["password"] = page.t("locked", minutes=max(1, math.ceil(result.wait_s / 60)))
        else:
            errors["password"] = page.t("bad_credentials")
    values = {"username": username}
    return render(page, "login.html", 422, next=target, errors=errors, values=values, bye=False)


def logged_in(page: Page, session: Session, cookie: str, target: str) -> Response:
    """303 on (to the password page first when it must change), with the session cookie; the
    pre-login CSRF cookie goes, the user's kept language comes back."""
    response = redirect(page, "/password" if session.must_change_password else target)
    lifetime = int(SESSION_LIFETIME.total_seconds())  # the server's expiry is what counts
    set_cookie(page.request, response, SESSION_COOKIE, cookie, max_age=lifetime)
    response.delete_cookie(CSRF_COOKIE, path="/")
    if session.lang and LANG_COOKIE not in page.request.cookies:
        set_cookie(page.request, response, LANG_COOKIE, session.lang, max_age=LANG_MAX_AGE)
    return response


@router.post("/logout")
async def logout(page: Annotated[FormPage, Depends(form())]) -> Response:
    """End this session and go to the login page."""
    cookie = page.request.cookies.get(SESSION_COOKIE)
    if cookie:
        await accounts_of(page.request).logout(cookie)
    response = redirect(page, "/login?bye=1")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/lang")
async def switch_language(page: Annotated[FormPage, Depends(form(public_page))]) -> Response:
    """Keep the chosen language in a cookie (and as the user's preference) and go back."""
    lang: Lang = "en" if page.value("lang") == "en" else "zh"
    if page.session is not None:
        await accounts_of(page.request).set_lang(page.principal.user_id, lang)
    response = redirect(page, local_target(page.value("next")))
    set_cookie(page.request, response, LANG_COOKIE, lang, max_age=LANG_MAX_AGE)
    return response


@router.get("/password", response_class=HTMLResponse)
async def password_page(page: Annotated[Page, Depends(user_page)]) -> Response:
    """The change-password form."""
    done = page.request.query_params.get("done") == "1"
    must = page.session is not None and page.session.must_change_password
    return render(page, "password.html", errors={}, done=done, must_change=must)


@router.post("/password", response_class=HTMLResponse)
async def change_password(page: Annotated[FormPage, Depends(form())]) -> Response:
    """Change the password given the old one; errors beside their fields."""
    old, new = page.value("old_password"), page.value("new_password")
    again = page.value("new_password_again")
    errors: dict[str, str] = {}
    for name, value in (("old_password", old), ("new_password", new)):
        if not value:
            errors[name] = page.t("required")
    if len(new) > PASSWORD_MAX:
        errors["new_password"] = page.t("password_too_long")
    if not errors and new != again:
        errors["new_password_again"] = page.t("passwords_differ")
    if not errors:
        assert page.session is not None
        problem = await accounts_of(page.request).change_password(page.session, old, new)
        if problem is None:
            return redirect(page, "/password?done=1")
        errors["old_password" if problem == "old_password_wrong" else "new_password"] = page.t(
            problem
        )
    must = page.session is not None and page.session.must_change_password
    return render(page, "password.html", 422, errors=errors, done=False, must_change=must)


@router.get("/", response_class=HTMLResponse)
async def home(page: Annotated[Page, Depends(user_page)]) -> Response:
    """Who you are and what you can open."""
    me = page.principal
    return render(page, "home.html", links=links_for(me.role), scope_name=scope_name(page))


def scope_name(page: Page) -> str:
    """The user's community, street, district or department by name (code if unknown)."""
    me = page.principal
    if me.area:
        area = known_area(me.area)
        return (area.name_en if page.lang == "en" else area.name_zh) if area else me.area
    if me.department:
        d = department_in_force(me.department)
        return (d.name_en if page.lang == "en" else d.name_zh) if d else me.department
    return page.t("scope_everything")

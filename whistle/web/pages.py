"""The page framework: who is looking (a session cookie → the same ``Principal`` as a bearer
token), in which language, the CSRF token of their forms, and rendering a template.

A page route takes one of the dependencies below and returns :func:`render`::

    @router.get("/liaison/inbox", include_in_schema=False)
    async def inbox(page: Annotated[Page, Depends(roles("liaison", "admin"))]) -> HTMLResponse:
        return render(page, "inbox.html", rows=...)

``Page`` for anyone (``public_page``), a logged-in user (``user_page``) or some roles
(``roles(...)``); a form handler takes ``Annotated[FormPage, Depends(form(...))]`` instead, which
checks the CSRF token before the handler runs. Anonymous → 303 to ``/login?next=…``; wrong
role → a 403 page; a bad or missing CSRF token → a 403 page.

CSRF: a synchroniser token. A session row carries its own random token, put in every form
(``csrf_token`` field) and accepted as the ``X-CSRF-Token`` header (htmx); before login (the
login form, the language switch) the token is a random ``whistle_csrf`` cookie that the form
must repeat (double submit), replaced by the session's at login.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.datastructures import FormData

from whistle.api.i18n import Lang
from whistle.api.identity import Principal, UserRole
from whistle.web.accounts import Accounts, Session
from whistle.web.messages import text

if TYPE_CHECKING:
    from whistle.notify.inbox import Inbox

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "whistle_session"
CSRF_COOKIE = "whistle_csrf"
LANG_COOKIE = "whistle_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
STATIC_PREFIX = "/web/static"
HTMX = "htmx-2.0.11.min.js"
HTMX_SSE = "htmx-ext-sse-2.2.4.min.js"
ECHARTS = "echarts-common-6.1.0.min.js"

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


class PageError(Exception):
    """Answer with the error page: ``status`` and the catalogue message ``key``."""

    def __init__(self, status: int, key: str, **values: object) -> None:
        super().__init__(key)
        self.status, self.key, self.values = status, key, values


class Redirect(Exception):
    """Answer 303 to ``location`` (the login page for an anonymous visitor)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


@dataclass
class Page:
    """One page request: the visitor's session (None: anonymous), language and CSRF token."""

    request: Request
    session: Session | None
    lang: Lang
    csrf_token: str
    new_csrf_cookie: bool = False
    flash: list[str] = field(default_factory=list)
    unread: int | None = None
    """The visitor's unread notifications (the navigation's badge); None: not counted."""

    @property
    def principal(self) -> Principal:
        """The logged-in user (only on pages that required one)."""
        assert self.session is not None
        return self.session.principal

    def t(self, key: str, **values: object) -> str:
        """A page message in the visitor's language."""
        return text(key, self.lang, **values)


@dataclass
class FormPage(Page):
    """A page request whose form passed the CSRF check."""

    form: FormData = field(default_factory=FormData)

    def value(self, name: str) -> str:
        """A form field, stripped, without NUL characters (empty when absent or a file)."""
        raw = self.form.get(name)
        return raw.replace("\x00", "").strip() if isinstance(raw, str) else ""


def accounts_of(request: Request) -> Accounts:
    """The wired accounts store; 503 page when the app has none."""
    accounts: Accounts | None = getattr(request.app.state.services, "accounts", None)
    if accounts is None:
        raise PageError(503, "accounts_unavailable")
    return accounts


def choose_lang(request: Request, session: Session | None) -> Lang:
    """The cookie's language, else the user's kept preference, else Chinese."""
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in ("zh", "en"):
        return "en" if cookie == "en" else "zh"
    return session.lang if session and session.lang else "zh"


async def public_page(request: Request) -> Page:
    """Any visitor, logged in or not."""
    cached: Page | None = getattr(request.state, "page", None)
    if cached is not None:
        return cached
    cookie = request.cookies.get(SESSION_COOKIE)
    session = await accounts_of(request).session(cookie) if cookie else None
    if session is not None:
        csrf, new = session.csrf_token, False
    else:
        kept = request.cookies.get(CSRF_COOKIE) or ""
        csrf, new = (kept, False) if len(kept) >= 32 else (secrets.token_urlsafe(32), True)
    page = Page(request, session, choose_lang(request, session), csrf, new)
    page.unread = await _unread(request, session)
    request.state.page = page
    return page


async def _unread(request: Request, session: Session | None) -> int | None:
    """The logged-in visitor's unread count for the navigation: one count (on the inbox's
    partial index) for a page a browser opens; none for a photo, a stream or an htmx request
    (``Sec-Fetch-Dest`` other than ``document``), which show no navigation, nor for a form
    (a form shown again with its errors has the 通知 link without the count)."""
    inbox: Inbox | None = getattr(request.app.state.services, "inbox", None)
    headers = request.headers
    if session is None or inbox is None or request.method not in ("GET", "HEAD"):
        return None
    if headers.get("sec-fetch-dest", "document") != "document" or "hx-request" in headers:
        return None
    return await inbox.unread(session.principal.user_id)


PASSWORD_PAGES = ("/password", "/logout", "/lang")
"""Where a user whose password must change may go before changing it."""


async def user_page(page: Annotated[Page, Depends(public_page)]) -> Page:
    """A logged-in user; anonymous → 303 to the login page (back here afterwards)."""
    request = page.request
    if page.session is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise Redirect(f"/login?next={quote(here, safe='')}")
    if page.session.must_change_password and request.url.path not in PASSWORD_PAGES:
        raise Redirect("/password")
    return page


def roles(*allowed: UserRole) -> Callable[..., Awaitable[Page]]:
    """A logged-in user of one of ``allowed`` roles; another role → the 403 page."""

    async def dependency(page: Annotated[Page, Depends(user_page)]) -> Page:
        if page.principal.role not in allowed:
            role = page.t(f"role_{page.principal.role}")
            raise PageError(403, "forbidden_role", role=role)
        return page

    return dependency


def form(
    who: Callable[..., Awaitable[Page]] = user_page,
) -> Callable[..., Awaitable[FormPage]]:
    """A submitted form of a visitor that ``who`` admits, its CSRF token checked (403 page)."""

    async def dependency(request: Request, page: Page = Depends(who)) -> FormPage:  # noqa: B008
        # (a default, not Annotated: the annotation is a string, and ``who`` is no global)
        data = await request.form()
        sent = data.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
        expected = page.csrf_token if not page.new_csrf_cookie else ""
        if not (isinstance(sent, str) and expected and secrets.compare_digest(sent, expected)):
            raise PageError(403, "csrf_failed")
        fields = {k: v for k, v in vars(page).items() if k != "form"}
        return FormPage(**fields, form=data)

    return dependency


def fragment(page: Page, template: str, **context: Any) -> str:
    """The template rendered for ``page`` as text. Every template's context has ``t``,
    ``lang``, ``csrf_token``, ``user``, the static files' URLs and the navigation's ``unread``
    count (``context`` may override it), ``inbox_live``: the stream the page listens to."""
    common: dict[str, Any] = {
        "t": page.t,
        "lang": page.lang,
        "html_lang": html_lang(page.lang),
        "csrf_token": page.csrf_token,
        "csrf_field": CSRF_FIELD,
        "user": page.session.principal if page.session else None,
        "has_inbox": getattr(page.request.app.state.services, "inbox", None) is not None,
        "unread": page.unread,
        "inbox_live": False,
        "path": page.request.url.path,
        "static": STATIC_PREFIX,
        "htmx": f"{STATIC_PREFIX}/{HTMX}",
        "htmx_sse": f"{STATIC_PREFIX}/{HTMX_SSE}",
        "echarts": f"{STATIC_PREFIX}/{ECHARTS}",
        "flash": page.flash,
    }
    return templates.get_template(template).render(common | context)


def html_lang(lang: str) -> str:
    """The ``lang`` attribute of a language of the site (``zh`` → ``zh-CN``)."""
    return "zh-CN" if lang == "zh" else "en"


def render(
    page: Page, template: str, status: int = 200, *, no_store: bool = False, **context: Any
) -> HTMLResponse:
    """The page answer of :func:`fragment`."""
    response = HTMLResponse(fragment(page, template, **context), status_code=status)
    finish(page, response, no_store=no_store)
    return response


def finish(page: Page, response: Response, *, no_store: bool = False) -> None:
    """Headers every page answer carries, and the pre-login CSRF cookie when it is new."""
    response.headers["Cache-Control"] = "no-store" if no_store else "private, no-cache"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if page.new_csrf_cookie:
        set_cookie(page.request, response, CSRF_COOKIE, page.csrf_token, max_age=None)


def set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None
) -> None:
    """An HttpOnly, SameSite=Lax cookie, Secure when the request came over https."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def redirect(page: Page, location: str) -> RedirectResponse:
    """303 to ``location`` (after a form: the browser GETs it)."""
    response = RedirectResponse(location, status_code=303)
    finish(page, response)
    return response


def local_target(next_url: str | None, default: str = "/") -> str:
    """``next_url`` when it is a path on this site (no scheme, no host), else ``default``."""
    if next_url and next_url.startswith("/") and not next_url.startswith(("//", "/\\")):
        return next_url
    return default

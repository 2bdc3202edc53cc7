"""站内通知 (#18): the logged-in visitor's own notifications, newest first, each linking to the
case page their role opens; 标为已读 and 全部标为已读 as plain forms (back to the page); new
ones and the unread count live over server-sent events, written as the page's own HTML
fragments for htmx's SSE extension. The queries are the inbox's
(``whistle/notify/inbox.py``), the stream the API's (``notification_routes.inbox_events``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from whistle.api.dashboard import sse_text
from whistle.api.identity import UserRole
from whistle.api.notification_routes import InboxEvents, inbox_stream, resume_after
from whistle.notify.inbox import Inbox
from whistle.web.liaison_routes import china_time
from whistle.web.pages import (
    FormPage,
    Page,
    PageError,
    form,
    fragment,
    html_lang,
    redirect,
    render,
    user_page,
)

router = APIRouter()

PAGE_SIZE = 20
"""Notifications a page shows; 显示更多 shows the next older ones."""
STREAM = "/notifications/stream"
CASE_PAGES: dict[UserRole, str] = {
    "secretary": "/cases/{case_id}",
    "liaison": "/liaison/cases/{case_id}",
    "supervisor": "/supervisor/cases/{case_id}",
    "admin": "/cases/{case_id}",
}
"""The case page each role opens (a configuration admin has none). A notification's stored
``link`` is the one its e-mail and chat messages carry (``WHISTLE_NOTIFY_CASE_URL``)."""
AT_ACTION = {"joint_action_scheduled": "#act-report-in", "joint_action_moved": "#act-report-in"}
"""Where on the liaison's case page a kind of notification is acted on (报到 at the 集结)."""
NotificationId = Annotated[int, Path(ge=1, le=2**62)]


def inbox_of(page: Page) -> Inbox:
    """The wired inbox; the 503 page when the app has none."""
    inbox: Inbox | None = page.request.app.state.services.inbox
    if inbox is None:
        raise PageError(503, "inbox_unavailable")
    return inbox


def case_page(role: UserRole, kind: str, case_id: str) -> str | None:
    """The case page of a notification for ``role`` (None: the role has no case page)."""
    template = CASE_PAGES.get(role)
    if template is None:
        return None
    anchor = AT_ACTION.get(kind, "") if role == "liaison" else ""
    return template.replace("{case_id}", case_id) + anchor


def view(page: Page, item: dict[str, Any]) -> dict[str, Any]:
    """A notification as the page shows it: in its own language, the visitor's case page."""
    return item | {
        "href": case_page(page.principal.role, item["kind"], item["case_id"]),
        "html_lang": html_lang(item["language"]),
        "received": china_time(item["created_at"]),
        "received_iso": item["created_at"].isoformat(),
        "unread": item["read_at"] is None,
    }


def id_of(raw: str | None) -> int | None:
    """A notification id of a link or a form (``before``); anything else (a hand-edited
    link) is none."""
    if raw and raw.isascii() and raw.isdigit() and len(raw) < 19:
        return int(raw) or None
    return None


@router.get("/notifications", response_class=HTMLResponse, include_in_schema=False)
async def notifications(page: Annotated[Page, Depends(user_page)]) -> Response:
    """The visitor's notifications, ``PAGE_SIZE`` at a time, older ones by ``?before=``; the
    newest page listens for new ones (prepended) and the unread count."""
    query = page.request.query_params
    before = id_of(query.get("before"))
    rows = await inbox_of(page).items(page.principal.user_id, limit=PAGE_SIZE + 1, before=before)
    items = [view(page, r) for r in rows[:PAGE_SIZE]]
    more = items[-1]["notification_id"] if len(rows) > PAGE_SIZE else None
    newest = items[0]["notification_id"] if items and before is None else 0
    live = f"{STREAM}?after={newest}" if before is None else STREAM
    return render(page, "notifications.html", items=items, before=before, more=more,
                  marked=query.get("marked", ""), inbox_live=live)  # fmt: skip


@router.post(
    "/notifications/{notification_id}/read", response_class=HTMLResponse, include_in_schema=False
)
async def mark_read(
    notification_id: NotificationId, page: Annotated[FormPage, Depends(form(user_page))]
) -> Response:
    """标为已读: back to the page it was on; from htmx, the notification in place and the
    navigation's new count. Another user's notification is not found."""
    inbox = inbox_of(page)
    marked = await inbox.mark_read(page.principal.user_id, notification_id)
    if marked is None:
        raise PageError(404, "no_notification")
    before = id_of(page.value("before"))
    if page.request.headers.get("hx-request") == "true":
        page.unread = await inbox.unread(page.principal.user_id)
        return render(page, "_notification_marked.html", n=view(page, marked), before=before)
    older = f"before={before}&" if before else ""
    return redirect(page, f"/notifications?{older}marked=1#n-{notification_id}")


@router.post("/notifications/read-all", response_class=HTMLResponse, include_in_schema=False)
async def mark_all_read(page: Annotated[FormPage, Depends(form(user_page))]) -> Response:
    """全部标为已读: every unread notification of the visitor, back to the newest."""
    await inbox_of(page).mark_all_read(page.principal.user_id)
    return redirect(page, "/notifications?marked=all")


@router.get(STREAM, include_in_schema=False)
async def stream(
    page: Annotated[Page, Depends(user_page)],
    after: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    last_event_id: Annotated[str | None, Header(max_length=32)] = None,
) -> StreamingResponse:
    """The visitor's inbox live, as ``GET /v1/stream/notifications`` streams it for a token,
    each event an HTML fragment: ``unread`` the navigation's badge, ``notification`` the new
    one's list item. ``after``: the newest the page shows (a reconnect's ``Last-Event-ID``
    comes first)."""
    write = InboxEvents(
        lambda count: fragment(page, "_unread.html", unread=count),
        lambda item: fragment(page, "_notification.html", n=view(page, item), before=None),
        sse_text,
    )
    resume = resume_after(last_event_id)
    return inbox_stream(page.request, inbox_of(page), page.principal.user_id,
                        after if resume is None else resume, write)  # fmt: skip

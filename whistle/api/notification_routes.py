"""In-app notifications of the workspaces: the caller's own inbox, its unread count, marking
read, and new notifications live over server-sent events (``whistle/notify/inbox.py``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from whistle.api.dashboard import sse
from whistle.api.deps import CurrentPrincipal, CurrentServices, Services
from whistle.api.problems import ProblemError, problem_responses
from whistle.notify.inbox import Inbox

router = APIRouter(tags=["notifications"])

NotificationId = Annotated[int, Path(ge=1, le=2**62)]
WAKE_S = 1.0  # how often a stream looks whether its client has gone
POLL_EVERY = 5  # …and every this many wake-ups reads the inbox even if nothing woke it
HEARTBEAT_S = 15.0


class NotificationOut(BaseModel):
    """One notification, as written for its recipient (in the recipient's language)."""

    notification_id: int
    case_id: str
    kind: str = Field(description="assigned, deadline_approaching, escalated, … (see docs)")
    language: str
    subject: str
    headline: str
    ask: str = Field(description="What the recipient is asked to do.")
    title: str
    deadline: datetime | None
    deadline_text: str = Field(description="The deadline in China time, as the language writes it.")
    link: str = Field(description="The case page.")
    created_at: datetime
    read_at: datetime | None


class Notifications(BaseModel):
    """The caller's notifications, newest first, and how many are unread."""

    items: list[NotificationOut]
    unread: int


class Unread(BaseModel):
    """How many of the caller's notifications are unread."""

    unread: int


class Marked(BaseModel):
    """How many notifications were marked read, and how many remain unread."""

    marked: int
    unread: int


def _inbox(services: Services) -> Inbox:
    """The inbox wired at start-up; 503 where the app was built without one."""
    if services.inbox is None:
        raise ProblemError(
            503,
            "unavailable",
            detail_key="unavailable",
            detail_values={"what": "notifications", "retry": 1},
            headers={"Retry-After": "1"},
        )
    return services.inbox


@router.get(
    "/v1/me/notifications",
    summary="My notifications (in-app), newest first",
    responses=problem_responses(401),
    operation_id="listMyNotifications",
)
async def list_notifications(
    principal: CurrentPrincipal,
    services: CurrentServices,
    unread: Annotated[bool, Query(description="Only the unread ones.")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[
        int | None, Query(ge=1, le=2**62, description="Older than this notification id.")
    ] = None,
) -> Notifications:
    """Every signed-in user has an inbox; nobody reads another's."""
    inbox = _inbox(services)
    items, count = await asyncio.gather(
        inbox.items(principal.user_id, unread, limit, before), inbox.unread(principal.user_id)
    )
    return Notifications(items=[NotificationOut(**i) for i in items], unread=count)


@router.get(
    "/v1/me/notifications/unread",
    summary="How many of my notifications are unread",
    responses=problem_responses(401),
    operation_id="countMyUnreadNotifications",
)
async def unread_count(principal: CurrentPrincipal, services: CurrentServices) -> Unread:
    """The badge of the workspace."""
    return Unread(unread=await _inbox(services).unread(principal.user_id))


@router.post(
    "/v1/me/notifications/{notification_id}/read",
    summary="Mark one of my notifications read",
    responses=problem_responses(401, 404),
    operation_id="markMyNotificationRead",
)
async def mark_read(
    notification_id: NotificationId, principal: CurrentPrincipal, services: CurrentServices
) -> Marked:
    """Marking a read notification again changes nothing; another user's is 404."""
    inbox = _inbox(services)
    if not await inbox.mark_read(principal.user_id, notification_id):
        raise ProblemError(
            404, "not_found", detail_key="no_notification", detail_values={"id": notification_id}
        )
    return Marked(marked=1, unread=await inbox.unread(principal.user_id))


@router.post(
    "/v1/me/notifications/read-all",
    summary="Mark all my notifications read",
    responses=problem_responses(401),
    operation_id="markAllMyNotificationsRead",
)
async def mark_all_read(principal: CurrentPrincipal, services: CurrentServices) -> Marked:
    """Returns how many were unread."""
    marked = await _inbox(services).mark_all_read(principal.user_id)
    return Marked(marked=marked, unread=0)


def resume_after(last_event_id: str | None) -> int | None:
    """The id a reconnecting EventSource resumes after (``Last-Event-ID``), if it is one."""
    if last_event_id and last_event_id.isascii() and last_event_id.isdigit():
        return min(int(last_event_id), 2**62) if len(last_event_id) < 20 else None
    return None


@dataclass(frozen=True)
class InboxEvents:
    """What a stream says in its two events (the unread count; one new notification) and how
    it writes an event (``sse``: JSON; ``sse_text``: text as it is, e.g. an HTML fragment)."""

    unread: Callable[[int], Any]
    notification: Callable[[dict[str, Any]], Any]
    encode: Callable[[str, Any, str | None], bytes] = sse


JSON_EVENTS = InboxEvents(
    lambda count: {"unread": count},
    lambda item: NotificationOut(**item).model_dump(mode="json"),
)
"""The API's events (the workspace pages write HTML fragments instead)."""


async def inbox_events(
    request: Request,
    inbox: Inbox,
    user_id: str,
    after: int | None,
    write: InboxEvents = JSON_EVENTS,
) -> AsyncIterator[bytes]:
    """``unread`` at once; then each new ``notification`` (id: its notification id) and the new
    ``unread`` count whenever the inbox changes; a comment as heartbeat."""
    yield b"retry: 2000\n\n"
    woken = await inbox.watch.subscribe(user_id)
    try:
        if after is None:
            after = await inbox.newest_id(user_id)
        count = await inbox.unread(user_id)
        yield write.encode("unread", write.unread(count), None)
        idle, quiet = POLL_EVERY, 0.0  # read at once: what a reconnecting client missed
        while not await request.is_disconnected():
            if woken.is_set() or idle >= POLL_EVERY:
                woken.clear()
                idle = 0
                for item in await inbox.since(user_id, after):
                    after = item["notification_id"]
                    yield write.encode("notification", write.notification(item), str(after))
                    quiet = 0.0
                now = await inbox.unread(user_id)
                if now != count:
                    count, quiet = now, 0.0
                    yield write.encode("unread", write.unread(count), None)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), WAKE_S)
            idle += 0 if woken.is_set() else 1
            quiet += WAKE_S
            if quiet >= HEARTBEAT_S:
                quiet = 0.0
                yield b": keep-alive\n\n"
    finally:  # shielded: a disconnect cancels this task, and the watch must be given back
        with anyio.CancelScope(shield=True):
            await inbox.watch.unsubscribe(user_id, woken)


def inbox_stream(
    request: Request,
    inbox: Inbox,
    user_id: str,
    after: int | None,
    write: InboxEvents = JSON_EVENTS,
) -> StreamingResponse:
    """The ``text/event-stream`` answer of :func:`inbox_events` (unbuffered by a proxy)."""
    return StreamingResponse(
        inbox_events(request, inbox, user_id, after, write),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/v1/stream/notifications",
    summary="My new notifications, live (server-sent events)",
    description='`text/event-stream`: an `unread` event (`{"unread": n}`) at once; then a '
    "`notification` event (a notification as listed, its `notification_id` as the event id) "
    "for each new one and an `unread` event whenever the count changes; a comment every 15 s. "
    "A reconnecting client's `Last-Event-ID` gets what it missed.",
    responses={200: {"content": {"text/event-stream": {}}}, **problem_responses(401)},
    operation_id="streamMyNotifications",
)
async def stream_notifications(
    request: Request,
    principal: CurrentPrincipal,
    services: CurrentServices,
    last_event_id: Annotated[str | None, Header(max_length=32)] = None,
) -> StreamingResponse:
    """Server-sent events of the caller's inbox."""
    return inbox_stream(request, _inbox(services), principal.user_id, resume_after(last_event_id))

"""The words of the in-app notifications page and the navigation's badge (merged into
``PAGES``). A notification's own text (headline, ask, deadline) is written when it is sent, in
the recipient's language of messages (``whistle/notify/templates.py``)."""

from __future__ import annotations

INAPP: dict[str, tuple[str, str]] = {
    "link_notifications": ("通知", "Notifications"),
    "notifications_title": ("站内通知", "Notifications"),
    "notifications_unread": ("（{count} 条未读）", " ({count} unread)"),
    "notifications_intro": (
        "派单、临近时限、超时、督办和集结等通知，最新的在最前；新通知无需刷新即会出现。",
        "New cases, approaching deadlines, breaches, escalations and joint actions, the "
        "newest first; new ones appear without reloading.",
    ),
    "notifications_empty": ("暂无通知。", "No notifications yet."),
    "notifications_no_older": ("没有更早的通知。", "No older notifications."),
    "notifications_more": ("显示更多", "Show more"),
    "notifications_newest": ("返回最新通知", "Back to the newest"),
    "notifications_mark_read": ("标为已读", "Mark read"),
    "notifications_mark_read_of": ("标为已读：{headline}", "Mark read: {headline}"),
    "notifications_mark_all": ("全部标为已读", "Mark all read"),
    "notifications_marked": ("已标为已读。", "Marked read."),
    "notifications_all_marked": ("全部通知已标为已读。", "All notifications are marked read."),
    "notification_new": ("未读", "Unread"),
    "notification_case": ("案件", "Case"),
    "notification_deadline": ("期限", "Deadline"),
    "notification_received": ("收到时间", "Received"),
    "no_notification": ("没有这条通知。", "No such notification."),
    "inbox_unavailable": ("站内通知暂不可用，请稍后再试。", "Notifications are unavailable now."),
}

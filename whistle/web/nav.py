"""What each role's home page links to: a later page adds its ``Link`` here."""

from __future__ import annotations

from dataclasses import dataclass

from whistle.api.identity import USER_ROLES, UserRole


@dataclass(frozen=True)
class Link:
    """A link on the home page of ``roles``: the catalogue key of its words and its path."""

    key: str
    href: str
    roles: tuple[UserRole, ...]


EVERYONE = USER_ROLES

LINKS: tuple[Link, ...] = (
    Link("link_whistle", "/whistle", ("secretary", "admin")),
    Link("link_cases", "/cases", ("secretary", "supervisor", "admin")),
    Link("link_liaison_inbox", "/liaison", ("liaison",)),
    Link("link_supervisor", "/supervisor", ("supervisor", "admin")),
    Link("link_dashboard", "/dashboard", ("supervisor", "admin")),
    Link("link_users", "/admin/users", ("admin",)),
    Link("link_public", "/public", EVERYONE),
    Link("link_config", "/admin/config", ("admin",)),
    Link("link_notify_departments", "/admin/notifications/departments", ("admin",)),
    Link("link_webhooks", "/admin/webhooks", ("admin",)),
    Link("link_notifications", "/notifications", EVERYONE),
    Link("link_notify_settings", "/settings/notifications", EVERYONE),
    Link("link_password", "/password", EVERYONE),
    Link("link_api_docs", "/docs", EVERYONE),
)


def links_for(role: UserRole) -> list[Link]:
    """The home page's links for ``role``, in order."""
    return [link for link in LINKS if role in link.roles]

"""Who is calling: the principal behind an API token, and the scope a role grants."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from whistle.domain.areas import known_area, known_department
from whistle.domain.base import Actor
from whistle.read.scope import Scope

UserRole = Literal["secretary", "liaison", "supervisor", "admin", "config_admin"]
USER_ROLES: tuple[UserRole, ...] = ("secretary", "liaison", "supervisor", "admin", "config_admin")
TOKEN_PREFIX = "wh_"
SCOPE_KINDS: dict[str, tuple[str, ...]] = {
    "secretary": ("community", "village"),
    "supervisor": ("street", "town", "district"),
    "config_admin": ("district",),
}
AREA_ROLES = ("secretary", "supervisor", "config_admin")
"""Roles scoped by an area (a config_admin: the district whose configuration it changes)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user: a secretary of one community, a liaison of one department,
    a supervisor of a street or district (area code prefix), an admin, or a district's
    configuration admin (``config_admin``: changes its district's areas and routing rules)."""

    user_id: str
    role: UserRole
    area: str | None = None
    department: str | None = None
    name: str = ""

    def actor(self) -> Actor:
        """The actor recorded on the commands this user issues."""
        return Actor(
            user_id=self.user_id, role=self.role, department=self.department, area=self.area
        )


def new_token() -> str:
    """A fresh API token: 32 random bytes, URL-safe, with a recognisable prefix."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """SHA-256 of the token (hex). Tokens carry 256 random bits, so a fast hash suffices:
    no dictionary or brute force can invert it, and a slow KDF would cost every request."""
    return hashlib.sha256(token.encode()).hexdigest()


def sees(principal: Principal, area: str | None, departments: Sequence[str]) -> bool:
    """Whether ``principal`` may see a case in ``area`` assigned to ``departments``: the
    case lies in the principal's scope (the rule the listings' SQL renders)."""
    return Scope.of(principal).holds(area, departments)


def validate_scope(role: str, area: str | None, department: str | None) -> str | None:
    """Why a user's scope is inconsistent with the role, or None when it is fine."""
    if role in AREA_ROLES and not area:
        return f"a {role} needs an area (community for a secretary, street or district else)"
    if role == "liaison" and not department:
        return "a liaison needs a department"
    if role == "liaison" and area:
        return "a liaison is scoped by department, not by area"
    if role in AREA_ROLES and department:
        return f"a {role} is scoped by area, not by department"
    if role == "admin" and (area or department):
        return "an admin sees everything: give neither area nor department"
    if role not in USER_ROLES:
        return f"unknown role {role!r}"
    if department and not known_department(department):
        return f"unknown department {department!r}"
    if area:
        known = known_area(area)
        kinds = SCOPE_KINDS[role]
        if known is None or known.kind not in kinds:
            return f"a {role}'s area must be a known {' or '.join(kinds)} code, not {area!r}"
    return None

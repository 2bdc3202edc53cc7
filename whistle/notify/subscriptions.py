"""Which kinds of notification each person receives (issue #18, item 1): on/off per kind.

Pure (no I/O). The rules of :mod:`whistle.notify.recipients` say who *would* be told; this
module filters their notices by the people's subscriptions, after :func:`react`:

- the default, per role, is every kind the rules address to that role: on;
- a department's setting applies to its liaisons;
- a user's own setting overrides the department's;
- the supervisors of a tier cannot mute breaches or escalations (催办/督办/通报): the
  escalation ladder exists to reach them (:data:`UNMUTABLE`);
- an emergency case's notices reach everyone the rules name, muted or not, as emergencies
  break through quiet hours and the digest.

A setting absent is the default: only what someone changed is stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from whistle.notify.message import KINDS
from whistle.notify.recipients import Directory, Notice, Person

Source = Literal["default", "department", "user", "fixed"]
"""Where a person's on/off for a kind comes from."""

UNMUTABLE: Mapping[str, frozenset[str]] = {
    "supervisor": frozenset({"deadline_breached", "escalated"}),
}
"""Per role, the kinds that cannot be turned off."""


def mutable(role: str, kind: str) -> bool:
    """Whether a person of ``role`` may turn ``kind`` off."""
    return kind not in UNMUTABLE.get(role, frozenset())


@dataclass(frozen=True)
class Subscriptions:
    """Everyone's stored settings: kind → on/off, per user and per department."""

    users: Mapping[str, Mapping[str, bool]] = field(default_factory=dict)
    departments: Mapping[str, Mapping[str, bool]] = field(default_factory=dict)

    def inherited(self, person: Person, kind: str) -> tuple[bool, Source]:
        """What ``person`` gets for ``kind`` without a setting of their own."""
        if not mutable(person.role, kind):
            return True, "fixed"
        if person.role == "liaison" and person.department:
            dept = self.departments.get(person.department, {}).get(kind)
            if dept is not None:
                return dept, "department"
        return True, "default"

    def setting(self, person: Person, kind: str) -> tuple[bool, Source]:
        """Whether ``person`` receives ``kind``, and why."""
        on, source = self.inherited(person, kind)
        own = self.users.get(person.user_id, {}).get(kind)
        if source == "fixed" or own is None:
            return on, source
        return own, "user"

    def receives(self, person: Person, kind: str) -> bool:
        """Whether ``person`` receives ``kind``."""
        return self.setting(person, kind)[0]

    def mutes(self, person: Person, kind: str, urgency: str) -> bool:
        """Whether a notice of ``kind`` about a case of ``urgency`` is kept from ``person``."""
        return urgency != "emergency" and not self.receives(person, kind)


def wanted(
    notices: Iterable[Notice], directory: Directory, subs: Subscriptions, urgency: str
) -> list[Notice]:
    """The ``notices`` whose recipients receive their kind (all of them for an emergency).

    A recipient unknown to the directory is kept: the intake drops it anyway, and this filter
    only mutes."""
    people = directory.people
    return [
        n
        for n in notices
        if n.recipient not in people or not subs.mutes(people[n.recipient], n.kind, urgency)
    ]


def unknown_kinds(kinds: Iterable[str]) -> list[str]:
    """The names among ``kinds`` that are no notification kind, in order."""
    return [k for k in kinds if k not in KINDS]


def fixed_off(role: str, settings: Mapping[str, bool]) -> list[str]:
    """The kinds ``settings`` turns off that ``role`` cannot mute, in order."""
    return [k for k, on in settings.items() if not on and not mutable(role, k)]

"""Taking an imported calendar year into a configuration version.

``whistle calendar import`` validates a notice file into a :class:`CalendarYear`; publishing it
is the configuration versions' business (their publisher lives elsewhere). This module is the
seam: :func:`publish_calendar_year` builds the proposed version (the current one with the year
added or replaced), refuses it when :func:`check` finds anything, and hands it to the
publisher it is given, which returns the new version number. Connect it by passing that
publisher; its audit entry is the publisher's (``whistle.audit.entries.record_config_change``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from whistle.domain.configuration import (
    CalendarYear,
    ConfigDiff,
    Configuration,
    Finding,
    check,
    diff,
    packaged_configuration,
    with_calendar_year,
)

Publisher = Callable[[Configuration, ConfigDiff, str], Awaitable[int]]
"""Publishes a proposed configuration with its diff against the current one and a note;
returns the new version's number."""


class CalendarRefused(ValueError):
    """The configuration with the year is not publishable; ``findings`` say why."""

    def __init__(self, findings: list[Finding]) -> None:
        super().__init__("; ".join(f.message("en") for f in findings))
        self.findings = findings


def proposed_configuration(
    year: CalendarYear, current: Configuration | None = None
) -> Configuration:
    """``current`` (default: the packaged version) with ``year`` added or replacing its year."""
    return with_calendar_year(current or packaged_configuration(), year)


async def publish_calendar_year(
    year: CalendarYear, publish: Publisher, current: Configuration | None = None
) -> int:
    """Publish ``current`` with ``year`` through ``publish``; the new version's number.

    Raises :class:`CalendarRefused` (nothing published) when the proposed version has findings.
    """
    base = current or packaged_configuration()
    proposed = proposed_configuration(year, base)
    findings = check(proposed)
    if findings:
        raise CalendarRefused(findings)
    note = f"calendar {year.year}" + (" (provisional)" if year.provisional else "")
    return await publish(proposed, diff(base, proposed), note)

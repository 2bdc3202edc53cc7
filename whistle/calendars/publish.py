"""The configuration a checked calendar year proposes.

``whistle calendar import`` validates a notice file into a :class:`CalendarYear` and shows what
it would change; publishing it is a configuration version (``whistle config publish calendars
FILE``, ``whistle.config``), which checks the whole proposed configuration again.
"""

from __future__ import annotations

from whistle.domain.configuration import (
    CalendarYear,
    Configuration,
    packaged_configuration,
    with_calendar_year,
)


def proposed_configuration(
    year: CalendarYear, current: Configuration | None = None
) -> Configuration:
    """``current`` (default: the packaged version) with ``year`` added or replacing its year."""
    return with_calendar_year(current or packaged_configuration(), year)

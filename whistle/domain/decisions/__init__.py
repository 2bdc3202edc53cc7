"""The deciders of every command, grouped by lifecycle phase; each registers with ``@decides``."""

from whistle.domain.decisions import clocks, closure, intake, work
from whistle.domain.decisions.base import DECIDERS, Ctx, Decision, decides

PHASES = (intake, work, closure, clocks)
"""The modules whose import registers the deciders."""

__all__ = ["DECIDERS", "PHASES", "Ctx", "Decision", "decides"]

"""The deciders of every command, grouped by lifecycle phase."""

from collections.abc import Callable
from typing import Any

from whistle.domain.decisions import clocks, closure, intake, work
from whistle.domain.decisions.base import Ctx, Decision

DECIDERS: dict[str, Callable[[Ctx, Any, Any], Decision]] = {
    **intake.DECIDERS,
    **work.DECIDERS,
    **closure.DECIDERS,
    **clocks.DECIDERS,
}
"""Command type → decider."""

__all__ = ["DECIDERS", "Ctx", "Decision"]

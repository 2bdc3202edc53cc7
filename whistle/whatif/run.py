"""A what-if from end to end: the versions, the proposal, the parallel replay, the answer."""

from __future__ import annotations

import asyncio
import contextlib
import os
from datetime import UTC, datetime
from typing import Any

from whistle.config.follower import ConfigFollower
from whistle.config.seed import configured_seed
from whistle.config.versions import ConfigVersion, History
from whistle.settings import Settings
from whistle.whatif.answer import answer
from whistle.whatif.replay import same_context
from whistle.whatif.source import Progress, run_parallel


async def read_history(settings: Settings) -> History:
    """Every configuration version on the configuration topic (read once, then let go)."""
    follower = ConfigFollower(settings, seed=configured_seed(settings))
    await follower.start()
    try:
        return follower.history
    finally:
        await follower.stop()


def default_processes() -> int:
    """One replay process per core."""
    return max(1, len(os.sched_getaffinity(0)))


def run_whatif(
    settings: Settings,
    version: ConfigVersion,
    since: datetime,
    until: datetime,
    horizon: datetime | None = None,
    processes: int | None = None,
    progress: Progress | None = None,
    history: History | None = None,
) -> dict[str, Any]:
    """The answer for the cases raised in [since, until), the clocks run to ``horizon``
    (default: now, where the live read models stand). ``history`` (read when not given) tells
    whether cases routed as they were may be mirrored (``whistle.whatif.replay``)."""
    horizon = horizon or datetime.now(UTC)
    history = history if history is not None else history_now(settings)
    mirror = may_mirror(history, version, since, horizon)
    tally = run_parallel(
        settings, version, since, until, horizon, processes or default_processes(), progress,
        mirror,
    )  # fmt: skip
    return answer(tally, version, horizon)


def may_mirror(history: History, version: ConfigVersion, since: datetime, until: datetime) -> bool:
    """Whether ``version`` decides with the domain context of every version in force over
    [since, until] (then cases routed as they were are mirrored)."""
    in_force = in_force_over(history, since, until)
    return bool(in_force) and same_context(version, in_force)


def in_force_over(history: History, since: datetime, until: datetime) -> list[ConfigVersion]:
    """The versions in force at some instant of [since, until]: the one in force at ``since``
    and every one taking effect after it, up to ``until`` (none: the history is empty)."""
    found = [v for v in history.versions if since < v.effective_from <= until]
    with contextlib.suppress(LookupError):
        found.append(history.at(since))
    return found


def history_now(settings: Settings) -> History:
    """``read_history`` from synchronous code."""
    return asyncio.run(read_history(settings))

"""A what-if from end to end: the versions, the proposal, the parallel replay, the answer."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from typing import Any

from whistle.config.follower import ConfigFollower
from whistle.config.seed import configured_seed
from whistle.config.versions import ConfigVersion, History
from whistle.settings import Settings
from whistle.whatif.answer import answer
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
) -> dict[str, Any]:
    """The answer for the cases raised in [since, until), the clocks run to ``horizon``
    (default: now, where the live read models stand)."""
    horizon = horizon or datetime.now(UTC)
    tally = run_parallel(
        settings, version, since, until, horizon, processes or default_processes(), progress
    )
    return answer(tally, version, horizon)


def history_now(settings: Settings) -> History:
    """``read_history`` from synchronous code."""
    return asyncio.run(read_history(settings))

"""A what-if from end to end: the versions, the proposal, the parallel replay, the answer."""

from __future__ import annotations

import asyncio
import contextlib
import os
from datetime import UTC, datetime
from typing import Any

import asyncpg

from whistle.config.follower import ConfigFollower
from whistle.config.seed import configured_seed
from whistle.config.versions import ConfigVersion, History
from whistle.logs import get_logger
from whistle.settings import Settings
from whistle.topics import CASE_EVENTS
from whistle.whatif.answer import answer
from whistle.whatif.replay import same_context
from whistle.whatif.source import Progress, run_parallel
from whistle.whatif.tally import SideTally, Tally

log = get_logger()

ORIGINALS = ("auto", "read-models", "log")
"""Where the original side comes from: the live read models (``whistle.whatif.live``), the
log projected again, or ``auto``: the read models when they cover every partition."""


CATCH_UP_S = 5.0
"""How long a what-if waits for the read models to reach the log's end before it starts."""


class NoReadModels(Exception):
    """``read-models`` was asked for and the read models cannot give the original side."""


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
    original: str = "auto",
) -> dict[str, Any]:
    """The answer for the cases raised in [since, until), the clocks run to ``horizon``
    (default: now, where the live read models stand). ``history`` (read when not given) tells
    whether cases routed as they were may be mirrored (``whistle.whatif.replay``); ``original``
    (one of ``ORIGINALS``) where the original side comes from."""
    horizon = horizon or datetime.now(UTC)
    history = history if history is not None else history_now(settings)
    mirror = may_mirror(history, version, since, horizon)
    live = None if original == "log" else asyncio.run(read_live_side(settings, since, until))
    if live is None and original == "read-models":
        raise NoReadModels(settings.topic(CASE_EVENTS.name))
    tally = run_parallel(
        settings, version, since, until, horizon, processes or default_processes(), progress,
        mirror, None if live is None else live[1], None if live is None else settings.dsn,
    )  # fmt: skip
    return answer_whole(tally, None if live is None else live[0], version, horizon)


def answer_whole(
    tally: Tally, live: SideTally | None, version: ConfigVersion, horizon: datetime
) -> dict[str, Any]:
    """The answer of a replay's tally: in delta mode made whole with the read models' side
    ``live`` first; it says where the original side came from and how many cases were
    replayed in full."""
    if live is not None:
        tally = tally.with_live(live)
    result = answer(tally, version, horizon)
    result["original_from"] = "log" if live is None else "read-models"
    result["replayed"] = tally.cases - tally.unchanged  # in full (delta mode: the changed)
    return result


async def read_live_side(
    settings: Settings, since: datetime, until: datetime, wait_s: float = CATCH_UP_S
) -> tuple[SideTally, dict[int, int]] | None:
    """The read models' original side and where they stand in the events topic, once they
    have caught up with the log's end as it is now (waiting ``wait_s`` at most, else where
    they stand); None when the database cannot be reached or a partition has no checkpoint."""
    from projections.migrate import LIVE_SCHEMA
    from projections.projector import connect
    from projections.rebuild import end_offsets
    from whistle.whatif.live import positions, read_live

    topic = settings.topic(CASE_EVENTS.name)
    try:
        conn = await connect(settings.dsn, LIVE_SCHEMA)
    except (OSError, asyncpg.PostgresError) as exc:
        log.warning("whatif_read_models_unreachable", error=repr(exc))
        return None
    try:
        ends = await end_offsets(settings.bootstrap, topic)
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:  # the checkpoints alone (cheap), then the figures once
            stands = await positions(conn, topic)
            behind = {p: n - stands.get(p, 0) for p, n in ends.items() if stands.get(p, 0) < n}
            if not behind or asyncio.get_running_loop().time() >= deadline:
                break
            await asyncio.sleep(0.1)
        side, stands = await read_live(conn, topic, since, until)
    except asyncpg.UndefinedTableError:
        return None
    finally:
        await conn.close()
    if set(stands) != set(ends):
        log.info("whatif_read_models_partial", partitions=sorted(stands))
        return None
    if behind:
        log.info("whatif_read_models_behind", behind=behind)
    return side, stands


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

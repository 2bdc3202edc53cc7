"""Many varied case histories for the read-side tests and benchmarks, played through the domain.

``random_story`` plays one plausible case (disputes, breaches, extensions, pauses,
reopenings) through ``Story``'s steps; ``random_stories`` and ``random_events`` stream any
number of them, one case in memory at a time (a million cases is about ten million events).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from functools import partial

from tests.stories.story import Story
from whistle.domain import encode

COMMUNITIES = (
    "tongan.datong.jinhai",
    "tongan.datong.fengxiang",
    "tongan.xiangping.fengshan",
    "haicang.xinyang.xinyang",
    "xiangan.maxiang.zenglin",
)
DEPARTMENTS = ("urban_management", "transport", "public_security", "housing", "greening")
CATEGORIES = ("parking", "noise", "vendors", "sanitation", "greening", "property")
REASSIGNED_TO = "water"
"""Where a ruling sends a disputed part, when it does not uphold the dispute."""

MINUTE = timedelta(minutes=1)


def random_story(rng: random.Random, case_id: str, t0: datetime, by_rules: bool = False) -> Story:
    """A plausible, varied case history raised at ``t0``; its instants never go back.

    Its random draws are made in a fixed order (the one the read-side tests' seeds were chosen
    with): a seed gives the same kinds of case whatever the instants. ``by_rules``: the case
    is routed by the packaged routing rules and policies, as the worker routes it, and its
    deadlines fire by themselves at their due times (a ``live`` story), as the live system's
    log holds them (the what-if benchmark's cases); otherwise to three random departments under
    rule ``r1`` with calendar-time budgets, breaches placed by hand.
    """
    s = Story(case_id, rng.choice(COMMUNITIES), live=by_rules)
    t = t0
    step = lambda lo, hi: timedelta(minutes=rng.randint(lo, hi))  # noqa: E731
    s.raised(t, rng.choice(CATEGORIES))
    if by_rules:  # the worker routes a whistle as it is raised, at its instant
        s.do(s.routing(t), t)
    if rng.random() < 0.03:
        s.withdrawn(t + step(5, 60))
        return s
    t += step(1, 5)
    lead, *others = rng.sample(DEPARTMENTS, 3)
    supporting = tuple(others[: rng.randint(0, 2)])
    if by_rules:
        lead, supporting = s.s.lead or lead, tuple(s.s.supporting)
    else:
        s.routed(t, lead, supporting)
    t = _departments_answer(s, rng, t, (lead, *supporting))
    t += step(60, 600)
    s.contacted(t, lead)
    resolve_key = f"resolve:{lead}"
    if rng.random() < 0.2:
        s.paused(t + step(1, 30), [resolve_key])
        t += step(60, 600) + step(31, 60)  # paused for 1-10 h, a little after the pause
        s.resumed(t, [resolve_key])
    t += step(60, 3000)
    s.progress(t, lead)
    if rng.random() < 0.1:
        wanted = s.s.clocks[resolve_key].due_at + timedelta(days=3)
        asked = t + step(1, 10)
        if not s.live or asked < s.s.clocks[resolve_key].due_at:  # asked in time
            s.extension_requested(asked, lead, wanted)
            s.extension_granted(t + step(11, 60), lead)
    t += step(600, 14000)
    resolve_due = s.s.clocks[resolve_key].due_at
    if t > resolve_due:
        if not s.live:
            s.breached(resolve_due + MINUTE, "resolve", lead)
        s.escalated(resolve_due + 2 * MINUTE)
    for d in supporting:
        part = s.s.assignments.get(d)
        if part is not None and part.acknowledged_at is not None and not part.disputed:
            s.completed(t, d)
    if rng.random() < 0.1:
        return s  # still open
    s.resolved(t + step(1, 10), rng.choice(["solved", "solved", "explained"]))
    t += step(600, 3000)
    solved = rng.random() < 0.9
    satisfied = solved and rng.random() < 0.9
    s.callback(t, solved, satisfied)
    if not satisfied and rng.random() < 0.5:
        s.reopened(t + step(10, 60))
        t += step(600, 3000)
        s.resolved(t)
        s.callback(t + step(60, 600), True, True)
    if rng.random() < 0.8:
        s.closed(t + step(600, 1200))
    return s


def _departments_answer(
    s: Story, rng: random.Random, routed_at: datetime, departments: tuple[str, ...]
) -> datetime:
    """Each routed department signs (some late, their ack clock breached at 31 minutes) or a
    supporting one disputes and is ruled on; played in time order. Returns the last instant."""
    steps: list[tuple[datetime, int, Callable[[], object]]] = []

    def later(at: datetime, play: Callable[[], object]) -> None:
        steps.append((at, len(steps), play))

    def rule(at: datetime, department: str, new: str | None) -> None:
        """A second part sent to the same department is upheld instead (the domain refuses
        to assign a department twice)."""
        s.ruled(at, department, None if new in s.s.assignments else new)

    for d in departments:
        t2 = routed_at + timedelta(minutes=rng.randint(1, 45))
        if d != departments[0] and rng.random() < 0.1:
            ruled_at = t2 + timedelta(minutes=rng.randint(10, 120))
            new = rng.choice([None, REASSIGNED_TO])
            later(t2, partial(s.disputed, t2, d))
            later(ruled_at, partial(rule, ruled_at, d, new))
            continue
        fired = routed_at + 31 * MINUTE
        if t2 >= fired and rng.random() < 0.5 and not s.live:
            later(fired, partial(s.breached, fired, "ack", d))
        later(t2, partial(s.acknowledged, t2, d))
    steps.sort(key=lambda item: item[:2])
    for _, _, play in steps:
        play()
    return steps[-1][0]


def random_stories(
    rng: random.Random,
    count: int,
    t0: datetime,
    spacing: timedelta = MINUTE,
    case_id: Callable[[int], str] = "case-{:09d}".format,
    first: int = 0,
    by_rules: bool = False,
) -> Iterator[Story]:
    """``count`` random stories, the i-th (from ``first``) named ``case_id(i)`` and raised at
    ``t0 + i·spacing``, made one at a time as the caller takes them (processes that generate
    disjoint ranges, each with its own ``rng``, share out a large data set)."""
    for i in range(first, first + count):
        yield random_story(rng, case_id(i), t0 + i * spacing, by_rules)


def random_events(
    rng: random.Random,
    count: int,
    t0: datetime,
    spacing: timedelta = MINUTE,
    case_id: Callable[[int], str] = "case-{:09d}".format,
    first: int = 0,
    by_rules: bool = False,
) -> Iterator[tuple[bytes, bytes]]:
    """The encoded events (Kafka key = case id, value) of ``random_stories``, case by case."""
    for story in random_stories(rng, count, t0, spacing, case_id, first, by_rules):
        key = story.case_id.encode()
        for event in story.events:
            yield key, encode(event)

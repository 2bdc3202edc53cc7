"""A short-lived, single-flight cache of the scope-wide reads (lists, boards, metrics).

Read models trail the event log anyway (projection lag); serving the same list to every caller
of one scope for up to ``ttl_s`` (default 1 s) adds at most that much staleness and turns a
burst of identical queries into one. Per-case reads (a case, its timeline, its scope) and
health checks always go to the database.

An entry asked for in the last fifth of its life is refreshed in the background while it is
still served, so that steady traffic never waits for the query (the breach board takes tens of
milliseconds); what is served is still never older than ``ttl_s`` from its query's start.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from whistle.domain.state import CaseState
from whistle.read.gateway import Lag, MetricsQuery, ReadModel
from whistle.read.scope import CaseFilters, Row, Scope

MAX_ENTRIES = 4096
REFRESH_AHEAD = 0.2
"""Fraction of the TTL before expiry from which a read refreshes the entry in the background."""


@dataclass
class Entry:
    """One cached read: its result (or the query still running) and when it expires."""

    expires: float
    value: asyncio.Future[Any]
    refresh: asyncio.Future[Any] | None = None
    """The background query that will replace this entry (kept here: the loop holds tasks
    only weakly)."""


class CachedReadModel:
    """``ReadModel`` that caches the scope-wide reads of ``inner`` for ``ttl_s`` seconds."""

    def __init__(self, inner: ReadModel, ttl_s: float) -> None:
        self._inner = inner
        self._ttl = ttl_s
        self._entries: dict[Hashable, Entry] = {}

    async def _cached(self, key: Hashable, produce: Callable[[], Awaitable[Any]]) -> Any:
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is None or entry.expires <= now:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries = {k: e for k, e in self._entries.items() if e.expires > now}
            entry = Entry(now + self._ttl, asyncio.ensure_future(produce()))
            self._entries[key] = entry
        elif entry.expires - now < self._ttl * REFRESH_AHEAD and entry.refresh is None:
            self._refresh(key, entry, produce, now)
        try:
            return await asyncio.shield(entry.value)
        except Exception:
            if self._entries.get(key) is entry:
                del self._entries[key]  # never cache a failure
            raise

    def _refresh(
        self, key: Hashable, entry: Entry, produce: Callable[[], Awaitable[Any]], now: float
    ) -> None:
        """Run the query again and put its result in place of ``entry`` once it has come;
        a failure leaves ``entry`` to expire (the next read then queries and sees the error)."""
        fresh = entry.refresh = asyncio.ensure_future(produce())

        def swap(done: asyncio.Future[Any]) -> None:
            if done.cancelled() or done.exception() is not None:
                return
            if self._entries.get(key) is entry:
                self._entries[key] = Entry(now + self._ttl, done)

        fresh.add_done_callback(swap)

    async def cases(self, scope: Scope, filters: CaseFilters) -> list[Row]:
        """Cached listing."""
        result: list[Row] = await self._cached(
            ("cases", scope, filters), lambda: self._inner.cases(scope, filters)
        )
        return result

    async def breaches(self, scope: Scope) -> list[Row]:
        """Cached board of breaches."""
        result: list[Row] = await self._cached(
            ("breaches", scope), lambda: self._inner.breaches(scope)
        )
        return result

    async def disputes(self, scope: Scope) -> list[Row]:
        """Cached disputes awaiting a ruling."""
        result: list[Row] = await self._cached(
            ("disputes", scope), lambda: self._inner.disputes(scope)
        )
        return result

    async def escalations(self, scope: Scope) -> list[Row]:
        """Escalations, not cached: the live board shares its own snapshot."""
        return await self._inner.escalations(scope)

    async def joint_actions(self, scope: Scope) -> list[Row]:
        """Joint actions, not cached: the live board shares its own snapshot."""
        return await self._inner.joint_actions(scope)

    async def extensions(self, scope: Scope) -> list[Row]:
        """Cached pending extension requests."""
        result: list[Row] = await self._cached(
            ("extensions", scope), lambda: self._inner.extensions(scope)
        )
        return result

    async def metrics(self, query: MetricsQuery) -> list[Row]:
        """Cached metrics."""
        result: list[Row] = await self._cached(
            ("metrics", query), lambda: self._inner.metrics(query)
        )
        return result

    async def rankings(self, query: MetricsQuery) -> list[Row]:
        """Cached rankings."""
        result: list[Row] = await self._cached(
            ("rankings", query), lambda: self._inner.rankings(query)
        )
        return result

    async def case(self, case_id: str) -> Row | None:
        """Not cached."""
        return await self._inner.case(case_id)

    async def case_scope(self, case_id: str) -> Row | None:
        """Not cached."""
        return await self._inner.case_scope(case_id)

    async def timeline(self, case_id: str) -> list[Row]:
        """Not cached."""
        return await self._inner.timeline(case_id)

    async def case_timeline(self, case_id: str) -> tuple[Row, list[Row]] | None:
        """Not cached."""
        return await self._inner.case_timeline(case_id)

    async def case_as_of(self, case_id: str, at: datetime) -> CaseState | None:
        """Not cached."""
        return await self._inner.case_as_of(case_id, at)

    async def whistles(self, case_ids: list[str]) -> dict[str, Row]:
        """Not cached."""
        return await self._inner.whistles(case_ids)

    async def similar_candidates(self, scope: Scope, community: str, at: datetime) -> list[Row]:
        """Not cached (a draft asks at its own instant)."""
        return await self._inner.similar_candidates(scope, community, at)

    async def follow_ups(self, case_ids: list[str]) -> dict[str, Row]:
        """Not cached."""
        return await self._inner.follow_ups(case_ids)

    async def clocks_beyond(self, window: tuple[datetime, datetime] | None) -> int:
        """Not cached (``CalendarWatch`` keeps its own look)."""
        return await self._inner.clocks_beyond(window)

    async def deadlines(self, case_ids: list[str]) -> dict[str, list[Row]]:
        """Not cached (the countdowns move)."""
        return await self._inner.deadlines(case_ids)

    async def lag(self) -> Lag:
        """Not cached."""
        return await self._inner.lag()

    async def ping(self) -> None:
        """Not cached."""
        await self._inner.ping()

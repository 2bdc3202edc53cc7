"""The scope-wide read cache: shared within its TTL, single-flight, never caching failures."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from tests.unit.api.fakes import FakeRead, fake_services
from whistle.api import readcache
from whistle.api.readcache import CachedReadModel
from whistle.read.scope import CaseFilters, Scope


class CountingRead(FakeRead):
    """FakeRead that counts listing queries and can fail or stall them."""

    def __init__(self, base: FakeRead) -> None:
        super().__init__(rows=base.rows, events=base.events)
        self.calls = 0
        self.fail = False

    async def cases(self, scope: Scope, filters: CaseFilters):  # type: ignore[no-untyped-def]
        self.calls += 1
        await asyncio.sleep(0.01)
        if self.fail:
            raise ConnectionError("db down")
        return await super().cases(scope, filters)


def counting() -> CountingRead:
    read = fake_services().read
    assert isinstance(read, FakeRead)
    return CountingRead(read)


async def test_concurrent_identical_lists_cost_one_query() -> None:
    inner = counting()
    cache = CachedReadModel(inner, ttl_s=60)
    results = await asyncio.gather(*(cache.cases(Scope(), CaseFilters()) for _ in range(20)))
    assert inner.calls == 1
    assert all(r == results[0] for r in results)
    await cache.cases(Scope(area="tongan"), CaseFilters())
    assert inner.calls == 2  # another scope is another entry


async def test_entries_expire() -> None:
    inner = counting()
    cache = CachedReadModel(inner, ttl_s=0.01)
    await cache.cases(Scope(), CaseFilters())
    await asyncio.sleep(0.02)
    await cache.cases(Scope(), CaseFilters())
    assert inner.calls == 2


async def test_failures_are_not_cached() -> None:
    inner = counting()
    cache = CachedReadModel(inner, ttl_s=60)
    inner.fail = True
    with pytest.raises(ConnectionError):
        await cache.cases(Scope(), CaseFilters())
    inner.fail = False
    assert await cache.cases(Scope(), CaseFilters())
    assert inner.calls == 2


async def test_per_case_reads_are_never_cached() -> None:
    inner = counting()
    cache = CachedReadModel(inner, ttl_s=60)
    inner.rows["WH-IN"]["status"] = "routed"
    assert (await cache.case("WH-IN"))["status"] == "routed"  # type: ignore[index]
    inner.rows["WH-IN"]["status"] = "resolved"
    assert (await cache.case("WH-IN"))["status"] == "resolved"  # type: ignore[index]


async def served_once_refreshed(cache: CachedReadModel, old: object) -> object:
    """What the cache serves once the background refresh of ``old`` has come in."""
    for _ in range(5000):
        served = await cache.cases(Scope(), CaseFilters())
        if served is not old:
            return served
        await asyncio.sleep(0.001)
    raise AssertionError("the refresh never came in")


async def test_an_entry_near_its_end_is_refreshed_while_still_served(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr(readcache, "time", SimpleNamespace(monotonic=lambda: now[0]))
    inner = counting()
    cache = CachedReadModel(inner, ttl_s=10)
    first = await cache.cases(Scope(), CaseFilters())
    now[0] = 107.0  # not yet in the last fifth
    assert await cache.cases(Scope(), CaseFilters()) is first
    assert inner.calls == 1
    now[0] = 109.0  # in the last fifth: served at once, refreshed behind it
    assert await cache.cases(Scope(), CaseFilters()) is first
    fresh = await served_once_refreshed(cache, first)
    assert inner.calls == 2
    now[0] = 118.9  # the refresh started at 109: still fresh
    assert await cache.cases(Scope(), CaseFilters()) is fresh
    now[0] = 119.0  # 10 s after the refresh's query started: never served older
    assert await cache.cases(Scope(), CaseFilters()) is not fresh


async def test_a_failed_refresh_leaves_the_entry_to_expire(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr(readcache, "time", SimpleNamespace(monotonic=lambda: now[0]))
    inner = counting()
    cache = CachedReadModel(inner, ttl_s=10)
    first = await cache.cases(Scope(), CaseFilters())
    inner.fail = True
    now[0] = 109.0
    assert await cache.cases(Scope(), CaseFilters()) is first
    for _ in range(5000):  # until the refresh has failed
        if inner.calls == 2:
            break
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.02)
    assert await cache.cases(Scope(), CaseFilters()) is first
    now[0] = 110.0
    with pytest.raises(ConnectionError):
        await cache.cases(Scope(), CaseFilters())

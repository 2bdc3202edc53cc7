"""The scope-wide read cache: shared within its TTL, single-flight, never caching failures."""

from __future__ import annotations

import asyncio

import pytest

from tests.unit.api.fakes import FakeRead, fake_services
from whistle.api.readcache import CachedReadModel
from whistle.api.readmodel import CaseFilters, Scope


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

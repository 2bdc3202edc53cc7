"""The projector's watch over a batch being written: a write stuck on a lost connection (as
asyncpg's COPY is when the connection goes while the transport is paused) is cancelled and
reported as a lost connection, so the projector reconnects instead of hanging."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from projections import projector


class Connection:
    def __init__(self) -> None:
        self.closed = False

    def is_closed(self) -> bool:
        return self.closed


@pytest.fixture(autouse=True)
def quick_watch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(projector, "WATCH_S", 0.01)


async def test_a_write_stuck_on_a_lost_connection_is_cancelled_and_reported() -> None:
    conn = Connection()
    stuck = asyncio.Event()  # never set: the COPY waiting for a transport that is gone
    task = asyncio.create_task(stuck.wait())

    async def lose() -> None:
        await asyncio.sleep(0.05)
        conn.closed = True

    losing = asyncio.create_task(lose())
    with pytest.raises(asyncpg.ConnectionDoesNotExistError):
        await asyncio.wait_for(projector.written(task, conn), 5)  # type: ignore[arg-type]
    assert task.cancelled()
    await losing


async def test_a_write_that_finishes_or_fails_is_waited_for_as_it_is() -> None:
    conn = Connection()

    async def slow() -> None:
        await asyncio.sleep(0.05)

    await projector.written(asyncio.create_task(slow()), conn)  # type: ignore[arg-type]

    async def fails() -> None:
        raise asyncpg.InterfaceError("refused")

    with pytest.raises(asyncpg.InterfaceError):
        await projector.written(asyncio.create_task(fails()), conn)  # type: ignore[arg-type]

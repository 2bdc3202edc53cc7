"""Batches from a Faust stream that end when the stream goes quiet, not when a window ends.

Faust's ``Stream.take_events(max_, within)`` yields a batch only when ``max_`` events are
buffered or ``within`` seconds have passed since it last yielded. The decider rarely fills a
batch of 2,000, so every batch waited the whole window: a lone whistle sat for up to 100 ms
before being decided, and in a mass expiry the decider idled for a window after every round of
firings (~15 % of its time). :func:`take_ready` keeps Faust's mechanics (a passive processor
fills the buffer; events are acknowledged only after the consumer of the batch has finished
with it, so offsets are committed only past decided records) and adds one rule: a batch is
also ready once nothing new has arrived for ``quiet`` seconds, as long as the caller's
``eager`` says so (the decider: while a batch is small, or while deadline firings are in
flight, whose rounds it wants decided as soon as they have arrived). At low traffic a batch
goes at once; under load it still gathers for the window.
"""

from __future__ import annotations

import asyncio
from asyncio import CancelledError
from collections.abc import AsyncIterator, Callable
from typing import Any

from mode.utils.aiter import aiter
from mode.utils.futures import notify

from streams.faust_adapter import enable_passive


async def take_ready(
    stream: Any, max_: int, within: float, quiet: float, eager: Callable[[int], bool]
) -> AsyncIterator[list[Any]]:
    """Yield lists of a stream's events: at most ``max_``, gathered for at most ``within``
    seconds from the first one, and, while ``eager(number gathered)`` holds, ended early once
    ``quiet`` seconds pass with no new one.

    ``eager`` keeps large batches large: under load the event loop and the consumer thread
    share the GIL, records can pause for a few milliseconds between fetches, and cutting a
    batch there costs its per-batch work again (measured: +15 % CPU per whistle when every
    batch could end at 5 ms). The events of a batch are acknowledged after the loop body that
    received it is done.
    """
    loop = asyncio.get_running_loop()
    events: list[Any] = []
    arrived = asyncio.Event()
    full = asyncio.Event()
    consumed = asyncio.Event()
    consuming: asyncio.Future[None] | None = None

    async def add_to_buffer(value: Any) -> Any:
        nonlocal consuming
        try:
            if consuming is not None:  # a batch is being handled: hold the stream
                try:
                    await consuming
                finally:
                    consuming = None
            event = stream.current_event
            if event is None:
                raise RuntimeError("take_ready found no current event")
            events.append(event)
            arrived.set()
            if len(events) >= max_:
                full.set()
                consumed.clear()
                await stream.wait(consumed)  # never more than max_ in a batch
        except CancelledError:
            raise
        except Exception as exc:
            stream.log.exception("Error adding to take buffer: %r", exc)
            await stream.crash(exc)
        return value

    stream.enable_acks = False  # acknowledged below, once the batch is handled
    stream.add_processor(add_to_buffer)
    enable_passive(stream, aiter(stream.channel))
    while not stream.should_stop:
        if not events:
            await stream.wait_for_stopped(arrived, timeout=within)
        started = loop.time()
        while events and not full.is_set():
            left = within - (loop.time() - started)
            if left <= 0:
                break
            seen = len(events)
            if not eager(seen):
                await stream.wait_for_stopped(full, timeout=left)
                break
            # One wake-up per `quiet` (or when full), not one per record: under load records
            # arrive every fraction of a millisecond.
            await stream.wait_for_stopped(full, timeout=min(quiet, left))
            if len(events) == seen:
                break  # quiet: nothing more is on its way right now
        if not events:
            arrived.clear()
            continue
        consuming = loop.create_future()
        try:
            yield list(events)
        finally:
            handled = list(events)
            events.clear()
            for event in handled:
                await stream.ack(event)
            notify(consuming)
            arrived.clear()
            full.clear()
            consumed.set()

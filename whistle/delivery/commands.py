"""What the deliverers' command lines share (``whistle webhooks …``, ``whistle notifications
…``): a short command over the delivery store, and the long-running worker process that waits
for PostgreSQL, stops on SIGINT/SIGTERM and closes its pool. (Not ``cli.py``: that name makes
a package a ``whistle`` command group.)"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import asyncpg

from whistle.logs import configure_logging
from whistle.settings import Settings, get_settings
from whistle.topics import ensure_topics


class Store(Protocol):
    """A delivery store: anything over an asyncpg pool that the command closes when done."""

    @property
    def pool(self) -> asyncpg.Pool:
        """The store's pool."""


class Worker(Protocol):
    """A deliverer: runs until its stop event is set."""

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set."""


class Redelivering(Store, Protocol):
    """A store whose deliveries can be queued again."""

    async def redeliver(self, delivery_id: int) -> bool:
        """Queue the delivery again now; False when there is none."""


S = TypeVar("S", bound=Store)
R = TypeVar("R", bound=Redelivering)
Opener = Callable[[Settings, int, int], Awaitable[S]]
"""Opens a store, its schema in place, over a pool of (min_size, max_size) connections."""


def store_command(
    opener: Opener[S], group: str, action: Callable[[S, argparse.Namespace], Awaitable[int]]
) -> Callable[[argparse.Namespace], int]:
    """A subcommand that runs ``action`` over a small store; a database error is printed as
    ``whistle GROUP: …`` and exits 1."""

    def run(args: argparse.Namespace) -> int:
        async def main() -> int:
            settings = get_settings()
            configure_logging(settings.log_format, "WARNING")
            store = await opener(settings, 1, 2)
            try:
                return await action(store, args)
            finally:
                await store.pool.close()

        try:
            return asyncio.run(main())
        except (OSError, asyncpg.PostgresError) as exc:
            print(f"whistle {group}: {exc}", file=sys.stderr)
            return 1

    return run


def add_redeliver(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    opener: Opener[R],
    group: str,
    worker_command: str,
) -> None:
    """The ``redeliver DELIVERY_ID`` subcommand of ``whistle GROUP``."""

    async def redeliver(store: R, args: argparse.Namespace) -> int:
        if not await store.redeliver(args.delivery_id):
            print(f"whistle {group} redeliver: no delivery {args.delivery_id}", file=sys.stderr)
            return 1
        print(f"delivery {args.delivery_id} queued; a running `whistle {group} {worker_command}`"
              " sends it")  # fmt: skip
        return 0

    red = sub.add_parser("redeliver", help="send a delivery again now (e.g. a dead letter)")
    red.add_argument("delivery_id", type=int)
    red.set_defaults(func=store_command(opener, group, redeliver))


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (where the loop supports signal handlers)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def open_when_up(opener: Opener[S], settings: Settings, wait_s: float = 120.0) -> S:
    """The worker's store, waiting up to ``wait_s`` seconds for PostgreSQL (a deliverer
    started while the database restarts comes up once it is back)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return await opener(settings, 2, 12)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1.0)


def run_worker(
    settings: Settings, opener: Opener[S], worker: Callable[[S], Worker], fast_loop: bool = False
) -> int:
    """Run a deliverer until SIGINT/SIGTERM: topics ensured, the store opened once PostgreSQL
    answers. ``fast_loop``: on uvloop where installed (faster transports)."""
    configure_logging(settings.log_format, settings.log_level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

    async def main() -> None:
        await ensure_topics(settings)  # not auto-created with one partition by our consumer
        store = await open_when_up(opener, settings)
        try:
            await worker(store).run(stop_on_signals())
        finally:
            await store.pool.close()

    if fast_loop:
        try:
            import uvloop  # most of a delivery's CPU is socket I/O
        except ImportError:
            pass
        else:
            uvloop.run(main())
            return 0
    asyncio.run(main())
    return 0

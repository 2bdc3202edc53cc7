"""`whistle notifications list | attempts | redeliver | run`: the notifier's delivery log and
the notifier process."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

from whistle.logs import configure_logging
from whistle.notify.notifier_store import LogFilter, NotifierStore
from whistle.notify.worker import Notifier, open_store
from whistle.settings import Settings, get_settings
from whistle.topics import ensure_topics

Action = Callable[[NotifierStore, argparse.Namespace], Awaitable[int]]
DEMO_SMTP_PORT = 2525
DEMO_ROBOT_PORT = 9010
STATUSES = ["pending", "delivered", "dead", "cancelled", "digested"]
CHANNELS = ["inapp", "wecom", "dingtalk", "feishu", "email", "sms"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``notifications`` command group."""
    group = subparsers.add_parser("notifications", help="the notifier and its delivery log")
    sub = group.add_subparsers(dest="notifications_command", required=True)
    lst = sub.add_parser("list", help="the delivery log, newest first")
    lst.add_argument("--status", choices=STATUSES)
    lst.add_argument("--channel", choices=CHANNELS)
    lst.add_argument("--user")
    lst.add_argument("--case")
    lst.add_argument("--kind")
    lst.add_argument("--limit", type=int, default=30)
    lst.set_defaults(func=_runner(_list))
    att = sub.add_parser("attempts", help="every attempt of one delivery")
    att.add_argument("delivery_id", type=int)
    att.set_defaults(func=_runner(_attempts))
    red = sub.add_parser("redeliver", help="send a delivery again now (e.g. a dead letter)")
    red.add_argument("delivery_id", type=int)
    red.set_defaults(func=_runner(_redeliver))
    run = sub.add_parser("run", help="run the notifier (consumes case events)")
    run.add_argument("--concurrency", type=int, default=32)
    run.set_defaults(func=_run)
    sink = sub.add_parser("sink", help="demo: a local SMTP server and robot stand-in to a folder")
    sink.add_argument("--dir", type=Path, default=Path("var/mail"))
    sink.add_argument("--smtp-port", type=int, default=DEMO_SMTP_PORT)
    sink.add_argument("--robot-port", type=int, default=DEMO_ROBOT_PORT)
    sink.set_defaults(func=_sink)


def _runner(action: Action) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        async def main() -> int:
            settings = get_settings()
            configure_logging(settings.log_format, "WARNING")
            store = await open_store(settings, min_size=1, max_size=2)
            try:
                return await action(store, args)
            finally:
                await store.pool.close()

        try:
            return asyncio.run(main())
        except (OSError, asyncpg.PostgresError) as exc:
            print(f"whistle notifications: {exc}", file=sys.stderr)
            return 1

    return run


async def _list(store: NotifierStore, args: argparse.Namespace) -> int:
    rows = await store.deliveries(
        LogFilter(args.status, args.channel, args.user, args.case, args.kind, None, args.limit)
    )
    print(f"{'id':>7}  {'status':<9} {'channel':<8} {'kind':<22} {'user':<16} {'case':<26} tries")
    for r in rows:
        print(
            f"{r['delivery_id']:>7}  {r['status']:<9} {r['channel']:<8} {r['kind']:<22}"
            f" {r['user_id']:<16} {r['case_id']:<26} {r['attempts']}"
            + (f"  {r['dead_reason'] or r['last_error']}" if r["status"] == "dead" else "")
        )
    return 0


async def _attempts(store: NotifierStore, args: argparse.Namespace) -> int:
    if await store.delivery(args.delivery_id) is None:
        print(f"no delivery {args.delivery_id}", file=sys.stderr)
        return 1
    for a in await store.attempts(args.delivery_id):
        print(
            f"#{a['attempt']} {a['started_at']:%Y-%m-%d %H:%M:%S} {a['duration_ms']:.0f} ms"
            f" {a['status_code'] or '-'} {a['error'] or ''}{' (manual)' if a['manual'] else ''}"
        )
    return 0


async def _redeliver(store: NotifierStore, args: argparse.Namespace) -> int:
    if not await store.redeliver(args.delivery_id):
        print(f"no delivery {args.delivery_id}", file=sys.stderr)
        return 1
    print(f"delivery {args.delivery_id} queued again")
    return 0


def _run(args: argparse.Namespace) -> int:
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

    async def main() -> None:
        await ensure_topics(settings)
        store = await _opened_store(settings)
        try:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(sig, stop.set)
            await Notifier(settings, store, concurrency=args.concurrency).run(stop)
        finally:
            await store.pool.close()

    asyncio.run(main())
    return 0


async def _opened_store(settings: Settings, wait_s: float = 120.0) -> NotifierStore:
    """The store with its schema in place, waiting up to ``wait_s`` s for PostgreSQL."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return await open_store(settings, min_size=2, max_size=12)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1.0)


def _sink(args: argparse.Namespace) -> int:
    from whistle.notify.demo_sink import serve

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        print(f"mail and robot messages go to {args.dir}/ (mail.log, *.eml, robots.log)")
        await serve(args.dir, args.smtp_port, args.robot_port, stop)

    asyncio.run(main())
    return 0

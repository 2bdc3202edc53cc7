"""`whistle notifications list | attempts | redeliver | run`: the notifier's delivery log and
the notifier process."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from whistle.delivery.commands import add_redeliver, run_worker, stop_on_signals, store_command
from whistle.notify.notifier_store import LogFilter, NotifierStore
from whistle.notify.worker import Notifier, open_store
from whistle.settings import get_settings

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
    add_redeliver(sub, open_store, "notifications", "run")
    run = sub.add_parser("run", help="run the notifier (consumes case events)")
    run.add_argument("--concurrency", type=int, default=32)
    run.set_defaults(func=_run)
    sink = sub.add_parser("sink", help="demo: a local SMTP server and robot stand-in to a folder")
    sink.add_argument("--dir", type=Path, default=Path("var/mail"))
    sink.add_argument("--smtp-port", type=int, default=DEMO_SMTP_PORT)
    sink.add_argument("--robot-port", type=int, default=DEMO_ROBOT_PORT)
    sink.set_defaults(func=_sink)


def _runner(action: Action) -> Callable[[argparse.Namespace], int]:
    return store_command(open_store, "notifications", action)


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


def _run(args: argparse.Namespace) -> int:
    settings = get_settings()
    return run_worker(
        settings, open_store, lambda store: Notifier(settings, store, concurrency=args.concurrency)
    )


def _sink(args: argparse.Namespace) -> int:
    from whistle.notify.demo_sink import serve

    async def main() -> None:
        stop = stop_on_signals()
        print(f"mail and robot messages go to {args.dir}/ (mail.log, *.eml, robots.log)")
        await serve(args.dir, args.smtp_port, args.robot_port, stop)

    asyncio.run(main())
    return 0

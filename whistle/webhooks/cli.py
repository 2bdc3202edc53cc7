"""`whistle webhooks add | list | rotate | enable | disable | log | redeliver | deliver`, and
`receive`, a demo receiver."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
from prometheus_client import start_http_server

from whistle.delivery.commands import add_redeliver, run_worker, store_command
from whistle.domain.codec import EVENT_TYPES
from whistle.settings import Settings, get_settings
from whistle.webhooks.delivery_store import WebhookStore
from whistle.webhooks.receiver import serve
from whistle.webhooks.schema import ensure_schema
from whistle.webhooks.signing import new_secret, secret_bytes
from whistle.webhooks.worker import DeliveryWorker, open_store

Action = Callable[[WebhookStore, argparse.Namespace], Awaitable[int]]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``webhooks`` command group to the ``whistle`` parser."""
    group = subparsers.add_parser("webhooks", help="departments' webhook endpoints and deliveries")
    sub = group.add_subparsers(dest="webhooks_command", required=True)
    add = sub.add_parser("add", help="register an endpoint; prints its secret once")
    add.add_argument("--department", required=True, help="department code, e.g. urban_management")
    add.add_argument("--url", required=True)
    add.add_argument("--description", default="")
    add.add_argument("--events", default=None, help="comma-separated event types (default all)")
    add.set_defaults(func=_runner(_add))
    lst = sub.add_parser("list", help="endpoints (secrets never shown)")
    lst.add_argument("--department")
    lst.set_defaults(func=_runner(_list))
    rot = sub.add_parser("rotate", help="new secret; the old one stays valid for --overlap-hours")
    rot.add_argument("endpoint_id", type=int)
    rot.add_argument("--overlap-hours", type=float, default=24.0)
    rot.set_defaults(func=_runner(_rotate))
    for name, enabled in (("enable", True), ("disable", False)):
        p = sub.add_parser(name, help=f"{name} an endpoint")
        p.add_argument("endpoint_id", type=int)
        p.set_defaults(func=_runner(_toggle(enabled)))
    log = sub.add_parser("log", help="the delivery log, newest first")
    log.add_argument("--status", choices=["pending", "delivered", "dead"])
    log.add_argument("--endpoint", type=int)
    log.add_argument("--limit", type=int, default=30)
    log.set_defaults(func=_runner(_log))
    add_redeliver(sub, _open, "webhooks", "deliver")
    dlv = sub.add_parser("deliver", help="run the delivery worker (consumes case events)")
    dlv.add_argument("--concurrency", type=int, default=64)
    dlv.add_argument(
        "--metrics-port",
        type=int,
        default=int(os.environ.get("WHISTLE_WEBHOOKS_METRICS_PORT", "0")),
        help="serve Prometheus /metrics on this port (0: off; $WHISTLE_WEBHOOKS_METRICS_PORT)",
    )
    dlv.set_defaults(func=_deliver)
    rcv = sub.add_parser(
        "receive", help="a demo receiver: verify each delivery's signature and print the event"
    )
    rcv.add_argument("--host", default="127.0.0.1")
    rcv.add_argument("--port", type=int, default=9000)
    rcv.add_argument(
        "--secret",
        default=os.environ.get("WHISTLE_WEBHOOK_SECRET"),
        help="the endpoint's whsec_ secret (default: $WHISTLE_WEBHOOK_SECRET)",
    )
    rcv.set_defaults(func=_receive)


def _runner(action: Action) -> Callable[[argparse.Namespace], int]:
    return store_command(_open, "webhooks", action)


async def _open(settings: Settings, min_size: int, max_size: int) -> WebhookStore:
    """The store with its schema in place."""
    store = await open_store(settings, min_size=min_size, max_size=max_size)
    try:
        async with store.pool.acquire() as conn:
            await ensure_schema(conn)
        return store
    except BaseException:
        await store.pool.close()
        raise


async def _add(store: WebhookStore, args: argparse.Namespace) -> int:
    url = httpx.URL(args.url)
    if url.scheme not in {"http", "https"} or not url.host:
        print(f"whistle webhooks add: not an http(s) URL: {args.url}", file=sys.stderr)
        return 2
    events = [e.strip() for e in args.events.split(",") if e.strip()] if args.events else None
    unknown = sorted(set(events or ()) - set(EVENT_TYPES))
    if unknown:
        print(f"whistle webhooks add: unknown event types: {', '.join(unknown)}", file=sys.stderr)
        return 2
    secret = new_secret()
    endpoint_id = await store.add_endpoint(
        args.department, args.url, secret, args.description, events
    )
    print(f"endpoint {endpoint_id}  {args.department}  {args.url}")
    print(f"secret   {secret}")
    print("Keep the secret now: it is stored encrypted and never shown again.")
    return 0


async def _list(store: WebhookStore, args: argparse.Namespace) -> int:
    for ep in await store.endpoints(args.department):
        state = "enabled" if ep.enabled else f"disabled ({ep.disabled_reason or 'by hand'})"
        types = ",".join(ep.event_types) if ep.event_types else "*"
        rotating = "  rotating" if len(ep.secrets) > 1 else ""
        print(f"{ep.endpoint_id:>5}  {ep.department:<22} {ep.url}  [{types}]  {state}{rotating}")
    return 0


async def _rotate(store: WebhookStore, args: argparse.Namespace) -> int:
    secret = new_secret()
    if not await store.rotate(args.endpoint_id, secret, timedelta(hours=args.overlap_hours)):
        print(f"whistle webhooks rotate: no endpoint {args.endpoint_id}", file=sys.stderr)
        return 1
    print(f"secret   {secret}")
    print(f"The previous secret stays valid for {args.overlap_hours:g} h; both sign meanwhile.")
    return 0


def _toggle(enabled: bool) -> Action:
    async def toggle(store: WebhookStore, args: argparse.Namespace) -> int:
        if not await store.set_enabled(args.endpoint_id, enabled, "disabled by hand"):
            print(f"whistle webhooks: no endpoint {args.endpoint_id}", file=sys.stderr)
            return 1
        print(f"endpoint {args.endpoint_id} {'enabled' if enabled else 'disabled'}")
        return 0

    return toggle


def _fmt(row: dict[str, Any]) -> str:
    code = row["last_status_code"] if row["last_status_code"] is not None else "-"
    extra = row["dead_reason"] or row["last_error"] or ""
    return (
        f"{row['delivery_id']:>7}  ep {row['endpoint_id']:<4} {row['status']:<9} "
        f"tries {row['attempts']:<2} http {code!s:<4} {row['event_type']:<24} "
        f"case {row['case_id']}  {extra[:60]}"
    )


async def _log(store: WebhookStore, args: argparse.Namespace) -> int:
    for row in await store.deliveries(args.status, args.endpoint, args.limit):
        print(_fmt(row))
    return 0


def _receive(args: argparse.Namespace) -> int:
    if not args.secret:
        print(
            "whistle webhooks receive: give --secret (or WHISTLE_WEBHOOK_SECRET)", file=sys.stderr
        )
        return 2
    try:
        secret_bytes(args.secret)
    except ValueError as exc:
        print(f"whistle webhooks receive: {exc}", file=sys.stderr)
        return 2
    try:
        with contextlib.suppress(KeyboardInterrupt):
            serve(args.host, args.port, args.secret)
    except OSError as exc:
        print(
            f"whistle webhooks receive: cannot listen on {args.host}:{args.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    return 0


def _deliver(args: argparse.Namespace) -> int:
    settings = get_settings()
    if args.metrics_port:
        start_http_server(args.metrics_port, addr=settings.http_host)
    return run_worker(
        settings,
        _open,
        lambda store: DeliveryWorker(settings, store, concurrency=args.concurrency),
        fast_loop=True,
    )

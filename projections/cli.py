"""``whistle db migrate``, ``whistle projector``, ``whistle projections rebuild|check``,
``whistle case at``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from datetime import datetime
from typing import Any

import asyncpg

from projections.migrate import LIVE_SCHEMA, MigrationError, migrate_dsn
from projections.projector import ProjectorConfig, run_projector
from projections.readmodel_store import DEFAULT_PROJECTOR
from projections.rebuild import check, print_progress, rebuild
from whistle.config.version_table import project_versions
from whistle.domain.state import state_document
from whistle.logs import configure_logging
from whistle.read.gateway import PgRead
from whistle.settings import get_settings
from whistle.topics import ensure_topics

Subparsers = Any


def _connection_args(p: argparse.ArgumentParser, kafka: bool = True) -> None:
    settings = get_settings()
    p.add_argument("--dsn", default=None, help=f"PostgreSQL DSN (default: {settings.dsn})")
    if kafka:
        p.add_argument("--bootstrap", default=None, help="Kafka bootstrap servers")
        p.add_argument("--topic", default=None, help="events topic (default: whistle.case-events)")
        p.add_argument("--projector", default=DEFAULT_PROJECTOR, help="checkpoint name")


def _resolve(args: argparse.Namespace) -> tuple[str, str, str]:
    settings = get_settings()
    return (
        args.dsn or settings.dsn,
        getattr(args, "bootstrap", None) or settings.bootstrap,
        getattr(args, "topic", None) or settings.topic("case-events"),
    )


def register(subparsers: Subparsers) -> None:
    """Add the projection commands to the ``whistle`` parser."""
    db = subparsers.add_parser("db", help="the read-model database")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    mig = db_sub.add_parser("migrate", help="apply pending migrations (refuses edited ones)")
    _connection_args(mig, kafka=False)
    mig.set_defaults(func=_migrate)

    proj = subparsers.add_parser("projector", help="run the live projector until SIGTERM")
    _connection_args(proj)
    proj.add_argument("--batch-size", type=int, default=20_000)
    proj.add_argument(
        "--partitions",
        default=None,
        help="only these partitions, e.g. 0,1,2 (a shard); default all",
    )
    proj.set_defaults(func=_projector)

    group = subparsers.add_parser("projections", help="rebuild or check the read models")
    sub = group.add_subparsers(dest="projections_command", required=True)
    reb = sub.add_parser("rebuild", help="replay the log into fresh tables, then swap them in")
    _connection_args(reb)
    reb.add_argument("--workers", type=int, default=1, help="processes replaying partitions")
    reb.set_defaults(func=_rebuild)
    chk = sub.add_parser("check", help="rebuild aside and compare with live; exit 1 on difference")
    _connection_args(chk)
    chk.set_defaults(func=_check)

    case = subparsers.add_parser("case", help="one case from the read models")
    case_sub = case.add_subparsers(dest="case_command", required=True)
    at = case_sub.add_parser("at", help="time travel: the case as of an instant")
    at.add_argument("case_id")
    at.add_argument(
        "--at", required=True, help="ISO 8601 instant with offset, e.g. 2026-11-02T09:00+08:00"
    )
    _connection_args(at, kafka=False)
    at.set_defaults(func=_case_at)


def _setup() -> None:
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)


def _migrate(args: argparse.Namespace) -> int:
    _setup()
    dsn, _, _ = _resolve(args)
    try:
        applied = asyncio.run(migrate_dsn(dsn, LIVE_SCHEMA))
    except MigrationError as error:
        print(f"refused: {error}", file=sys.stderr)
        return 2
    print(f"applied: {applied}" if applied else "up to date")
    return 0


def _projector(args: argparse.Namespace) -> int:
    _setup()
    dsn, bootstrap, topic = _resolve(args)
    config = ProjectorConfig(
        dsn=dsn,
        bootstrap=bootstrap,
        topic=topic,
        projector=args.projector,
        batch_size=args.batch_size,
        partitions=(tuple(int(p) for p in args.partitions.split(",")) if args.partitions else None),
    )
    asyncio.run(_wait_then_project(config))
    return 0


async def _wait_then_project(config: ProjectorConfig) -> None:
    """Run the projector once the broker answers (a start during a broker restart waits).

    The topics are made first if they do not exist yet: subscribing to a missing topic makes
    a broker that auto-creates topics create it with its default partition count (one), not
    with the count every other component expects.
    """
    await ensure_topics(get_settings().model_copy(update={"bootstrap": config.bootstrap}))
    # The configuration versions, followed live into their read model beside the event log.
    settings = get_settings().model_copy(update={"kafka_bootstrap": config.bootstrap})
    versions = asyncio.ensure_future(project_versions(settings, config.dsn))
    try:
        await run_projector(config)
    finally:
        versions.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await versions


def _rebuild(args: argparse.Namespace) -> int:
    _setup()
    dsn, bootstrap, topic = _resolve(args)
    result = asyncio.run(
        rebuild(
            dsn,
            bootstrap,
            topic,
            projector=args.projector,
            progress=print_progress,
            workers=args.workers,
        )
    )
    print(
        f"\nrebuilt {result.cases:,} cases from {result.events:,} events in "
        f"{result.seconds:.1f} s ({result.rate:,.0f} ev/s); swapped in as {result.schema!r}"
    )
    return 0


def _check(args: argparse.Namespace) -> int:
    _setup()
    dsn, bootstrap, topic = _resolve(args)
    diffs, result = asyncio.run(
        check(dsn, bootstrap, topic, projector=args.projector, progress=print_progress)
    )
    print(f"\nreplayed {result.events:,} events up to the live checkpoint")
    if not diffs:
        print("read models identical: rebuilt == live")
        return 0
    for d in diffs:
        print(f"{d.table}: {d.only_live} rows only in live, {d.only_rebuilt} only in rebuilt")
        for sample in d.samples:
            print(f"  {json.dumps(sample, default=str, ensure_ascii=False)}")
    return 1


async def _at(dsn: str, case_id: str, at: datetime) -> dict[str, Any] | None:
    conn = await asyncpg.connect(dsn)
    try:
        state = await PgRead(conn).case_as_of(case_id, at)
    finally:
        await conn.close()
    return None if state is None else state_document(state)


def _case_at(args: argparse.Namespace) -> int:
    dsn, _, _ = _resolve(args)
    at = datetime.fromisoformat(args.at)
    if at.tzinfo is None:
        print("--at needs a UTC offset (e.g. +08:00 or Z)", file=sys.stderr)
        return 2
    state = asyncio.run(_at(dsn, args.case_id, at))
    if state is None:
        print(f"case {args.case_id} did not exist at {at.isoformat()}", file=sys.stderr)
        return 1
    print(json.dumps(state, ensure_ascii=False, indent=2))
    return 0

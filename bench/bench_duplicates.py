"""Duplicate suggestions: quality on the labelled pairs, and the speed of the suggestion at
100,000 cases.

Quality. Every pair of ``tests/stories/duplicate_pairs.py`` (a draft, a case, the label) goes
through what ``POST /v1/whistles/similar`` does with one candidate: ``eligible`` (same
community, open, raised within 14 days), then ``likeness(...).suggested``. Precision =
suggested duplicates ÷ suggested; recall = suggested duplicates ÷ duplicates; also the share
right per kind, and the same figures for simpler methods beside it (plain bigram Dice of title
and description; the same without the synonym folding; and with ``--pg-trgm`` PostgreSQL's
``pg_trgm`` ``similarity()`` of the same texts, created in the benchmark's own database), each
at its best threshold on the same pairs, so the comparison is not in the scorer's favour.

Speed. A fresh database (dropped afterwards) with the projection tables, holding ``--cases``
synthetic cases in all (copied straight into ``projection.cases``: texts drawn from the labelled
problems with numbers and places varied) over the last 365 days in the demo's communities,
about 15 % open, of which ``--open-in-scope`` are open cases of 金海 raised in the last 14 days (the
draft's candidates). Then ``--queries`` drafts (random rewordings from the labelled set) are
asked in sequence: (1) the gateway's candidate query alone, (2) the query plus scoring (what the
route does), (3) the whole HTTP request ``POST /v1/whistles/similar`` through the app in
process (httpx ASGI transport: routing, auth by a real token in PostgreSQL, validation, JSON),
each timed from the call to the answer; p50 and p95. The app's startup objects are frozen
out of the garbage collector's sight as ``whistle api`` does (``freeze_startup_objects``).
``EXPLAIN ANALYZE`` shows the index used.

    .venv/bin/python bench/bench_duplicates.py                # quality and speed
    .venv/bin/python bench/bench_duplicates.py --skip-speed   # quality only (no database)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from projections.migrate import migrate, quote_ident
from tests.conftest import with_database
from tests.stories.duplicate_pairs import KINDS, NOW, PROBLEMS, Pair, Whistle, pairs
from whistle.api.account_store import PgIdempotency, PgUsers, migrate_api
from whistle.api.app import create_app
from whistle.api.deps import Services
from whistle.api.pool import freeze_startup_objects
from whistle.read.gateway import PgRead
from whistle.read.scope import Scope
from whistle.read.similarity import (
    THRESHOLD,
    Text,
    bigrams,
    dice,
    eligible,
    fold,
    likeness,
    rank,
)
from whistle.settings import Settings

JINHAI = "tongan.datong.jinhai"
COMMUNITIES = sorted({p.community for p in PROBLEMS})
OPEN_STATUSES = ("routed", "in_progress", "resolved")
DONE_STATUSES = ("closed", "closed", "closed", "withdrawn", "duplicate")


def text_of(w: Whistle) -> Text:
    """The scorer's view of a draft or a case."""
    return Text.of(w.title, w.description, w.address, w.category, w.location)


def scorer(pair: Pair) -> float:
    """The shipped score (0 when the case is no candidate)."""
    row = pair.case.row("WH-1")
    if not eligible(pair.draft.community, NOW, row):
        return 0.0
    return likeness(text_of(pair.draft), Text.of_row(row)).score


def plain_bigrams(pair: Pair, folded: bool) -> float:
    """Bigram Dice of title + description, stop bigrams kept (``folded``: synonyms folded)."""
    row = pair.case.row("WH-1")
    if not eligible(pair.draft.community, NOW, row):
        return 0.0
    prep = fold if folded else str.lower

    def grams(w: Whistle) -> frozenset[str]:
        return bigrams(prep(f"{w.title} {w.description}"), frozenset())

    return dice(grams(pair.draft), grams(pair.case))


def measure(labelled: list[Pair], scores: list[float], threshold: float) -> tuple[float, float]:
    """Precision and recall when ``score >= threshold`` is suggested."""
    tp = sum(1 for p, s in zip(labelled, scores, strict=True) if p.duplicate and s >= threshold)
    fp = sum(1 for p, s in zip(labelled, scores, strict=True) if not p.duplicate and s >= threshold)
    fn = sum(1 for p, s in zip(labelled, scores, strict=True) if p.duplicate and s < threshold)
    return tp / (tp + fp) if tp + fp else 0.0, tp / (tp + fn) if tp + fn else 0.0


def best(labelled: list[Pair], scores: list[float]) -> tuple[float, float, float]:
    """The threshold (of 0.01 steps) with the best F1, and its precision and recall."""

    def f1(t: float) -> float:
        p, r = measure(labelled, scores, t)
        return 2 * p * r / (p + r) if p + r else 0.0

    threshold = max((t / 100 for t in range(1, 100)), key=f1)
    return (threshold, *measure(labelled, scores, threshold))


def quality(pg_trgm: list[float] | None) -> None:
    """Print the labelled set's figures."""
    labelled = pairs()
    kinds = Counter(p.kind for p in labelled)
    print(f"labelled pairs: {len(labelled)} ({sum(p.duplicate for p in labelled)} duplicates)")
    print("  " + ", ".join(f"{k} {kinds[k]}" for k in KINDS))
    shipped = [scorer(p) for p in labelled]
    precision, recall = measure(labelled, shipped, THRESHOLD)
    print(f"shipped scorer at {THRESHOLD}: precision {precision:.3f}, recall {recall:.3f}")
    for kind in KINDS:
        chosen = [(p, s) for p, s in zip(labelled, shipped, strict=True) if p.kind == kind]
        right = sum(1 for p, s in chosen if (s >= THRESHOLD) == p.duplicate)
        print(f"  {kind:26s} {right}/{len(chosen)} right")
    for t in (0.30, 0.35, 0.45, 0.50):
        p, r = measure(labelled, shipped, t)
        print(f"  at {t:.2f}: precision {p:.3f}, recall {r:.3f}")
    methods: dict[str, list[float]] = {
        "bigram Dice of title+description, no folding": [
            plain_bigrams(p, folded=False) for p in labelled
        ],
        "the same with synonyms folded": [plain_bigrams(p, folded=True) for p in labelled],
    }
    if pg_trgm is not None:
        methods["pg_trgm similarity() of title+description"] = pg_trgm
    for name, scores in methods.items():
        t, p, r = best(labelled, scores)
        print(f"baseline {name}: best threshold {t:.2f}: precision {p:.3f}, recall {r:.3f}")


async def pg_trgm_scores(conn: asyncpg.Connection) -> list[float]:
    """pg_trgm's similarity of each pair's title + description (0 when no candidate)."""
    await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    labelled = pairs()
    texts = [
        (f"{p.draft.title} {p.draft.description}", f"{p.case.title} {p.case.description}")
        for p in labelled
    ]
    rows = await conn.fetch(
        "SELECT similarity(a, b) AS s FROM unnest($1::text[], $2::text[]) WITH ORDINALITY"
        " AS t(a, b, n) ORDER BY n",
        [a for a, _ in texts],
        [b for _, b in texts],
    )
    return [
        float(r["s"]) if eligible(p.draft.community, NOW, p.case.row("x")) else 0.0
        for p, r in zip(labelled, rows, strict=True)
    ]


def synthetic_cases(rng: random.Random, n: int, open_in_scope: int, now: datetime) -> list[tuple]:
    """``n`` cases: over a year in every community, but ``open_in_scope`` of them open ones of
    金海 within 14 days; texts from the labelled problems, numbers and sides varied."""
    versions = [
        (p.category, v)
        for p in PROBLEMS
        for v in (p.original, *p.rewordings, p.nearby, p.elsewhere)
    ]
    sides = ("东侧", "西侧", "南门", "北门", "中段", "路口", "旁", "对面")
    out = []
    for i in range(n):
        category, (title, description, address, location) = rng.choice(versions)
        if i < n - open_in_scope:
            community = rng.choice(COMMUNITIES)
            raised = now - timedelta(days=rng.uniform(0, 365))
            status = rng.choice(OPEN_STATUSES) if rng.random() < 0.15 else rng.choice(DONE_STATUSES)
        else:
            community, status = JINHAI, rng.choice(OPEN_STATUSES)
            raised = now - timedelta(days=rng.uniform(0, 13.9))
        place = f"{address or title[:4]}{rng.randint(1, 200)}号{rng.choice(sides)}"
        lat, lon = location or (24.73 + rng.uniform(-0.02, 0.02), 118.16 + rng.uniform(-0.02, 0.02))
        district, street = community.split(".")[0], ".".join(community.split(".")[:2])
        out.append(
            (
                f"WH-B-{i:07d}", status, title, description, place, category, lat, lon,
                community, community, district, street, raised, "transport",
                ["transport", "urban_management"],
            )
        )  # fmt: skip
    return out


COPY_COLUMNS = [
    "case_id", "status", "title", "description", "address", "category", "location_lat",
    "location_lon", "area", "community", "district", "street", "raised_at", "lead_department",
    "departments",
]  # fmt: skip


def percentiles(samples: list[float]) -> str:
    """p50 / p95 in ms."""
    ordered = sorted(samples)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return f"p50 {statistics.median(ordered) * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms"


async def timed(runs: int, call: Callable[[int], Any]) -> tuple[list[float], float]:
    """Seconds of each of ``runs`` sequential awaited calls, and the mean CPU seconds of this
    process per call (the Python side alone, whatever the other processes of the box do)."""
    out = []
    cpu = time.process_time()
    for i in range(runs):
        start = time.perf_counter()
        await call(i)
        out.append(time.perf_counter() - start)
    return out, (time.process_time() - cpu) / runs


async def speed(args: argparse.Namespace, dsn: str) -> None:
    """Fill the database and time the three paths."""
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    rng = random.Random(17)
    now = datetime.now(UTC)
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=4)
    assert pool is not None
    async with pool.acquire() as conn:
        await migrate(conn)
        await migrate_api(conn)
        start = time.perf_counter()
        records = synthetic_cases(rng, args.cases, args.open_in_scope, now)
        await conn.copy_records_to_table(
            "cases", schema_name="projection", records=records, columns=COPY_COLUMNS
        )
        await conn.execute("VACUUM ANALYZE projection.cases")  # as autovacuum would have
        print(f"loaded {len(records):,} cases in {time.perf_counter() - start:.1f} s")
        del records  # the benchmark's own heap, not the API's
        candidates = await conn.fetchval(
            "SELECT count(*) FROM projection.cases WHERE community = $1 AND raised_at >= $2"
            " AND status NOT IN ('closed', 'withdrawn', 'duplicate')",
            JINHAI,
            now - timedelta(days=14),
        )
        print(f"open cases of 金海 in the last 14 days (the candidates): {candidates:,}")
    read = PgRead(pool)
    scope = Scope(area=JINHAI)
    drafts = [p.draft for p in pairs() if p.kind == "rewording"]
    texts = [text_of(d) for d in drafts]
    async with pool.acquire() as conn:
        plan = await conn.fetch(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT case_id FROM projection.cases c"
            " WHERE c.community = $1"
            " AND c.raised_at >= $2 AND c.raised_at <= $3"
            " AND c.status <> ALL($4) ORDER BY c.raised_at DESC NULLS LAST, c.case_id LIMIT 2000",
            JINHAI,
            now - timedelta(days=14),
            now,
            ["closed", "withdrawn", "duplicate"],
        )
        print("plan: " + " / ".join(r[0].strip() for r in plan))

    async def query(i: int) -> None:
        await read.similar_candidates(scope, JINHAI, datetime.now(UTC))

    async def scored(i: int) -> None:
        rows = await read.similar_candidates(scope, JINHAI, datetime.now(UTC))
        rank(texts[i % len(texts)], rows, 5)

    users = PgUsers(pool, 0.0)
    token = await users.add(f"sec-{uuid.uuid4().hex[:6]}", "secretary", area=JINHAI)

    async def no_probe() -> None:
        return None

    services = Services(
        bus=None,  # type: ignore[arg-type]  # no command is sent
        read=read,
        users=users,
        idempotency=PgIdempotency(pool),
        kafka_probe=no_probe,
    )
    app = create_app(Settings(database_url=dsn, state_dir=Path(tempfile.mkdtemp())), services)
    freeze_startup_objects()  # as ``whistle api`` does once started
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        headers = {"Authorization": f"Bearer {token}"}
        suggested: list[int] = []

        async def http(i: int) -> None:
            d = drafts[i % len(drafts)]
            body = {
                "category": d.category, "title": d.title, "description": d.description,
                "address": d.address,
            }  # fmt: skip
            response = await client.post("/v1/whistles/similar", json=body, headers=headers)
            assert response.status_code == 200, response.text
            suggested.append(len(response.json()["items"]))

        for name, call in (("query", query), ("query + scoring", scored), ("HTTP", http)):
            await timed(max(5, args.queries // 10), call)  # warm-up
            samples, cpu = await timed(args.queries, call)
            print(
                f"{name:16s} {percentiles(samples)} over {args.queries} drafts;"
                f" CPU here {cpu * 1000:.2f} ms per draft"
            )
        print(f"suggestions per HTTP answer: mean {statistics.mean(suggested):.1f} (limit 5)")
    await pool.close()


async def main(args: argparse.Namespace) -> None:
    """Create the database, run, drop it."""
    needs_db = not args.skip_speed or args.pg_trgm
    base = args.database_url or Settings().database_url or ""
    name = f"bench_duplicates_{os.getpid()}"
    dsn = with_database(base, name) if needs_db else ""
    if needs_db:
        admin = await asyncpg.connect(base)
        await admin.execute(f"CREATE DATABASE {quote_ident(name)}")
        await admin.close()
    try:
        trgm = None
        if args.pg_trgm:
            conn = await asyncpg.connect(dsn)
            trgm = await pg_trgm_scores(conn)
            await conn.close()
        quality(trgm)
        if not args.skip_speed:
            await speed(args, dsn)
    finally:
        if needs_db:
            admin = await asyncpg.connect(base)
            await admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")
            await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--open-in-scope", type=int, default=1_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--pg-trgm", action="store_true", help="also score with pg_trgm")
    parser.add_argument("--database-url", default=None)
    asyncio.run(main(parser.parse_args()))

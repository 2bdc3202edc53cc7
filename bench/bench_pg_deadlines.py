"""Baseline: the naive PostgreSQL-polling deadline scanner a team would otherwise write.

A table ``deadlines(case_id, key, due_at, fired_at)`` with a partial index on ``due_at`` where
``fired_at IS NULL``; a scanner that, every ``--interval`` seconds, claims up to 1,000 due rows
with ``FOR UPDATE SKIP LOCKED``, marks them fired, produces one record per fired deadline to a
Kafka topic (aiokafka, idempotent, acks=all) and commits only once every record is acknowledged
(so a crash re-fires instead of losing: at least once, as the real system's order is). A full
batch is followed by the next query at once; otherwise the scanner sleeps for the interval.

Measures, against the local PostgreSQL and broker, the scenarios of ``bench_deadlines.py``:
1. firing lateness with ``--pending`` deadlines pending far in the future: ``--late``
   deadlines due one after another over 30 s; lateness = when the record is seen by a consumer
   of the topic − due time;
2. mass expiry: ``--drain`` deadlines all due in the same second; time until the last record is
   seen on the topic;
plus the database's size and the scanner query's time per tick while idle.

    .venv/bin/python bench/bench_pg_deadlines.py --pending 1000000 --drain 100000 --late 1000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from whistle.settings import get_settings

KEYS = ("ack:a", "ack:b", "ack:c", "resolve:a", "resolve:b", "resolve:c")  # 6 per case
SCHEMA = """
CREATE TABLE deadlines (
    case_id text NOT NULL,
    key text NOT NULL,
    due_at timestamptz NOT NULL,
    fired_at timestamptz,
    PRIMARY KEY (case_id, key)
);
CREATE INDEX deadlines_pending ON deadlines (due_at) WHERE fired_at IS NULL;
"""
SCAN = """
WITH due AS (
    SELECT case_id, key FROM deadlines
    WHERE fired_at IS NULL AND due_at <= now()
    ORDER BY due_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
UPDATE deadlines d SET fired_at = now()
FROM due WHERE d.case_id = due.case_id AND d.key = due.key
RETURNING d.case_id, d.key, d.due_at
"""
BATCH = 1000


def ts(epoch: float) -> datetime:
    """An aware datetime for COPY."""
    return datetime.fromtimestamp(epoch, UTC)


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def copy_rows(conn: asyncpg.Connection, rows: list[tuple[str, str, datetime]]) -> float:
    """COPY pending rows in; seconds taken."""
    start = time.perf_counter()
    await conn.copy_records_to_table(
        "deadlines", records=rows, columns=["case_id", "key", "due_at"]
    )
    return time.perf_counter() - start


class Scanner:
    """The polling loop: claim due rows, produce one record each, wait for the acks, commit."""

    def __init__(self, pool: asyncpg.Pool, producer: AIOKafkaProducer, topic: str) -> None:
        self.pool, self.producer, self.topic = pool, producer, topic
        self.fired = 0
        self.idle_query_ms: list[float] = []

    async def tick(self) -> int:
        """One claim → produce → commit; rows fired."""
        async with self.pool.acquire() as conn, conn.transaction():
            start = time.perf_counter()
            rows = await conn.fetch(SCAN, BATCH)
            if not rows:
                self.idle_query_ms.append((time.perf_counter() - start) * 1000)
                return 0
            futures = [
                await self.producer.send(
                    self.topic,
                    json.dumps(
                        {"case_id": r["case_id"], "key": r["key"], "due": r["due_at"].timestamp()}
                    ).encode(),
                    key=r["case_id"].encode(),
                )
                for r in rows
            ]
            await asyncio.gather(*futures)
        self.fired += len(rows)
        return len(rows)

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; a full batch is followed at once by the next."""
        while not stop.is_set():
            if await self.tick() < BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)


class TopicWatch:
    """Follows the output topic: when each fired deadline was seen, by group."""

    def __init__(self) -> None:
        self.seen: dict[str, list[tuple[float, float]]] = {}  # group → (due, seen)

    async def follow(self, bootstrap: str, topic: str, stop: asyncio.Event) -> None:
        """Record arrivals until ``stop`` is set."""
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=100, max_records=20000)
                now = time.time()
                for record in (r for rs in batch.values() for r in rs):
                    value = json.loads(record.value)
                    group = value["case_id"].split("-")[0]
                    self.seen.setdefault(group, []).append((value["due"], now))
        finally:
            await consumer.stop()


async def scenario(
    args: argparse.Namespace,
    dsn: str,
    bootstrap: str,
    topic: str,
    interval: float,
    conn: asyncpg.Connection,
) -> dict[str, float]:
    """Lateness of ``--late`` deadlines over 30 s, then a drain of ``--drain`` in one second."""
    run = uuid.uuid4().hex[:6]
    base_t = time.time() + 15
    late_rows = [
        (f"late{run}-{i:06d}", "ack:a", ts(base_t + 30 * i / max(1, args.late)))
        for i in range(args.late)
    ]
    drain_at = float(int(base_t + 45))
    drain_rows = [
        (f"drain{run}-{i // 3:06d}", KEYS[i % 3], ts(drain_at)) for i in range(args.drain)
    ]
    await copy_rows(conn, late_rows + drain_rows)
    await conn.execute("ANALYZE deadlines")
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5
    )
    await producer.start()
    watch, stop = TopicWatch(), asyncio.Event()
    scanner = Scanner(pool, producer, topic)
    tasks = [
        asyncio.create_task(watch.follow(bootstrap, topic, stop)),
        asyncio.create_task(scanner.run(interval, stop)),
    ]
    try:
        want = args.drain
        while len(watch.seen.get(f"drain{run}", [])) < want and time.time() < drain_at + 600:
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await producer.stop()
        await pool.close()
    late = [seen - due for due, seen in watch.seen.get(f"late{run}", [])]
    drained = [seen for _, seen in watch.seen.get(f"drain{run}", [])]
    return {
        "late_n": len(late),
        "late_p50": pct(late, 0.5),
        "late_p99": pct(late, 0.99),
        "late_max": max(late) if late else float("nan"),
        "drain_n": len(drained),
        "drain_s": max(drained) - drain_at if drained else float("nan"),
        "idle_query_p50_ms": pct(scanner.idle_query_ms, 0.5),
        "idle_query_p99_ms": pct(scanner.idle_query_ms, 0.99),
        "fired": scanner.fired,
    }


async def main() -> None:
    """Create a database and a topic, run each interval's scenario, print, clean up."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, default=1_000_000, help="far-future deadlines")
    parser.add_argument("--drain", type=int, default=100_000, help="deadlines due in one second")
    parser.add_argument("--late", type=int, default=1000, help="deadlines due over 30 s")
    parser.add_argument("--intervals", default="0.1,1.0", help="poll intervals (s), one run each")
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--keep", action="store_true", help="keep the database and topic")
    args = parser.parse_args()
    settings = get_settings()
    name = f"bench_pgdl_{uuid.uuid4().hex[:8]}"
    topic = f"bench-pgdl-{name[-8:]}"
    dsn = settings.dsn.rsplit("/", 1)[0] + "/" + name
    admin = await asyncpg.connect(settings.dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    kafka = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap)
    await kafka.start()
    await kafka.create_topics([NewTopic(topic, args.partitions, 1)])
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(SCHEMA)
        now = time.time()
        far = [
            (f"far-{i // len(KEYS):07d}", KEYS[i % len(KEYS)], ts(now + 86400 + i % 86400))
            for i in range(args.pending)
        ]
        seconds = await copy_rows(conn, far)
        del far
        await conn.execute("VACUUM ANALYZE deadlines")
        size = await conn.fetchrow(
            "SELECT pg_database_size(current_database()) db,"
            " pg_relation_size('deadlines') heap,"
            " pg_relation_size('deadlines_pkey') pkey,"
            " pg_relation_size('deadlines_pending') pending"
        )
        mib = {k: v / 2**20 for k, v in size.items()}
        print(
            f"{args.pending:,} pending deadlines COPYed in {seconds:.1f} s; database "
            f"{mib['db']:.0f} MiB (table {mib['heap']:.0f}, primary key {mib['pkey']:.0f}, "
            f"partial due_at index {mib['pending']:.0f} MiB)"
        )
        for interval in (float(x) for x in args.intervals.split(",")):
            r = await scenario(args, dsn, settings.bootstrap, topic, interval, conn)
            print(
                f"poll every {interval:g} s, {args.pending:,} pending: lateness of "
                f"{r['late_n']:.0f}/{args.late} deadlines due over 30 s p50 {r['late_p50']:.3f} s,"
                f" p99 {r['late_p99']:.3f} s, max {r['late_max']:.3f} s; mass expiry "
                f"{r['drain_n']:.0f}/{args.drain} due in one second, last on the topic "
                f"{r['drain_s']:.1f} s after it; idle scan query p50 "
                f"{r['idle_query_p50_ms']:.2f} ms, p99 {r['idle_query_p99_ms']:.2f} ms"
            )
        size_after = await conn.fetchval("SELECT pg_database_size(current_database())")
        print(f"database after the runs (fired rows kept): {size_after / 2**20:.0f} MiB")
    finally:
        await conn.close()
        if not args.keep:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await kafka.delete_topics([topic])
        await admin.close()
        await kafka.close()


if __name__ == "__main__":
    asyncio.run(main())

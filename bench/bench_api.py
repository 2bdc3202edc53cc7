"""API reads under load: p50/p99 of GETs at a fixed rate, from each request's intended send time.

Method (open loop, so a stall is never hidden): request i is *intended* at t0 + i/rate and sent
then, whatever happened to the others; latency = response received − intended time, so a
slow server or a late load generator both show up. The API runs as in production, as a child
process (`whistle api`: uvicorn with uvloop and httptools, one worker) on a fresh database
holding N synthetic case histories (``tests.stories.random_stories``, played through the
domain and applied by the projector's own code) and the local Kafka broker for its command
bus. The mix of reads, by weight:

    40 %  GET /v1/cases/{id}            (a secretary or supervisor, in scope)
    20 %  GET /v1/cases?limit=20        (a supervisor's district)
    15 %  GET /v1/inbox                 (a department liaison)
    15 %  GET /v1/cases/{id}/timeline
    10 %  GET /v1/breaches              (a supervisor's district)

A warm-up (default 3 s at the same rate) is excluded. Any non-200 counts as an error.

    .venv/bin/python bench/bench_api.py --rate 500 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from projections.apply import ApplyStats, apply_event
from projections.migrate import migrate, quote_ident
from projections.model import Model
from projections.readmodel_store import write_cases, write_timeline
from tests.conftest import with_database
from tests.service_fixtures import isolated_env, settings_of, supervised
from tests.stories import COMMUNITIES, random_stories
from whistle.api.account_store import PgUsers, migrate_api
from whistle.read.gateway import CASE_SQL
from whistle.settings import get_settings
from whistle.topics import ensure_topics

T0 = datetime(2026, 10, 1, tzinfo=UTC)


@dataclass
class Results:
    """Latencies (seconds) per endpoint, and the failures."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    server: list[float] = field(default_factory=list)
    send_lag: list[float] = field(default_factory=list)
    generator_cpu_s: float = 0.0

    def add(self, name: str, seconds: float, ok: bool, server: float | None = None) -> None:
        self.latencies.setdefault(name, []).append(seconds)
        if server is not None:
            self.server.append(server)
        if not ok:
            self.errors[name] = self.errors.get(name, 0) + 1


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def load_cases(dsn: str, count: int, seed: int) -> list[str]:
    """Write ``count`` synthetic case histories into the read models; return the case ids."""
    rng = random.Random(seed)
    model, stats = Model(), ApplyStats()
    ids = []
    for story in random_stories(rng, count, T0, timedelta(minutes=3), "WH-BENCH-{:06d}".format):
        ids.append(story.case_id)
        for event, text in story.wire_pairs():
            apply_event(model, event, text, None, None, stats)
    conn = await asyncpg.connect(dsn, server_settings={"search_path": "projection, public"})
    try:
        await migrate(conn)
        await migrate_api(conn)
        async with conn.transaction():
            await write_cases(conn, model, model.dirty, replace=False)
            await write_timeline(conn, model)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return ids


async def make_tokens(dsn: str) -> dict[str, str]:
    """A secretary of 金海, a supervisor of 同安, a liaison of urban management."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    assert pool is not None
    try:
        users, run = PgUsers(pool), uuid.uuid4().hex[:6]  # a reused database keeps old users
        return {
            "secretary": await users.add(f"sec-{run}", "secretary", area=COMMUNITIES[0]),
            "supervisor": await users.add(f"sup-{run}", "supervisor", area="tongan"),
            "liaison": await users.add(f"li-{run}", "liaison", department="urban_management"),
        }
    finally:
        await pool.close()


def request_plan(
    rng: random.Random, ids_by_scope: dict[str, list[str]], tokens: dict[str, str]
) -> tuple[str, str, str]:
    """(endpoint name, path, token) of one request drawn from the mix."""
    roll = rng.random()
    if roll < 0.40:
        who = "secretary" if rng.random() < 0.5 else "supervisor"
        return "case", f"/v1/cases/{rng.choice(ids_by_scope[who])}", tokens[who]
    if roll < 0.60:
        return "list", "/v1/cases?limit=20", tokens["supervisor"]
    if roll < 0.75:
        return "inbox", "/v1/inbox?limit=20", tokens["liaison"]
    if roll < 0.90:
        case_id = rng.choice(ids_by_scope["supervisor"])
        return "timeline", f"/v1/cases/{case_id}/timeline", tokens["supervisor"]
    return "breaches", "/v1/breaches", tokens["supervisor"]


class RawClient:
    """A lean HTTP/1.1 keep-alive GET client (a pool of ``size`` connections), so that the
    load generator's own CPU does not dominate on a small machine; httpx is the default."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port, self.size = host, port, size
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0
        self.freed = asyncio.Condition()

    async def _acquire(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        async with self.freed:
            while not self.idle and self.opened >= self.size:
                await self.freed.wait()
            if self.idle:
                return self.idle.pop()
            self.opened += 1
        return await asyncio.open_connection(self.host, self.port)

    async def _release(
        self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None
    ) -> None:
        async with self.freed:
            if conn is None:
                self.opened -= 1
            else:
                self.idle.append(conn)
            self.freed.notify()

    async def get(self, path: str, token: str) -> tuple[int, float | None]:
        """GET ``path``; the status code and the API's own time (Server-Timing), in seconds."""
        conn = await self._acquire()
        reader, writer = conn
        try:
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n"
                f"Authorization: Bearer {token}\r\n\r\n".encode()
            )
            status = int((await reader.readline()).split()[1])
            length, server = 0, None
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
                elif name.lower() == b"server-timing":
                    server = float(value.split(b"dur=")[1]) / 1000
            await reader.readexactly(length)
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            writer.close()
            await self._release(None)
            return 0, None
        await self._release(conn)
        return status, server

    async def aclose(self) -> None:
        for _, writer in self.idle:
            writer.close()


class PgClient:
    """The database baseline: each "request" is the API's case query (``CASE_SQL``) on a pool
    of ``size`` asyncpg connections, sent on the same open-loop schedule as the HTTP mix."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def get(self, case_id: str, _token: str) -> tuple[int, float | None]:
        """Run the case query; 200 when a row came back."""
        try:
            row = await self.pool.fetchrow(CASE_SQL, case_id)
        except (OSError, asyncpg.PostgresError):
            return 0, None
        return (200 if row is not None else 404), None


async def drive(
    http: httpx.AsyncClient | RawClient | PgClient,
    schedule: Schedule,
    plan: Any,
    results: Results | None,
) -> float:
    """Send this generator's share of the schedule open-loop; return its achieved send rate."""
    loop = asyncio.get_running_loop()
    start = loop.time() + (schedule.start_wall - time.time())
    tasks: list[asyncio.Task[None]] = []

    async def one(intended: float, name: str, path: str, token: str) -> None:
        ok, server = False, None
        if not isinstance(http, httpx.AsyncClient):
            status, server = await http.get(path, token)
            ok = status == 200
        else:
            try:
                response = await http.get(path, headers={"Authorization": f"Bearer {token}"})
                ok = response.status_code == 200
                timing = response.headers.get("server-timing", "")
                server = float(timing.split("dur=")[1]) / 1000 if "dur=" in timing else None
            except httpx.HTTPError:
                ok = False
        if results is not None:
            results.add(name, loop.time() - intended, ok, server)

    total = int(schedule.rate * schedule.seconds)
    mine = range(schedule.index, total, schedule.stride)
    for i in mine:
        intended = start + i / schedule.rate
        delay = intended - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if results is not None:
            results.send_lag.append(loop.time() - intended)
        tasks.append(asyncio.create_task(one(intended, *plan())))
    sent_at = loop.time()
    await asyncio.gather(*tasks)
    return len(mine) / max(sent_at - start, 1e-9)


@dataclass(frozen=True)
class Schedule:
    """Request i of ``rate × seconds`` is intended at start_wall + i/rate; this generator sends
    those with i ≡ index (mod stride)."""

    rate: float
    seconds: float
    start_wall: float
    index: int = 0
    stride: int = 1


@dataclass(frozen=True)
class Job:
    """What one load-generator process needs."""

    url: str
    tokens: dict[str, str]
    ids_by_scope: dict[str, list[str]]
    warmup: Schedule
    measured: Schedule
    seed: int
    client: str
    connections: int
    mode: str = "mix"
    dsn: str = ""
    priority: int = 0


async def _generate(job: Job) -> tuple[Results, float]:
    rng = random.Random(job.seed)

    def plan() -> tuple[str, str, str]:
        if job.mode == "healthz":
            return "healthz", "/healthz", ""
        if job.mode == "pg":
            return "pg_case", rng.choice(job.ids_by_scope["supervisor"]), ""
        return request_plan(rng, job.ids_by_scope, job.tokens)

    if job.mode == "pg":
        pool = await asyncpg.create_pool(
            job.dsn, min_size=job.connections, max_size=job.connections
        )
        assert pool is not None
        try:
            await drive(PgClient(pool), job.warmup, plan, None)
            results = Results()
            return results, await drive(PgClient(pool), job.measured, plan, results)
        finally:
            await pool.close()
    if job.client == "raw":
        host, port = job.url.removeprefix("http://").split(":")
        raw = RawClient(host, int(port), job.connections)
        try:
            await drive(raw, job.warmup, plan, None)
            results = Results()
            return results, await drive(raw, job.measured, plan, results)
        finally:
            await raw.aclose()
    limits = httpx.Limits(
        max_connections=job.connections, max_keepalive_connections=job.connections
    )
    async with httpx.AsyncClient(base_url=job.url, limits=limits, timeout=30) as http:
        await drive(http, job.warmup, plan, None)
        results = Results()
        achieved = await drive(http, job.measured, plan, results)
    return results, achieved


def generator_process(job: Job) -> tuple[Results, float]:
    """Entry point of one load-generator process (uvloop, like the server)."""
    import uvloop

    if job.priority:
        os.setpriority(os.PRIO_PROCESS, 0, job.priority)
    cpu = time.process_time()
    results, achieved = uvloop.run(_generate(job))
    results.generator_cpu_s = time.process_time() - cpu
    return results, achieved


def generate(
    url: str,
    tokens: dict[str, str],
    ids_by_scope: dict[str, list[str]],
    args: argparse.Namespace,
    mode: str = "mix",
    dsn: str = "",
) -> tuple[Results, float]:
    """Run ``args.procs`` generator processes on one interleaved schedule; merge their results.

    ``mode``: "mix" (the read mix), "healthz" (a trivial endpoint, same client and rate) or
    "pg" (the case query straight on asyncpg, same rate: the database's own floor)."""
    start = time.time() + 2.0
    jobs = [
        Job(
            url,
            tokens,
            ids_by_scope,
            Schedule(args.rate, args.warmup, start, k, args.procs),
            Schedule(args.rate, args.seconds, start + args.warmup + 0.5, k, args.procs),
            args.seed + k,
            args.client,
            args.pg_connections if mode == "pg" else args.connections,
            mode,
            dsn,
            args.priority,
        )
        for k in range(args.procs)
    ]
    with multiprocessing.get_context("spawn").Pool(args.procs) as pool:
        parts = pool.map(generator_process, jobs)
    merged = Results()
    for part, _ in parts:
        for name, values in part.latencies.items():
            merged.latencies.setdefault(name, []).extend(values)
        for name, count in part.errors.items():
            merged.errors[name] = merged.errors.get(name, 0) + count
        merged.server.extend(part.server)
        merged.send_lag.extend(part.send_lag)
        merged.generator_cpu_s += part.generator_cpu_s
    return merged, sum(rate for _, rate in parts)


def cpu_pressure() -> float | None:
    """Linux PSI: % of the last 10 s in which some runnable task waited for a CPU."""
    try:
        first = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return None
    return float(first.split()[1].removeprefix("avg10="))


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and its descendants (Linux /proc)."""
    total, todo = 0.0, [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


def report(results: Results, rate: float, achieved: float) -> dict[str, Any]:
    """Percentiles in milliseconds, overall and per endpoint."""
    every = [v for vs in results.latencies.values() for v in vs]

    def summary(values: list[float], errors: int) -> dict[str, Any]:
        return {
            "requests": len(values),
            "errors": errors,
            "p50_ms": round(1000 * percentile(values, 0.50), 2),
            "p90_ms": round(1000 * percentile(values, 0.90), 2),
            "p99_ms": round(1000 * percentile(values, 0.99), 2),
            "max_ms": round(1000 * max(values), 2),
        }

    count = max(len(every), 1)
    return {
        "target_rps": rate,
        "achieved_send_rps": round(achieved, 1),
        "send_lag_p99_ms": round(1000 * percentile(results.send_lag, 0.99), 2),
        "send_lag_max_ms": round(1000 * max(results.send_lag), 2),
        "generator_cpu_ms_per_request": round(1000 * results.generator_cpu_s / count, 3),
        "all": summary(every, sum(results.errors.values())),
        "server_timing": summary(results.server, 0) if results.server else None,
        "by_endpoint": {
            name: summary(values, results.errors.get(name, 0))
            for name, values in sorted(results.latencies.items())
        },
    }


async def prepare(base_dsn: str, args: argparse.Namespace) -> tuple[str, str, bool]:
    """The benchmark database: (name, dsn, whether to drop it afterwards). ``--database``
    reuses one that a previous ``--database`` run loaded (and keeps it)."""
    database = args.database or f"bench_api_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(base_dsn)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await admin.execute(f"CREATE DATABASE {quote_ident(database)}")
    finally:
        await admin.close()
    dsn = with_database(base_dsn, database)
    if not exists:
        began = time.monotonic()
        ids = await load_cases(dsn, args.cases, args.seed)
        print(f"loaded {len(ids)} cases in {time.monotonic() - began:.1f} s", flush=True)
    return database, dsn, args.database is None


def start_profiler(pid: int, out: Path, seconds: float) -> subprocess.Popen[bytes]:
    """py-spy, sampling the API process and its workers without pausing them."""
    spy = Path(sys.executable).with_name("py-spy")
    return subprocess.Popen(
        [
            str(spy),
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--nonblocking",
            "--idle",
            "--rate",
            "200",
            "--format",
            "raw",
            "--duration",
            str(int(seconds) + 1),
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
    )


class Prioritizer(threading.Thread):
    """Every 0.5 s, give the API's processes (every thread) and the PostgreSQL backends of the
    benchmark database the nice value ``priority`` (new pool connections included), so that the
    stack under test runs before the other sessions' jobs on a shared machine.

    With autogroup scheduling (``/proc/sys/kernel/sched_autogroup_enabled``) nice values only
    order threads within one session's group, so the groups of the API, of this process (the
    generators) and of PostgreSQL get the same nice value too, restored by ``stop``.
    """

    def __init__(self, api_pid: int, database: str, priority: int) -> None:
        super().__init__(daemon=True)
        self.api_pid, self.database, self.priority = api_pid, database, priority
        self.stopped = threading.Event()

    def targets(self) -> set[int]:
        """Thread ids of the API tree and of the database's backends."""
        found, todo = set(), [self.api_pid]
        while todo:
            pid = todo.pop()
            try:
                found |= {int(t.name) for t in Path(f"/proc/{pid}/task").iterdir()}
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
        marker = f" {self.database} ".encode()
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    if marker in (proc / "cmdline").read_bytes():
                        found.add(int(proc.name))
                except OSError:
                    continue
        return found

    def groups(self, nice: int) -> None:
        """Set the autogroup nice value of the API, this process and the database backends."""
        pids = {self.api_pid, os.getpid()} | (self.targets() - {self.api_pid})
        seen: set[str] = set()
        for pid in pids:
            path = Path(f"/proc/{pid}/autogroup")
            with contextlib.suppress(OSError):
                group = path.read_text().split()[0]
                if group not in seen:
                    seen.add(group)
                    path.write_text(str(nice))

    def run(self) -> None:
        while not self.stopped.wait(0.5):
            self.groups(self.priority)
            for tid in self.targets():
                with contextlib.suppress(OSError):
                    os.setpriority(os.PRIO_PROCESS, tid, self.priority)

    def stop(self) -> None:
        """Stop, and give the groups back their default nice value."""
        self.stopped.set()
        self.join()
        self.groups(0)


def phase_summary(
    mode: str, results: Results, achieved: float, server_cpu: float, args: argparse.Namespace
) -> dict[str, Any]:
    """One measured pass: latency figures plus the server's and the generator's CPU."""
    summary = report(results, args.rate, achieved)
    summary["mode"] = mode
    if mode != "pg":
        summary["server_cpu_ms_per_request"] = round(
            1000 * server_cpu / (args.rate * (args.warmup + args.seconds)), 3
        )
    summary["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    summary["cpu_pressure_some_avg10_after"] = cpu_pressure()
    return summary


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured duration")
    parser.add_argument("--warmup", type=float, default=3.0, help="excluded warm-up, seconds")
    parser.add_argument("--cases", type=int, default=20_000, help="synthetic cases in the DB")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--procs", type=int, default=2, help="load-generator processes")
    parser.add_argument(
        "--client", choices=["httpx", "raw"], default="httpx", help="HTTP client of the generator"
    )
    parser.add_argument("--connections", type=int, default=64, help="per generator process")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="also pass the same schedule over /healthz and over the case query on asyncpg",
    )
    parser.add_argument("--pg-connections", type=int, default=10, help="per generator (pg)")
    parser.add_argument("--repeat", type=int, default=1, help="passes of each mode, interleaved")
    parser.add_argument("--database", help="reuse (or load and keep) this database")
    parser.add_argument("--profile", type=Path, help="py-spy raw profile of the first mix pass")
    parser.add_argument(
        "--priority",
        type=int,
        default=0,
        help="nice value for the generators, the API and its PostgreSQL backends (e.g. -10: "
        "run them before the other jobs of a shared machine; needs root)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    base = get_settings()
    database, dsn, drop = await prepare(base.dsn, args)
    try:
        tokens = await make_tokens(dsn)
        conn = await asyncpg.connect(dsn)
        rows = await conn.fetch("SELECT case_id, community, district FROM projection.cases")
        await conn.close()
        ids_by_scope = {
            "secretary": [r["case_id"] for r in rows if r["community"] == COMMUNITIES[0]],
            "supervisor": [r["case_id"] for r in rows if r["district"] == "tongan"],
        }
        modes = ["mix", "healthz", "pg"] if args.baseline else ["mix"]
        passes: list[dict[str, Any]] = []
        with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
            env = isolated_env(Path(tmp), base.bootstrap, dsn, f"bench-{uuid.uuid4().hex[:8]}")
            settings = settings_of(env)
            await ensure_topics(settings)
            url = f"http://127.0.0.1:{settings.http_port}"
            with supervised(Path(tmp), env) as supervisor:
                supervisor.start("api", "api", "--workers", str(args.workers))
                await asyncio.to_thread(supervisor.wait_ready, f"{url}/healthz")
                api_pid = supervisor.children["api"].pid
                prioritizer = Prioritizer(api_pid, database, args.priority)
                if args.priority:
                    prioritizer.start()
                try:
                    for n in range(args.repeat):
                        for mode in modes:
                            spy = None
                            if args.profile and mode == "mix" and n == 0:
                                spy = start_profiler(
                                    api_pid, args.profile, args.warmup + args.seconds + 2.5
                                )
                            cpu_before = tree_cpu_seconds(api_pid)
                            results, achieved = generate(url, tokens, ids_by_scope, args, mode, dsn)
                            server_cpu = tree_cpu_seconds(api_pid) - cpu_before
                            if spy is not None:
                                spy.wait()
                            passes.append(phase_summary(mode, results, achieved, server_cpu, args))
                            print(json.dumps(passes[-1]), flush=True)
                finally:
                    if args.priority:
                        prioritizer.stop()
        summary = {
            "cases": len(rows),
            "seconds": args.seconds,
            "workers": args.workers,
            "generator_processes": args.procs,
            "client": args.client,
            "priority": args.priority,
            "passes": passes,
            "p99_ms_median": {
                mode: sorted(p["all"]["p99_ms"] for p in passes if p["mode"] == mode)[
                    args.repeat // 2
                ]
                for mode in modes
            },
        }
        print(json.dumps(summary["p99_ms_median"]))
        if args.json:
            args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        return 0 if all(p["all"]["errors"] == 0 for p in passes) else 1
    finally:
        if drop:
            admin = await asyncpg.connect(base.dsn)
            await admin.execute(f"DROP DATABASE IF EXISTS {quote_ident(database)} WITH (FORCE)")
            await admin.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

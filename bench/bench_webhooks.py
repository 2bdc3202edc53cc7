"""Raise → webhook delivered: latency from each whistle's intended send time to its delivery.

Method (open loop, so a stall is never hidden): whistles are scheduled at a fixed rate
(default 200/s); whistle i is *intended* at t0 + i/rate and sent as a RaiseWhistle command on a
fresh commands topic without waiting for anything. The real processes run as children, as in
production: `whistle worker` (decider + router) and `whistle webhooks deliver` (its own
consumer of the event log, Postgres queue, httpx sender). Every department has an endpoint on
a receiver in this process (uvicorn on 127.0.0.1) that verifies each Standard Webhooks
signature and records when the case's first CaseRouted delivery arrives. Latency = arrival −
intended send time. Fresh topics and a fresh database per run; a warm-up batch is excluded.

    .venv/bin/python bench/bench_webhooks.py --rate 200 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import uvicorn
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.service_fixtures import isolated_env, settings_of, supervised
from whistle.bus import CommandBus
from whistle.domain import Actor, RaiseWhistle
from whistle.domain.areas import load_departments
from whistle.domain.base import SYSTEM, event_id_for
from whistle.domain.codec import encode
from whistle.domain.events import CaseRouted
from whistle.service.process_supervisor import Supervisor
from whistle.settings import Settings, get_settings
from whistle.topics import CASE_EVENTS, ensure_topics
from whistle.webhooks.schema import ensure_schema
from whistle.webhooks.signing import new_secret, verify
from whistle.webhooks.worker import open_store

SECRETARY = Actor(user_id="bench", role="secretary", area="tongan.datong.jinhai")
CATEGORIES = ["parking", "noise", "vendors", "sanitation", "greening", "square_dancing"]


class Receiver:
    """A bare ASGI receiver: verifies signatures, records first CaseRouted arrival per case."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.arrived: dict[str, float] = {}
        self.bad = 0
        self.requests = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        now = time.time()
        self.requests += 1
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        try:
            verify(self.secret, headers, body)
            event = json.loads(body)
            if event["data"]["type"] == "CaseRouted":
                self.arrived.setdefault(event["caseid"], now)
        except Exception:
            self.bad += 1
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def whistle(case_id: str, i: int) -> RaiseWhistle:
    """One benchmark whistle in 金海社区."""
    return RaiseWhistle(
        command_id=f"{case_id}-raise",
        case_id=case_id,
        actor=SECRETARY,
        community="tongan.datong.jinhai",
        category=CATEGORIES[i % len(CATEGORIES)],
        title="滨海步道违停",
        address="金海社区滨海步道",
    )


Send = Callable[[str, int], Coroutine[Any, Any, None]]


def routed(case_id: str, i: int) -> CaseRouted:
    """The router's dispatch of case ``i`` (for the webhook stage alone)."""
    now = datetime.now(UTC)
    return CaseRouted(
        event_id=event_id_for(f"{case_id}-route", 2), case_id=case_id, seq=2, occurred_at=now,
        actor=SYSTEM, command_id=f"{case_id}-route", lead="urban_management",
        supporting=("public_security",) if i % 2 else (), rule_id="bench",
        rules_version="bench", policy="default", clocks=(),
    )  # fmt: skip


async def send_schedule(
    send: Send, prefix: str, count: int, rate: float
) -> tuple[dict[str, float], float]:
    """Send ``count`` whistles at ``rate``/s, open loop; return intended times and max lag."""
    intended: dict[str, float] = {}
    pending: set[asyncio.Task[None]] = set()
    t0 = time.time() + 0.2
    worst_lag = 0.0
    for i in range(count):
        due = t0 + i / rate
        delay = due - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        worst_lag = max(worst_lag, time.time() - due)
        case_id = f"{prefix}-{i:06d}"
        intended[case_id] = due
        task = asyncio.create_task(send(case_id, i))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:
        await asyncio.gather(*pending)
    return intended, worst_lag


async def wait_all(receiver: Receiver, cases: list[str], timeout_s: float) -> None:
    """Wait until every case was delivered (bounded)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(c not in receiver.arrived for c in cases):
        await asyncio.sleep(0.1)


async def drop_topics(bootstrap: str, prefix: str) -> None:
    """Delete the run's topics (the worker's internal ones too)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        doomed = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def register_endpoints(settings: Settings, url: str, secret: str) -> None:
    """The webhooks schema, and one endpoint per department on the receiver."""
    store = await open_store(settings)
    try:
        async with store.pool.acquire() as conn:
            await ensure_schema(conn)
        for code in load_departments():
            await store.add_endpoint(code, f"{url}/{code}", secret)
    finally:
        await store.pool.close()


async def drive(
    settings: Settings, supervisor: Supervisor, receiver: Receiver, args: Run
) -> dict[str, Any]:
    """Warm up, then send at the rate; the intended times, the send lag, CPU and load."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap, linger_ms=2)
    bus = CommandBus(settings)
    await producer.start()
    await bus.start()
    events = settings.topic(CASE_EVENTS.name)

    async def send(case_id: str, i: int) -> None:
        if args.stage == "e2e":
            await bus.send(whistle(case_id, i), case_id)
        else:
            await producer.send_and_wait(
                events, key=case_id.encode(), value=encode(routed(case_id, i))
            )

    try:
        warm, _ = await send_schedule(send, "warm", args.warmup, 50)
        await wait_all(receiver, list(warm), 180)
        supervisor.check_alive()
        if any(c not in receiver.arrived for c in warm):
            raise RuntimeError(f"warm-up not delivered; logs in {supervisor.log_dir}")
        pid = supervisor.children["webhooks"].pid
        cpu0, load, requests0 = process_cpu_s(pid), os.getloadavg()[0], receiver.requests
        intended, lag = await send_schedule(send, "run", int(args.rate * args.seconds), args.rate)
        await wait_all(receiver, list(intended), 60)
        sent = max(receiver.requests - requests0, 1)
        cpu_ms = (process_cpu_s(pid) - cpu0) * 1000 / sent
    finally:
        await bus.stop()
        await producer.stop()
    return {"intended": intended, "lag": lag, "load": load, "cpu_ms": cpu_ms}


@dataclass(frozen=True)
class Run:
    """What one run does."""

    rate: float
    seconds: float
    warmup: int
    stage: str = "e2e"
    keep: bool = False


async def bench(args: Run) -> dict[str, Any]:
    """One run against fresh topics and a fresh database."""
    base = get_settings()
    db = f"bench_wh_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(base.dsn)
    await admin.execute(f'CREATE DATABASE "{db}"')
    await admin.close()
    secret = new_secret()
    receiver = Receiver(secret)
    server = uvicorn.Server(
        uvicorn.Config(receiver, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    server_task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    prefix = f"benchwh-{uuid.uuid4().hex[:8]}"
    tmp = tempfile.mkdtemp(prefix="bench-webhooks-")
    try:
        env = isolated_env(Path(tmp), base.bootstrap, base.dsn.rsplit("/", 1)[0] + "/" + db, prefix)
        settings = settings_of(env)
        await ensure_topics(settings)
        await register_endpoints(settings, f"http://127.0.0.1:{port}", secret)
        with supervised(Path(tmp), env) as supervisor:
            if args.stage == "e2e":
                supervisor.start("worker", "worker")
            supervisor.start("webhooks", "webhooks", "deliver")
            run = await drive(settings, supervisor, receiver, args)
    finally:
        server.should_exit = True
        await server_task
        if not args.keep:
            admin = await asyncpg.connect(base.dsn)
            await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            await admin.close()
            await drop_topics(base.bootstrap, prefix)
            shutil.rmtree(tmp, ignore_errors=True)
    intended, lag, load = run["intended"], run["lag"], run["load"]
    latencies = [
        (receiver.arrived[c] - t) * 1000 for c, t in intended.items() if c in receiver.arrived
    ]
    return {
        "stage": args.stage,
        "rate_per_s": args.rate,
        "whistles": len(intended),
        "delivered": len(latencies),
        "bad_signatures": receiver.bad,
        "requests": receiver.requests,
        "send_lag_max_ms": round(lag * 1000, 1),
        "load_avg_1m": round(load, 2),
        "webhook_worker_cpu_ms_per_delivery": round(run["cpu_ms"], 3),
        "p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
        "p90_ms": round(percentile(latencies, 90), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
        **({"database": db, "logs": tmp, "topic_prefix": prefix} if args.keep else {}),
    }


def main() -> None:
    """Parse the arguments, run, print one JSON line per run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the database and logs")
    parser.add_argument(
        "--stage",
        choices=["e2e", "webhooks"],
        default="e2e",
        help="e2e: RaiseWhistle command → delivery (worker + webhooks); webhooks: CaseRouted "
        "appended to the event log → delivery (the webhook worker alone)",
    )
    args = parser.parse_args()
    for _ in range(args.runs):
        run = Run(args.rate, args.seconds, args.warmup, args.stage, args.keep)
        print(json.dumps(asyncio.run(bench(run))), flush=True)


if __name__ == "__main__":
    main()

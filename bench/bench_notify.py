"""Raise → first notification delivered: latency from each whistle's intended send time to
its first robot message, and the notifier's throughput beside the webhook deliverer's.

Method (open loop, as ``bench_webhooks.py``): whistles are scheduled at a fixed rate (default
50/s) as RaiseWhistle commands on fresh topics; the real processes run as children: ``whistle
worker`` (decider + router) and ``whistle notifications run`` (its own consumer of the event
log, the ``notify`` deliveries, the channels). Every department has one liaison whose channel
is the department's WeCom group robot, a stand-in in this process (aiohttp on 127.0.0.1) that
records when a case's first message arrives. Latency = arrival − intended send time. Stage
``notifier`` appends ``CaseRouted`` events to the log directly (the notifier alone, for its
throughput). Fresh topics and database per run; a warm-up batch is excluded.

    .venv/bin/python bench/bench_notify.py --rate 50 --seconds 30
    .venv/bin/python bench/bench_notify.py --stage notifier --rate 200 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import web
from aiokafka import AIOKafkaProducer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_webhooks import (
    drop_topics,
    percentile,
    process_cpu_s,
    routed,
    send_schedule,
    whistle,
)
from tests.service_fixtures import isolated_env, settings_of, supervised
from whistle.api.account_store import PgUsers
from whistle.bus import CommandBus
from whistle.domain.areas import load_departments
from whistle.domain.codec import encode
from whistle.notify.preferences import Preferences, Robot
from whistle.notify.worker import open_store
from whistle.settings import Settings, get_settings
from whistle.topics import CASE_EVENTS, ensure_topics

ROBOT_PORT, WORKER_PORT, HTTP_PORT = 18313, 18314, 18315
CASE = re.compile(r"(?:warm|run)-\d{6}")


class RobotStandIn:
    """Answers as a WeCom robot; records the first message per case."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.requests = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        now = time.time()
        self.requests += 1
        found = CASE.search(body.get("markdown", {}).get("content", ""))
        if found:
            self.arrived.setdefault(found.group(0), now)
        return web.json_response({"errcode": 0, "errmsg": "ok"})


async def prepare(settings: Settings, url: str) -> None:
    """One liaison per department, reached by its department's WeCom robot."""
    store = await open_store(settings)
    try:
        users = PgUsers(store.pool, 0.0)
        for code in load_departments():
            await users.add(f"li-{code}", "liaison", department=code)
            await store.preferences.put(Preferences(f"li-{code}", channels=("wecom",)), "bench")
            robot = Robot("wecom", f"{url}/cgi-bin/webhook/send?key={code}")
            await store.preferences.put_group_robot(f"department:{code}", robot, "bench")
    finally:
        await store.pool.close()


async def wait_all(robot: RobotStandIn, cases: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(c not in robot.arrived for c in cases):
        await asyncio.sleep(0.1)


@dataclass(frozen=True)
class Run:
    """What one run does."""

    rate: float
    seconds: float
    warmup: int
    stage: str = "e2e"


async def drive(settings: Settings, supervisor: Any, robot: RobotStandIn, args: Run) -> dict:
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
        warm, _ = await send_schedule(send, "warm", args.warmup, 20)
        await wait_all(robot, list(warm), 180)
        supervisor.check_alive()
        if any(c not in robot.arrived for c in warm):
            raise RuntimeError(f"warm-up not delivered; logs in {supervisor.log_dir}")
        pid = supervisor.children["notifier"].pid
        cpu0, requests0, t0 = process_cpu_s(pid), robot.requests, time.time()
        intended, lag = await send_schedule(send, "run", int(args.rate * args.seconds), args.rate)
        await wait_all(robot, list(intended), 120)
        elapsed = max(robot.arrived.values()) - t0 if robot.arrived else 0.0
        sent = max(robot.requests - requests0, 1)
        cpu_ms = (process_cpu_s(pid) - cpu0) * 1000 / sent
    finally:
        await bus.stop()
        await producer.stop()
    return {"intended": intended, "lag": lag, "cpu_ms": cpu_ms, "sent": sent, "elapsed": elapsed}


async def bench(args: Run) -> dict[str, Any]:
    base = get_settings()
    db = f"bench_nt_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(base.dsn)
    await admin.execute(f'CREATE DATABASE "{db}"')
    await admin.close()
    robot = RobotStandIn()
    app = web.Application()
    app.router.add_post("/cgi-bin/webhook/send", robot.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", ROBOT_PORT).start()
    prefix = f"benchnt-{uuid.uuid4().hex[:8]}"
    tmp = tempfile.mkdtemp(prefix="bench-notify-")
    try:
        env = isolated_env(Path(tmp), base.bootstrap, base.dsn.rsplit("/", 1)[0] + "/" + db, prefix)
        env |= {"WHISTLE_WORKER_WEB_PORT": str(WORKER_PORT), "WHISTLE_HTTP_PORT": str(HTTP_PORT)}
        settings = settings_of(env)
        await ensure_topics(settings)
        await prepare(settings, f"http://127.0.0.1:{ROBOT_PORT}")
        with supervised(Path(tmp), env) as supervisor:
            if args.stage == "e2e":
                supervisor.start("worker", "worker")
            supervisor.start("notifier", "notifications", "run")
            run = await drive(settings, supervisor, robot, args)
    finally:
        await runner.cleanup()
        admin = await asyncpg.connect(base.dsn)
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()
        await drop_topics(base.bootstrap, prefix)
        shutil.rmtree(tmp, ignore_errors=True)
    intended = run["intended"]
    latencies = [(robot.arrived[c] - t) * 1000 for c, t in intended.items() if c in robot.arrived]
    return {
        "stage": args.stage,
        "rate_per_s": args.rate,
        "whistles": len(intended),
        "first_notified": len(latencies),
        "robot_messages": run["sent"],
        "messages_per_s": round(run["sent"] / run["elapsed"], 1) if run["elapsed"] else None,
        "send_lag_max_ms": round(run["lag"] * 1000, 1),
        "notifier_cpu_ms_per_message": round(run["cpu_ms"], 3),
        "p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
    }


def main() -> None:
    """Parse the arguments, run, print one JSON line per run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--stage", choices=["e2e", "notifier"], default="e2e")
    args = parser.parse_args()
    for _ in range(args.runs):
        print(json.dumps(asyncio.run(bench(Run(args.rate, args.seconds, args.warmup,
                                                 args.stage)))), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()

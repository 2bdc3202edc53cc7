"""httpx vs aiohttp as the webhook sender's client: requests/s and client CPU per request.

A bare ASGI server (uvicorn, its own process) answers 204; the client POSTs a 1 KB body
``--requests`` times with ``--concurrency`` requests in flight, first with httpx, then aiohttp.

    .venv/bin/python bench/bench_http_clients.py --requests 3000 --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import httpx


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer 204 to everything."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def cpu_s() -> float:
    """User + system CPU seconds of this process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(name: str, post: Callable[[], Awaitable[None]], n: int, c: int) -> None:
    """Run ``n`` posts, ``c`` at a time; print the rate and the CPU per request."""
    gate = asyncio.Semaphore(c)

    async def one() -> None:
        async with gate:
            await post()

    t0, c0 = time.perf_counter(), cpu_s()
    await asyncio.gather(*(one() for _ in range(n)))
    wall, cpu = time.perf_counter() - t0, cpu_s() - c0
    print(f"{name:8} {n / wall:8.0f} req/s   {cpu / n * 1000:6.3f} ms CPU/request")


async def clients(url: str, n: int, c: int) -> None:
    """Both clients against the same server."""
    body = b'{"data":"' + b"x" * 1000 + b'"}'
    limits = httpx.Limits(max_connections=2 * c, max_keepalive_connections=c)
    async with httpx.AsyncClient(limits=limits) as hx:

        async def hx_post() -> None:
            await hx.post(url, content=body)

        await measure("httpx", hx_post, n, c)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=2 * c)) as session:

        async def aio_post() -> None:
            async with session.post(url, data=body) as response:
                await response.read()

        await measure("aiohttp", aio_post, n, c)


def main() -> None:
    """Start the server, run both clients, stop the server."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.bench_http_clients:app", "--port", str(port),
         "--log-level", "warning", "--lifespan", "off"],
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        asyncio.run(clients(f"http://127.0.0.1:{port}/hook", args.requests, args.concurrency))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()

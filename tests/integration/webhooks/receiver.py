"""A real HTTP receiver on 127.0.0.1 that records deliveries and answers as told."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

import uvicorn
from fastapi import FastAPI, Request, Response


@dataclass
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """Recorded requests, and the status codes to answer per path (default 200)."""

    url: str
    got: list[Received] = field(default_factory=list)
    answers: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def on(self, path: str) -> list[Received]:
        """Requests received on ``path``."""
        return [r for r in self.got if r.path == path]

    async def wait_for(self, path: str, count: int, timeout_s: float = 30.0) -> list[Received]:
        """Wait until ``path`` got ``count`` requests (bounded)."""
        deadline = time.monotonic() + timeout_s
        while len(self.on(path)) < count and time.monotonic() < deadline:
            self.arrived.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), 0.5)
        return self.on(path)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    """Start the receiver under uvicorn for the block."""
    port = _free_port()
    receiver = Receiver(url=f"http://127.0.0.1:{port}")
    app = FastAPI()

    @app.post("/{path:path}")
    async def receive(path: str, request: Request) -> Response:
        body = await request.body()
        receiver.got.append(Received("/" + path, dict(request.headers), body, time.time()))
        receiver.arrived.set()
        queued = receiver.answers.get("/" + path) or []
        code, headers = queued.pop(0) if queued else (200, {})
        return Response(status_code=code, headers=headers)

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task

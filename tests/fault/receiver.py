"""The departments' webhook receiver: counts every (department, event id) that arrives."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

from tests.service_fixtures import free_port


@dataclass
class WireCount:
    """Deliveries seen on the wire, by (department, event id)."""

    url: str
    got: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def received(self) -> int:
        """Requests received in all."""
        return sum(self.got.values())

    @property
    def duplicates(self) -> int:
        """Requests beyond the first for the same (department, event id)."""
        return self.received - len(self.got)


@asynccontextmanager
async def receiving() -> AsyncIterator[WireCount]:
    """An HTTP server on 127.0.0.1 answering 200 to every delivery, for the block."""
    port = free_port()
    wire = WireCount(f"http://127.0.0.1:{port}/hook")

    async def receive(request: web.Request) -> web.Response:
        event = json.loads(await request.read())
        wire.got[(str(event["department"]), str(event["id"]))] += 1
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield wire
    finally:
        await runner.cleanup()

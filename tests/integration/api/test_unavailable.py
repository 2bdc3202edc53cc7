"""PostgreSQL going away under a running API: 503 + Retry-After problem+json, never 500 or a
hang, and service again once it is back. The API reaches PostgreSQL through a TCP proxy that
the test cuts (every connection reset, nothing listening) and restores."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from projections.migrate import migrate
from tests.conftest import unique_name
from whistle.api.account_store import PgUsers
from whistle.api.app import ApiSettings, connect_services, create_app
from whistle.settings import Settings
from whistle.topics import ensure_topics

pytestmark = pytest.mark.integration


class Proxy:
    """Forwards 127.0.0.1:port to ``target``; ``cut`` resets every connection and stops
    listening, ``restore`` listens again on the same port."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def restore(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


def through(dsn: str, port: int) -> str:
    """``dsn`` with its host and port replaced by the proxy's."""
    parts = urlsplit(dsn)
    user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit((parts.scheme, f"{user}127.0.0.1:{port}", *parts[2:]))


async def test_postgres_going_away_is_503_with_retry_after(
    kafka_bootstrap: str, fresh_database: str
) -> None:
    target = urlsplit(fresh_database)
    proxy = Proxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.restore()
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap,
        database_url=through(fresh_database, proxy.port),
        topic_prefix=unique_name("pgdown"),
        partitions=2,
        api_retry_after_s=2,
    )
    await ensure_topics(settings)
    services, close = await connect_services(settings, ApiSettings(token_cache_s=0, read_cache_s=0))
    conn = await asyncpg.connect(fresh_database)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    pool = await asyncpg.create_pool(fresh_database, min_size=1, max_size=1)
    token = await PgUsers(pool, 0).add("sup", "supervisor", area="tongan")
    await pool.close()
    app = create_app(settings, services)
    headers = {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            assert (await http.get("/v1/cases", headers=headers)).status_code == 200
            await proxy.cut()
            for path in ("/v1/cases", "/v1/cases/WH-1", "/v1/breaches"):
                response = await asyncio.wait_for(http.get(path, headers=headers), 30)
                assert response.status_code == 503, (path, response.text)
                assert response.headers["retry-after"] == "2"
                assert response.headers["content-type"] == "application/problem+json"
                assert response.json()["code"].endswith("_unavailable")
            assert (await http.get("/readyz")).status_code == 503
            await proxy.restore()
            for _ in range(50):
                back = await http.get("/v1/cases", headers=headers)
                if back.status_code == 200:
                    break
                await asyncio.sleep(0.2)
            assert back.status_code == 200, back.text
    finally:
        await close()
        with contextlib.suppress(Exception):
            await proxy.cut()

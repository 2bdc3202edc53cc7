"""The app over a fresh database with one person per role, logged in through the login form."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher

from projections.migrate import migrate
from tests.service_fixtures import free_port
from whistle.api.account_store import PgIdempotency, PgUsers, migrate_api
from whistle.api.app import create_app
from whistle.api.deps import Services
from whistle.bus import Decision
from whistle.notify.inbox import Inbox, ensure_schema
from whistle.notify.notifier_store import NotifierStore
from whistle.read.gateway import PgRead
from whistle.settings import Settings
from whistle.web.accounts import PgAccounts, Throttle
from whistle.web.passwords import Passwords
from whistle.webhooks.delivery_store import WebhookStore
from whistle.webhooks.schema import ensure_schema as ensure_webhook_schema
from whistle.webhooks.secretbox import SecretBox

CHEAP = Passwords(PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
"""Real Argon2id at a test's cost (the default costs ~0.1–0.8 s a hash on this machine)."""

PASSWORD = "demo-pass-2026"
PEOPLE = {
    "secretary": ("sec-jinhai", {"area": "tongan.datong.jinhai"}),
    "liaison": ("li-urban", {"department": "urban_management"}),
    "supervisor": ("sup-tongan", {"area": "tongan"}),
    "admin": ("admin", {}),
    "config_admin": ("cfg-tongan", {"area": "tongan"}),
}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class NoBus:
    """The pages of this issue send no command."""

    async def submit(self, command: object, case_id: str, command_id: str) -> Decision:
        raise AssertionError("no command expected")


async def _no_probe() -> None:
    return None


@dataclass
class Site:
    """The served app, its pool and accounts, and the role → user id of its people."""

    app: object
    pool: asyncpg.Pool
    accounts: PgAccounts
    users: PgUsers
    inbox: Inbox
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, base: str | None = None) -> httpx.AsyncClient:
        """A browser-like client (its own cookie jar), not logged in; of the app in-process,
        or of the app ``served`` at ``base``."""
        if base is not None:
            return httpx.AsyncClient(base_url=base, timeout=30)
        transport = httpx.ASGITransport(app=self.app)  # type: ignore[arg-type]
        return httpx.AsyncClient(transport=transport, base_url="http://web")

    @asynccontextmanager
    async def served(self) -> AsyncIterator[str]:
        """The app served by uvicorn on a free port, for a stream (``ASGITransport`` answers
        only once the app has finished, which a stream never does); its base URL."""
        config = uvicorn.Config(self.app, host="127.0.0.1", port=free_port(),  # type: ignore[arg-type]
                                log_level="warning", lifespan="off")  # fmt: skip
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:
            assert not task.done(), "the server did not start"
            await asyncio.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{config.port}"
        finally:
            server.should_exit = True
            await task

    async def login(
        self, role: str, password: str = PASSWORD, base: str | None = None
    ) -> httpx.AsyncClient:
        """A client logged in as the person of ``role`` (fails the test otherwise)."""
        client = self.client(base)
        response = await submit(
            client, "/login", {"username": PEOPLE[role][0], "password": password}
        )
        assert response.status_code == 303, response.text
        return client

    @asynccontextmanager
    async def session(self, role: str) -> AsyncIterator[httpx.AsyncClient]:
        """``login(role)``, closed afterwards."""
        client = await self.login(role)
        try:
            yield client
        finally:
            await client.aclose()


async def csrf_of(client: httpx.AsyncClient, path: str = "/login") -> str:
    """The CSRF token the page at ``path`` puts in its forms."""
    page = await client.get(path)
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


async def submit(
    client: httpx.AsyncClient,
    path: str,
    data: Mapping[str, str | list[str]],
    page: str = "/login",
) -> httpx.Response:
    """Post a form as a browser would: with the CSRF token of the page it came from."""
    token = await csrf_of(client, page)
    return await client.post(path, data={"csrf_token": token, **data})


@pytest.fixture
async def site(fresh_database: str, tmp_path: Path) -> AsyncIterator[Site]:
    """The API app with its pages over a fresh database; a person per role (password
    ``PASSWORD``) and a bearer token per role (``site.tokens``)."""
    pool = await asyncpg.create_pool(fresh_database, min_size=1, max_size=4)
    async with pool.acquire() as conn:
        await migrate(conn)  # the read models (a token's /v1/inbox reads them)
        await migrate_api(conn)
        await ensure_schema(conn)  # the notification settings page's store, the inbox
        await ensure_webhook_schema(conn)  # the webhook endpoint pages' store
    users = PgUsers(pool, 0.0)
    throttle = Throttle(account_limit=3, client_limit=8)
    accounts = PgAccounts(pool, throttle=throttle, passwords=CHEAP)
    tokens = {}
    for role, (user_id, scope) in PEOPLE.items():
        await accounts.create_person(
            user_id,
            user_id,
            role,
            name=f"{role} person",
            actor="test",
            **scope,  # type: ignore[arg-type]
        )
        await accounts.set_password(user_id, PASSWORD)
        tokens[role] = await users.add(f"tok-{user_id}", role, **scope)  # type: ignore[arg-type]
    await users.add("victim", "secretary", area="tongan.datong.jinhai")
    inbox = Inbox(pool)
    services = Services(
        bus=NoBus(),
        read=PgRead(pool),
        users=users,
        idempotency=PgIdempotency(pool),
        kafka_probe=_no_probe,
        accounts=accounts,
        notifier=NotifierStore(pool, SecretBox("web-test-key")),
        webhooks=WebhookStore(pool, SecretBox("web-test-key")),
        inbox=inbox,
    )
    app = create_app(Settings(database_url=fresh_database, state_dir=tmp_path), services)
    try:
        yield Site(app, pool, accounts, users, inbox, tokens)
    finally:
        await pool.close()

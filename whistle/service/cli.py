"""``whistle run``: the whole service on this machine (worker, projector, API, webhooks)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from typing import Any

import asyncpg

from whistle.api.account_store import PgUsers, migrate_api
from whistle.dev.services import ServiceError, ensure_services
from whistle.service.demo import (
    DEMO_POLICIES,
    DEMO_USERS,
    demo_passwords,
    login_table,
    raise_whistles,
    read_tokens,
    readiness_reasons,
    wait_routed,
    write_env,
    write_tokens,
)
from whistle.service.process_supervisor import Supervisor
from whistle.settings import Settings, get_settings
from whistle.topics import ensure_topics

PROCESSES = {
    "worker": ("worker",),
    "projector": ("projector",),
    "api": ("api",),
    "webhooks": ("webhooks", "deliver"),
}


def register(subparsers: Any) -> None:
    """Add the ``run`` command."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run", help="run the whole service here (worker, projector, API, webhook deliverer)"
    )
    parser.add_argument("--demo", action="store_true", help="load demo users and whistles")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    settings = get_settings()
    try:
        ensure_services(settings)
    except ServiceError as exc:
        print(f"whistle run: {exc}", file=sys.stderr)
        return 1
    asyncio.run(ensure_topics(settings))
    env = {}
    if args.demo and settings.sla_policies_file is None:  # deadlines a walk-through can wait for
        env["WHISTLE_SLA_POLICIES_FILE"] = str(DEMO_POLICIES)
    supervisor = Supervisor(settings, settings.state_dir / "logs", env=env)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        for name, command in PROCESSES.items():
            supervisor.start(name, *command)
        api = f"http://{settings.http_host}:{settings.http_port}"
        supervisor.wait_ready(f"{api}/readyz")
        if args.demo:
            _load_demo(settings, api)
        else:
            print(f"Whistle is running: {api}/docs  (logs in {supervisor.log_dir})")
        while True:
            supervisor.check_alive()
            time.sleep(1.0)
    except RuntimeError as exc:
        print(f"whistle run: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, SystemExit):
        print("\nstopping…")
        return 0
    finally:
        supervisor.stop()


def _load_demo(settings: Settings, api: str) -> None:
    tokens = asyncio.run(_demo_users(settings))
    passwords = asyncio.run(_demo_logins(settings))
    env_file = write_env(settings.state_dir / "demo.env", api, tokens)
    clocks = (
        f"{DEMO_POLICIES.name}: departments sign for a case within 2 minutes"
        if settings.sla_policies_file is None
        else str(settings.sla_policies_file)
    )
    case_ids = raise_whistles(api, tokens)
    secretary = tokens["demo-secretary-jinhai"]
    case = wait_routed(api, secretary, case_ids[0])
    supervisor = tokens["demo-supervisor-tongan"]
    liaison = tokens["demo-liaison-transport"]
    warnings = "".join(
        f"\n  Degraded:    {reason}  ({api}/readyz)" for reason in readiness_reasons(api)
    )
    print(
        f"""
Whistle is running with demo data ({len(case_ids)} whistles raised).
  API docs:    {api}/docs
{login_table(api, passwords)}
  Dashboard:   {api}/dashboard   (supervisor token: {supervisor})
  Logs:        {settings.state_dir / "logs"}
  Demo tokens: {settings.state_dir / "demo-tokens.json"}, as shell variables: source {env_file}
  Demo clocks: {clocks}{warnings}

The first whistle, raised in 金海社区, was routed to {case["lead_department"]}. Try:

  curl -s -H 'Authorization: Bearer {secretary}' {api}/v1/cases/{case_ids[0]}

and, as the transport liaison, the console:

  WHISTLE_TOKEN={liaison} .venv/bin/whistle inbox

Ctrl-C stops the service (`make down` stops Kafka and PostgreSQL).""",
        flush=True,
    )


async def _demo_users(settings: Settings) -> dict[str, str]:
    """Make the demo users that do not exist yet; reuse the tokens kept from earlier runs."""
    path = settings.state_dir / "demo-tokens.json"
    kept = read_tokens(path)
    pool = await asyncpg.create_pool(settings.dsn, min_size=1, max_size=2)
    assert pool is not None
    try:
        async with pool.acquire() as conn:
            await migrate_api(conn)
        users = PgUsers(pool, cache_ttl_s=0)
        known = {u.user_id for u in await users.list()}
        tokens: dict[str, str] = {}
        for user in DEMO_USERS:
            token = kept.get(user.user_id)
            if token and await users.principal(token) is not None:
                tokens[user.user_id] = token
            elif user.user_id in known:
                raise RuntimeError(
                    f"demo user {user.user_id} exists but its token is not in {path}; "
                    f"revoke it (`whistle users revoke {user.user_id}`) or use a fresh database"
                )
            else:
                tokens[user.user_id] = await users.add(
                    user.user_id,
                    user.role,  # type: ignore[arg-type]
                    area=user.area,
                    department=user.department,
                    name=user.name,
                )
        write_tokens(path, tokens)
        return tokens
    finally:
        await pool.close()


async def _demo_logins(settings: Settings) -> dict[str, str]:
    """Give every demo user their username and the printed password (kept between runs in
    ``demo-passwords.json``; a password changed in the browser is set back to it)."""
    from whistle.web.accounts import PgAccounts

    passwords = demo_passwords(settings.state_dir / "demo-passwords.json")
    pool = await asyncpg.create_pool(settings.dsn, min_size=1, max_size=2)
    assert pool is not None
    try:
        accounts = PgAccounts(pool)
        for user in DEMO_USERS:
            await accounts.set_username(user.user_id, user.username)
            await accounts.set_password(user.user_id, passwords[user.username])
        return passwords
    finally:
        await pool.close()

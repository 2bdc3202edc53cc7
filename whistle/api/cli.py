"""`whistle api` (serve the HTTP API) and `whistle users add | list | revoke | set-role`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from whistle.api.account_store import PgUsers, migrate_api
from whistle.logs import configure_logging
from whistle.settings import get_settings

UsersAction = Callable[[PgUsers, argparse.Namespace], Awaitable[int]]
CONFIG_WAIT_S = 15.0
"""How long ``users add`` waits for the configuration topic before it checks the packaged
areas and departments instead."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``api`` and ``users`` to the ``whistle`` parser."""
    api = subparsers.add_parser("api", help="serve the HTTP API (uvicorn)")
    api.add_argument("--host", default=None, help="default: WHISTLE_HTTP_HOST (127.0.0.1)")
    api.add_argument("--port", type=int, default=None, help="default: WHISTLE_HTTP_PORT (8080)")
    api.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    api.set_defaults(func=_serve)

    users = subparsers.add_parser("users", help="API users and their tokens")
    sub = users.add_subparsers(dest="users_command", required=True)
    add = sub.add_parser("add", help="create a user; prints the token once")
    add.add_argument("user_id")
    add.add_argument(
        "--role",
        required=True,
        choices=["secretary", "liaison", "supervisor", "admin", "config_admin"],
    )
    add.add_argument(
        "--area",
        help="community (secretary), street/district (supervisor) or district (config_admin)",
    )
    add.add_argument("--department", help="department code (liaison)")
    add.add_argument("--name", default="", help="display name")
    add.set_defaults(func=_users(_add))
    lst = sub.add_parser("list", help="users (never their tokens)")
    lst.set_defaults(func=_users(_list))
    rev = sub.add_parser("revoke", help="revoke a user's token")
    rev.add_argument("user_id")
    rev.set_defaults(func=_users(_revoke))
    reset = sub.add_parser(
        "reset-password",
        help="重置登录密码（仅显示一次）/ a fresh login password, shown once",
    )
    reset.add_argument("user_id")
    reset.add_argument("--username", help="the name to log in with (default: kept, else user_id)")
    reset.set_defaults(func=_users(_reset_password))
    role = sub.add_parser(
        "set-role", help="变更用户角色与范围（令牌不变）/ change a user's role and scope"
    )
    role.add_argument("user_id")
    role.add_argument(
        "--role", required=True, choices=["secretary", "liaison", "supervisor", "admin"]
    )
    role.add_argument("--area", help="community (secretary) or street/district (supervisor) code")
    role.add_argument("--department", help="department code (liaison)")
    role.add_argument("--lang", choices=["zh", "en"], default=None, help="zh (default) or en")
    role.set_defaults(func=_users(_set_role))


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    uvicorn.run(
        "whistle.api.asgi:app",
        host=args.host or settings.http_host,
        port=args.port or settings.http_port,
        workers=args.workers,
        loop="uvloop" if sys.platform != "win32" else "asyncio",
        http="httptools",
        access_log=False,
        log_config=None,
        proxy_headers=True,
        timeout_keep_alive=75,
    )
    return 0


def _users(action: UsersAction) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        return asyncio.run(_with_users(action, args))

    return run


async def _with_users(action: UsersAction, args: argparse.Namespace) -> int:
    pool = await asyncpg.create_pool(get_settings().dsn, min_size=1, max_size=2)
    assert pool is not None
    try:
        async with pool.acquire() as conn:
            await migrate_api(conn)
        return await action(PgUsers(pool, cache_ttl_s=0), args)
    finally:
        await pool.close()


async def _use_configuration() -> None:
    """Check the new user's area and department against the configuration version in force
    now (a community published at run time), else against the packaged files."""
    from whistle.config.follower import ConfigFollower
    from whistle.config.seed import configured_seed
    from whistle.domain.areas import use_areas

    settings = get_settings()
    follower = ConfigFollower(settings, seed=configured_seed(settings))
    try:
        await asyncio.wait_for(follower.start(), timeout=CONFIG_WAIT_S)
        current = follower.current().document
        use_areas(current.areas, current.departments)
    except Exception as exc:  # a timeout among them
        print(
            f"whistle users add: no configuration versions ({str(exc)[:100] or 'timeout'}); "
            "checking against the packaged areas and departments",
            file=sys.stderr,
        )
    finally:
        await follower.stop()


async def _add(users: PgUsers, args: argparse.Namespace) -> int:
    await _use_configuration()
    try:
        token = await users.add(
            args.user_id,
            args.role,
            area=args.area,
            department=args.department,
            name=args.name,
        )
    except ValueError as exc:
        print(f"whistle users add: {exc}", file=sys.stderr)
        return 2
    print(f"user {args.user_id} ({args.role}) created; its token, shown only this once:")
    print(token)
    return 0


async def _list(users: PgUsers, args: argparse.Namespace) -> int:
    rows: list[Any] = await users.list()
    print(f"{'user_id':<20} {'role':<11} {'scope':<32} {'created':<20} status")
    for u in rows:
        scope = u.area or u.department or "*"
        status = f"revoked {u.revoked_at:%Y-%m-%d %H:%M}" if u.revoked_at else "active"
        print(
            f"{u.user_id:<20} {u.role:<11} {scope:<32} {u.created_at:%Y-%m-%d %H:%M}     {status}"
        )
    return 0


async def _revoke(users: PgUsers, args: argparse.Namespace) -> int:
    if not await users.revoke(args.user_id):
        print(f"whistle users revoke: no active user {args.user_id!r}", file=sys.stderr)
        return 1
    print(f"revoked {args.user_id}")
    return 0


async def _reset_password(users: PgUsers, args: argparse.Namespace) -> int:
    from whistle.audit.entries import cli_actor
    from whistle.web.accounts import PgAccounts

    accounts = PgAccounts(users.pool)
    if args.username:
        await accounts.set_username(args.user_id, args.username)
    reset = await accounts.reset_password(args.user_id, actor=cli_actor())
    if reset is None:
        print(f"whistle users reset-password: no active user {args.user_id!r}", file=sys.stderr)
        return 1
    username, password = reset
    print(f"{args.user_id} logs in as {username}; the password, shown only this once")
    print("(to be changed at the first login) / 密码仅显示这一次，首次登录后须修改：")
    print(password)
    return 0


async def _set_role(users: PgUsers, args: argparse.Namespace) -> int:
    en = (args.lang or ("en" if os.environ.get("WHISTLE_LANG") == "en" else "zh")) == "en"
    try:
        found = await users.set_role(
            args.user_id, args.role, area=args.area, department=args.department
        )
    except ValueError as exc:
        head = "whistle users set-role: " if en else "whistle users set-role：范围不符："
        print(f"{head}{exc}", file=sys.stderr)
        return 2
    if not found:
        print(
            f"whistle users set-role: no active user {args.user_id!r}"
            if en
            else f"whistle users set-role：没有有效用户 {args.user_id}",
            file=sys.stderr,
        )
        return 1
    scope = args.area or args.department or "*"
    print(
        f"{args.user_id} is now {args.role} ({scope}); the token is unchanged"
        if en
        else f"{args.user_id} 现为 {args.role}（{scope}），令牌不变"
    )
    return 0

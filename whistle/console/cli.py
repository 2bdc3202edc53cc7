"""`whistle inbox | show | ack | dispute | contact | joint | report-in | progress | complete |
extension | pause | resume | resolve | watch`: the liaison console; `whistle audit`, the admins'
audit log."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from whistle.console.auditview import audit_lines
from whistle.console.board import render
from whistle.console.caseview import case_lines
from whistle.console.client import Api, ApiError, default_api_url
from whistle.console.steps import STEPS, dump, report
from whistle.console.text import STATUSES, local_time, name_of, pad, parse_time, pick, say

Handler = Callable[[Api, argparse.Namespace], int]
REASONS = ("wrong_function", "wrong_place", "unclear_ownership", "other")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--token", help="API token (default: $WHISTLE_TOKEN)")
    parser.add_argument("--api", help="API base URL (default: $WHISTLE_API_URL or local)")
    parser.add_argument("--lang", choices=["zh", "en"], default=None, help="zh (default) or en")
    parser.add_argument("--json", action="store_true", help="print the API's JSON answer")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the liaison's commands and ``watch`` to the ``whistle`` parser."""
    specs: list[tuple[str, str, Handler]] = [
        ("inbox", "待办案件 / the department's open cases", _inbox),
        ("show", "案件详情 / one case", _show),
        ("ack", "签收 / acknowledge a case", _ack),
        ("dispute", "退单 / dispute a routing", _dispute),
        ("progress", "报告进展 / report progress", _progress),
        ("complete", "报告本部门完成 / report the department's part complete", _complete),
        ("watch", "超时督办看板（终端）/ live breach board", _watch),
    ]
    for name, help_text, handler in specs:
        p = subparsers.add_parser(name, help=help_text)
        _common(p)
        if name not in {"inbox", "watch"}:
            p.add_argument("case_id")
        if name == "inbox":
            p.add_argument("--limit", type=int, default=50)
        if name == "dispute":
            p.add_argument("--reason", choices=REASONS, default="wrong_function")
            p.add_argument("--text", required=True, help="why this is not your department's")
        if name == "progress":
            p.add_argument("--note", required=True)
            p.add_argument("--action", help="the joint action it is about (ja-1…)")
        if name == "complete":
            p.add_argument("--summary", required=True)
        if name == "watch":
            p.add_argument("--once", action="store_true", help="print the board once and exit")
            p.add_argument("--no-color", action="store_true")
        p.set_defaults(func=_runner(handler))
    audit = subparsers.add_parser("audit", help="管理操作审计日志（管理员）/ audit log (admins)")
    _common(audit)
    audit.add_argument("--kind", help="user | webhook | config, or a kind such as user.revoked")
    audit.add_argument("--actor", help="who made the change (user id, cli:<login>, system:…)")
    audit.add_argument("--subject", help="what changed: a user id, 'webhook 3', 'config v2'")
    audit.add_argument("--since", help="from this time (2026-12-01T00:00, China time)")
    audit.add_argument("--until", help="before this time")
    audit.add_argument("--before", type=int, help="entries older than this entry id (paging)")
    audit.add_argument("--limit", type=int, default=50)
    audit.set_defaults(func=_runner(_audit))
    for name, help_text, handler, arguments in STEPS:
        p = subparsers.add_parser(name, help=help_text)
        _common(p)
        p.add_argument("case_id")
        arguments(p)
        p.set_defaults(func=_runner(handler))


def _lang(args: argparse.Namespace) -> str:
    return args.lang or ("en" if os.environ.get("WHISTLE_LANG") == "en" else "zh")


def _runner(handler: Handler) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        lang = _lang(args)
        args.lang = lang
        token = args.token or os.environ.get("WHISTLE_TOKEN")
        if not token:
            print(f"{say('error', lang)}: {say('no_token', lang)}", file=sys.stderr)
            return 3
        api = Api(args.api or default_api_url(), token, lang)
        try:
            return handler(api, args)
        except ApiError as err:
            detail = say("unreachable", lang) + " " + err.detail if err.status == 0 else err.detail
            text = f"{err.title}: {detail}" if detail and err.status else detail or err.title
            code = f" [{err.code}]" if err.code else ""
            print(f"{say('error', lang)}: {text}{code}".replace("\n", " "), file=sys.stderr)
            return err.exit_code
        finally:
            api.close()

    return run


def _names(api: Api) -> dict[str, Any]:
    try:
        names: dict[str, Any] = api.call("GET", "/v1/names")
    except ApiError:
        return {}
    return names


def _inbox(api: Api, args: argparse.Namespace) -> int:
    page = api.call("GET", "/v1/inbox", params={"limit": args.limit})
    if args.json:
        dump(page)
        return 0
    names = _names(api)
    items = page.get("items", [])
    if not items:
        print(say("inbox_empty", args.lang))
        return 0
    for c in items:
        print(
            "  ".join(
                [
                    pad(c["case_id"], 24),
                    pad(pick(STATUSES, c.get("status"), args.lang), 10),
                    pad(local_time(c.get("raised_at")), 11),
                    pad(name_of(names, "areas", c.get("community"), args.lang), 14),
                    str(c.get("title") or ""),
                ]
            ).rstrip()
        )
    return 0


def _show(api: Api, args: argparse.Namespace) -> int:
    case = api.call("GET", f"/v1/cases/{args.case_id}")
    if args.json:
        dump(case)
        return 0
    print("\n".join(case_lines(case, _names(api), args.lang)))
    return 0


def _ack(api: Api, args: argparse.Namespace) -> int:
    return report(api, args, "/acknowledge", {}, "ack_done")


def _dispute(api: Api, args: argparse.Namespace) -> int:
    body = {"reason": args.reason, "text": args.text}
    return report(api, args, "/dispute", body, "dispute_done")


def _progress(api: Api, args: argparse.Namespace) -> int:
    body = {"note": args.note} | ({"action_id": args.action} if args.action else {})
    return report(api, args, "/progress", body, "progress_done")


def _complete(api: Api, args: argparse.Namespace) -> int:
    return report(api, args, "/complete", {"summary": args.summary}, "complete_done")


def _audit(api: Api, args: argparse.Namespace) -> int:
    params: dict[str, Any] = {"limit": args.limit}
    for key in ("kind", "actor", "subject", "before"):
        if getattr(args, key) is not None:
            params[key] = getattr(args, key)
    for key in ("since", "until"):
        value = getattr(args, key)
        if value is not None:
            instant = parse_time(value)
            if instant is None:
                print(
                    f"{say('error', args.lang)}: {say('bad_time', args.lang, value=value)}",
                    file=sys.stderr,
                )
                return 2
            params[key] = instant.isoformat()
    page = api.call("GET", "/v1/audit", params=params)
    if args.json:
        dump(page)
        return 0
    print("\n".join(audit_lines(page, args.lang)))
    return 0


def _watch(api: Api, args: argparse.Namespace) -> int:
    names = api.call("GET", "/v1/names")
    color = not args.no_color and sys.stdout.isatty()
    while True:
        try:
            for event, data in api.stream("/v1/stream/breaches"):
                if event != "board":
                    continue
                lines = render(json.loads(data), names, args.lang, color)
                if color:
                    sys.stdout.write("\x1b[H\x1b[2J")
                sys.stdout.write("\n".join(lines) + "\n")
                sys.stdout.flush()
                if args.once:
                    return 0
        except ApiError as err:
            if err.status != 0:
                raise
        print(say("reconnecting", args.lang), file=sys.stderr)
        time.sleep(2)

"""The liaison's steps on a case beyond signing for it: contact, joint action (集结) and report
in (报到), extension (延期), pause and resume, resolve (办结); and how a step's answer prints."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from whistle.console.client import Api
from whistle.console.text import CHINA, parse_time, say

Handler = Callable[[Api, argparse.Namespace], int]
Arguments = Callable[[argparse.ArgumentParser], None]
Values = Callable[[list[dict[str, Any]]], dict[str, str]]
OUTCOMES = ("solved", "partially_solved", "explained", "not_solvable")
CHANNELS = ("phone", "visit", "sms", "app", "other")
CLOCK_KINDS = ("ack", "contact", "joint_action", "resolve")
INVALID = 5
"""Exit code of a rejected or invalid request (as ``client.EXIT_CODES`` for 409/422)."""


def dump(data: Any) -> None:
    """Print the API's JSON answer."""
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def report(
    api: Api,
    args: argparse.Namespace,
    suffix: str,
    body: dict[str, Any],
    done: str,
    values: Values | None = None,
) -> int:
    """POST a command to the case and print the outcome (see ``answer``)."""
    return answer(args, api.command(args.case_id, suffix, body), done, values)


def answer(
    args: argparse.Namespace, result: dict[str, Any], done: str, values: Values | None = None
) -> int:
    """Print ``done`` (with the case and ``values(events)``), the JSON, or "pending" (exit 6)."""
    if args.json:
        dump(result)
        return 0
    status = result.get("status", "accepted")
    if status == "pending":
        print(say("pending", args.lang))
        return 6
    extra = values(result.get("events") or []) if values else {}
    message = say(done, args.lang, case=args.case_id, **extra)
    print(message if status == "accepted" else f"{message}（{say('duplicate', args.lang)}）")
    return 0


def invalid(args: argparse.Namespace, key: str, **values: object) -> int:
    """Print a one-line error in the user's language; the exit code of an invalid request."""
    print(f"{say('error', args.lang)}: {say(key, args.lang, **values)}", file=sys.stderr)
    return INVALID


def _action_of(events: list[dict[str, Any]]) -> dict[str, str]:
    """The joint action id of a step's event ('' for a duplicate, which has none)."""
    return {"action": next((str(e["action_id"]) for e in events if e.get("action_id")), "")}


def _resolve(api: Api, args: argparse.Namespace) -> int:
    body = {"outcome": args.outcome, "summary": args.summary}
    return report(api, args, "/resolve", body, "resolve_done")


def _contact(api: Api, args: argparse.Namespace) -> int:
    body = {"channel": args.channel, "note": args.note}
    return report(api, args, "/contact", body, "contact_done")


def _joint(api: Api, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"place": args.place, "note": args.note}
    at = parse_time(args.at) if args.at else None
    if args.at and at is None:
        return invalid(args, "bad_time", value=args.at)
    if args.departments:
        body["departments"] = [d.strip() for d in args.departments.split(",") if d.strip()]
    else:  # every department on the case
        body["departments"] = api.call("GET", f"/v1/cases/{args.case_id}").get("departments", [])
    body["at"] = (at or datetime.now(CHINA)).isoformat()
    return report(api, args, "/joint-action", body, "joint_done", _action_of)


def _report_in(api: Api, args: argparse.Namespace) -> int:
    body = {"action_id": args.action} if args.action else {}
    result = api.command(args.case_id, "/report-in", body)
    assembled = any(e.get("assembled") for e in result.get("events") or [])
    return answer(args, result, "assembled_done" if assembled else "report_in_done", _action_of)


def _extension(api: Api, args: argparse.Namespace) -> int:
    until = parse_time(args.until)
    if until is None:
        return invalid(args, "bad_time", value=args.until)
    body = {"clock": args.clock, "until": until.isoformat(), "reason": args.reason}
    return report(api, args, "/extension", body, "extension_done")


def _pause(api: Api, args: argparse.Namespace) -> int:
    body = {"clock_keys": args.clock or [], "reason": args.reason}
    return report(api, args, "/pause", body, "pause_done")


def _resume(api: Api, args: argparse.Namespace) -> int:
    body = {"clock_keys": args.clock or [], "note": args.note}
    return report(api, args, "/resume", body, "resume_done")


def _resolve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--outcome", choices=OUTCOMES, default="solved")
    p.add_argument("--summary", required=True, help="what was done (办结说明)")


def _contact_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--channel", choices=CHANNELS, default="phone")
    p.add_argument("--note", default="")


def _joint_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--place", required=True, help="where the departments assemble")
    p.add_argument("--at", help="when, e.g. 2026-12-05T09:00 (China time); default: now")
    p.add_argument("--departments", help="department codes, comma-separated; default: all")
    p.add_argument("--note", default="")


def _report_in_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--action", help="joint action id (ja-1…); default: the latest naming you")


def _extension_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--until", required=True, help="new due time, e.g. 2026-12-10T17:00")
    p.add_argument("--reason", required=True)
    p.add_argument("--clock", choices=CLOCK_KINDS, default="resolve")


def _clock_keys(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--clock", action="append", help="clock key, e.g. resolve:urban_management (repeatable)"
    )


def _pause_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reason", required=True, help="e.g. 等待群众补充材料")
    _clock_keys(p)


def _resume_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--note", default="")
    _clock_keys(p)


STEPS: list[tuple[str, str, Handler, Arguments]] = [
    ("contact", "联系群众 / record contact with the requester", _contact, _contact_args),
    ("joint", "安排集结 / schedule a joint action", _joint, _joint_args),
    ("report-in", "集结报到 / report in at a joint action", _report_in, _report_in_args),
    ("extension", "申请延期 / request an extension", _extension, _extension_args),
    ("pause", "暂停计时 / pause clocks (waiting for the requester)", _pause, _pause_args),
    ("resume", "恢复计时 / resume paused clocks", _resume, _resume_args),
    ("resolve", "办结 / resolve the case (lead department)", _resolve, _resolve_args),
]
"""Name, help, handler and arguments (besides the case id) of each step."""

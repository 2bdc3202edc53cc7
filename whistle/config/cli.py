"""`whistle config versions | export | import | diff | publish`: configuration from the console.

Through the HTTP API (a token of an admin or a district's config_admin), in Chinese unless
``--lang en`` or ``WHISTLE_LANG=en``/``LANG=en…``. A FILE is a kind's JSON document (as
``export`` writes it), or a file of the packaged formats: ``routing_rules.toml`` (kinds
routing and categories), ``sla_policies.toml``, ``areas.toml``, ``departments.toml``, or a
year's calendar notice ``cn-<year>.toml|json`` as ``whistle calendar import`` reads it (kind
calendars: the year is put in place of the same year in the version in force, or added).
Bad input: one line on stderr, exit non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from whistle.config.versions import KINDS, Kind
from whistle.console.client import Api, ApiError, default_api_url

Handler = Callable[[Api, argparse.Namespace], int]

WORDS: dict[str, tuple[str, str]] = {
    "error": ("错误", "error"),
    "no_token": (
        "请用 --token 或 WHISTLE_TOKEN 提供访问令牌",
        "give a token (--token or WHISTLE_TOKEN)",
    ),
    "unreachable": ("无法连接 API", "cannot reach the API"),
    "no_file": ("无法读取文件 {path}：{why}", "cannot read {path}: {why}"),
    "bad_file": (
        "文件 {path} 不是有效的 {kind} 配置：{why}",
        "{path} is no {kind} document: {why}",
    ),
    "bad_time": (
        "生效时间须为带时区的 ISO 8601 时间：{value}",
        "effective-from must be ISO 8601 with a zone: {value}",
    ),
    "header": (
        "版本  生效时间" + " " * 19 + "作者        变更        原因",
        "ver   effective from" + " " * 13 + "author      kinds       reason",
    ),
    "valid": ("检查通过（基于版本 {base}）", "valid (against version {base})"),
    "invalid": (
        "检查未通过（基于版本 {base}），共 {n} 处问题：",
        "not valid (against version {base}), {n} finding(s):",
    ),
    "outside": ("超出您所辖区县的范围：{what}", "outside your district: {what}"),
    "no_changes": ("与最新版本相比没有变化", "no change against the latest version"),
    "owner": (
        "派单变化 {category} @ {community}：{before} → {after}",
        "owner {category} @ {community}: {before} → {after}",
    ),
    "budget": (
        "时限变化 {policy}/{urgency}/{clock}：{before} → {after}",
        "budget {policy}/{urgency}/{clock}: {before} → {after}",
    ),
    "day": ("{what} {day}", "{what} {day}"),
    "holidays_added": ("新增节假日", "holiday added"),
    "holidays_removed": ("取消节假日", "holiday removed"),
    "workdays_added": ("新增调休上班日", "make-up workday added"),
    "workdays_removed": ("取消调休上班日", "make-up workday removed"),
    "published": (
        "已发布版本 {version}（{kinds}），{effective_from} 起生效",
        "published version {version} ({kinds}), in effect from {effective_from}",
    ),
    "written": ("已写入 {path}", "written to {path}"),
}


def say(key: str, lang: str, **values: object) -> str:
    """The sentence ``key`` in ``lang``."""
    zh, en = WORDS[key]
    return (en if lang == "en" else zh).format(**values)


class BadInput(Exception):
    """A file or argument that cannot be used (the message is ready to print)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``config`` and its subcommands to the ``whistle`` parser."""
    config = subparsers.add_parser("config", help="配置版本 / configuration versions")
    sub = config.add_subparsers(dest="config_command", required=True)

    def add(name: str, help_text: str, handler: Handler) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--token", help="API token (default: $WHISTLE_TOKEN)")
        p.add_argument("--api", help="API base URL (default: $WHISTLE_API_URL or local)")
        p.add_argument("--lang", choices=["zh", "en"], default=None, help="zh (default) or en")
        p.add_argument("--json", action="store_true", help="print the API's JSON answer")
        p.set_defaults(func=_runner(handler))
        return p

    versions = add("versions", "版本历史 / the versions", _versions)
    versions.add_argument("--kind", choices=KINDS, help="only the versions that changed it")
    export = add("export", "导出某类配置 / write one kind's document", _export)
    export.add_argument("kind", choices=KINDS)
    export.add_argument("--version", type=int, help="default: the version in force")
    export.add_argument("-o", "--output", type=Path, help="default: standard output")
    imp = add("import", "读入文件并检查 / convert a file and check it", _import)
    imp.add_argument("kind", choices=KINDS)
    imp.add_argument("file", type=Path)
    imp.add_argument("-o", "--output", type=Path, help="write the JSON document here")
    dif = add("diff", "预览变化 / dry run against the latest version", _diff)
    dif.add_argument("kind", choices=KINDS)
    dif.add_argument("file", type=Path)
    pub = add("publish", "发布新版本 / publish as the next version", _publish)
    pub.add_argument("kind", choices=KINDS)
    pub.add_argument("file", type=Path)
    pub.add_argument("--reason", required=True, help="why (kept in the history)")
    pub.add_argument("--effective-from", help="ISO 8601 with a zone; default: in 3 s")
    pub.add_argument("--expected-version", type=int, help="default: the latest version now")


def _lang(args: argparse.Namespace) -> str:
    if args.lang:
        return str(args.lang)
    env = os.environ.get("WHISTLE_LANG") or os.environ.get("LANG") or ""
    return "en" if env.startswith("en") else "zh"


def _runner(handler: Handler) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        lang = args.lang = _lang(args)
        token = args.token or os.environ.get("WHISTLE_TOKEN")
        if not token:
            print(f"{say('error', lang)}: {say('no_token', lang)}", file=sys.stderr)
            return 3
        api = Api(args.api or default_api_url(), token, lang)
        try:
            return handler(api, args)
        except BadInput as exc:
            print(f"{say('error', lang)}: {exc}".replace("\n", " "), file=sys.stderr)
            return 2
        except ApiError as err:
            detail = say("unreachable", lang) + " " + err.detail if err.status == 0 else err.detail
            text = f"{err.title}: {detail}" if detail and err.status else detail or err.title
            print(f"{say('error', lang)}: {text}".replace("\n", " "), file=sys.stderr)
            return err.exit_code
        finally:
            api.close()

    return run


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


# ---- reading files ------------------------------------------------------------------------
def read_document(kind: Kind, path: Path, api: Api, lang: str) -> Any:
    """The ``kind`` document in ``path`` (JSON document, packaged TOML, or calendar notice)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(say("no_file", lang, path=path, why=exc)) from None
    if kind == "calendars" and path.suffix == ".toml":
        return _with_year(api, _notice(path, lang))
    try:
        if path.suffix == ".toml":
            return _from_toml(kind, path)
        data = json.loads(text)
        if kind == "calendars" and isinstance(data, dict) and "year" in data:
            return _with_year(api, _notice(path, lang))  # one year's notice
        if isinstance(data, dict) and set(data) >= {"version", "kind", "document"}:
            return data["document"]  # a `show`/`export --json` answer
        return data
    except (ValueError, KeyError, TypeError, AssertionError) as exc:
        raise BadInput(say("bad_file", lang, path=path, kind=kind, why=exc)) from None


def _from_toml(kind: Kind, path: Path) -> Any:
    from whistle.config.versions import kind_document
    from whistle.domain.areas import load_areas, load_departments
    from whistle.domain.configuration import packaged_configuration
    from whistle.domain.routing import load_rules
    from whistle.domain.sla import load_policies

    tomllib.loads(path.read_text(encoding="utf-8"))  # a syntax error says so first
    config = packaged_configuration()
    if kind in ("routing", "categories"):
        config = config.model_copy(update={"routing": load_rules(path)})
    elif kind == "policies":
        config = config.model_copy(update={"policies": load_policies(path)})
    elif kind == "areas":
        config = config.model_copy(update={"areas": load_areas(path)})
    elif kind == "departments":
        config = config.model_copy(update={"departments": load_departments(path)})
    else:
        raise ValueError("a calendar is a cn-<year>.json notice, not TOML")
    return kind_document(config, kind)


def _notice(path: Path, lang: str) -> Any:
    """A year's notice (``whistle calendar import``'s TOML or JSON form), validated."""
    from whistle.domain.configuration import read_notice

    year, findings = read_notice(path)
    if findings or year is None:
        why = "; ".join(f.message(lang) for f in findings[:3])
        raise BadInput(say("bad_file", lang, path=path, kind="calendars", why=why))
    return year.model_dump(mode="json")


def _with_year(api: Api, year: dict[str, Any]) -> Any:
    """The calendars in force with ``year`` in place of (or added to) its own."""
    current = api.call("GET", "/v1/config/calendars/current")["document"]
    years = [y for y in current if y.get("year") != year["year"]] + [year]
    return sorted(years, key=lambda y: y["year"])


# ---- the subcommands ----------------------------------------------------------------------
def _versions(api: Api, args: argparse.Namespace) -> int:
    path = f"/v1/config/{args.kind}/versions" if args.kind else "/v1/config/versions"
    rows = api.call("GET", path)
    if args.json:
        _print_json(rows)
        return 0
    print(say("header", args.lang))
    for v in rows:
        kinds = ",".join(v["kinds"]) if len(v["kinds"]) < len(KINDS) else "*"
        print(
            f"{v['version']:<5} {v['effective_from'][:25]:<26} {v['author'][:10]:<11} "
            f"{kinds[:11]:<11} {v['reason']}"
        )
    return 0


def _export(api: Api, args: argparse.Namespace) -> int:
    path = f"/v1/config/{args.kind}/" + (f"versions/{args.version}" if args.version else "current")
    answer = api.call("GET", path)
    data = answer if args.json else answer["document"]
    return _write(data, args.output, args.lang)


def _write(data: Any, output: Path | None, lang: str) -> int:
    text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    if output is None:
        sys.stdout.write(text)
        return 0
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise BadInput(say("no_file", lang, path=output, why=exc)) from None
    print(say("written", lang, path=output), file=sys.stderr)
    return 0


def _check(api: Api, args: argparse.Namespace, what: str) -> tuple[Any, dict[str, Any]]:
    document = read_document(args.kind, args.file, api, args.lang)
    answer = api.call("POST", f"/v1/config/{args.kind}/{what}", json={"document": document})
    return document, answer


def _findings(answer: dict[str, Any], lang: str) -> bool:
    """Print the findings; whether the proposal is valid."""
    findings = answer["findings"]
    if answer["valid"]:
        print(say("valid", lang, base=answer["base_version"]))
        return True
    print(
        say(
            "invalid",
            lang,
            base=answer["base_version"],
            n=len(findings) + bool(answer["outside_scope"]),
        )
    )
    for finding in findings:
        print(f"  - {finding['message']}")
    if answer["outside_scope"]:
        print("  - " + say("outside", lang, what=", ".join(answer["outside_scope"])))
    return False


def _import(api: Api, args: argparse.Namespace) -> int:
    document, answer = _check(api, args, "validate")
    if args.json:
        _print_json(answer)
    valid = _findings(answer, args.lang) if not args.json else answer["valid"]
    if args.output is not None:
        _write(document, args.output, args.lang)
    return 0 if valid else 5


def _diff(api: Api, args: argparse.Namespace) -> int:
    _, answer = _check(api, args, "diff")
    if args.json:
        _print_json(answer)
        return 0 if answer["valid"] else 5
    valid = _findings(answer, args.lang)
    for line in diff_lines(answer["changes"], args.lang):
        print(line)
    return 0 if valid else 5


def diff_lines(changes: dict[str, Any], lang: str) -> list[str]:
    """The dry run's changes, one line each."""
    lines = []
    for c in changes["owner_changes"]:
        before, after = (_owners(c[side]) for side in ("before", "after"))
        lines.append(
            say(
                "owner",
                lang,
                category=c["category"],
                community=c["community"],
                before=before,
                after=after,
            )
        )
    for b in changes["budget_changes"]:
        lines.append(
            say(
                "budget",
                lang,
                policy=b["policy"],
                urgency=b["urgency"],
                clock=b["clock"],
                before=b["before"] or "–",
                after=b["after"] or "–",
            )
        )
    for key in ("holidays_added", "holidays_removed", "workdays_added", "workdays_removed"):
        for day in changes[key]:
            lines.append(say("day", lang, what=say(key, lang), day=day))
    return lines or [say("no_changes", lang)]


def _owners(rule: dict[str, Any]) -> str:
    supporting = "+".join(rule.get("supporting") or ())
    return f"{rule['lead']}{'+' + supporting if supporting else ''} ({rule['policy']})"


def _publish(api: Api, args: argparse.Namespace) -> int:
    document = read_document(args.kind, args.file, api, args.lang)
    expected = args.expected_version
    if expected is None:
        expected = api.call("GET", "/v1/config/versions")[0]["version"]
    body: dict[str, Any] = {
        "document": document,
        "reason": args.reason,
        "expected_version": expected,
    }
    if args.effective_from:
        from datetime import datetime

        try:
            at = datetime.fromisoformat(args.effective_from)
        except ValueError:
            at = None
        if at is None or at.tzinfo is None:
            raise BadInput(say("bad_time", args.lang, value=args.effective_from))
        body["effective_from"] = at.isoformat()
    answer = api.call("POST", f"/v1/config/{args.kind}/publish", json=body)
    if args.json:
        _print_json(answer)
        return 0
    print(
        say(
            "published",
            args.lang,
            version=answer["version"],
            kinds=",".join(answer["kinds"]),
            effective_from=answer["effective_from"],
        )
    )
    return 0

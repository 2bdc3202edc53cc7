"""``whistle whatif``: replay a range of the log under a proposed configuration, from the console.

Reads the event log and the configuration topic directly (``WHISTLE_KAFKA_BOOTSTRAP``): the
replay is the heavy part and runs here, in one process per core, not in the API.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from whistle.settings import get_settings
from whistle.whatif.group import MixedRun
from whistle.whatif.proposal import KINDS, BadProposal, resolve
from whistle.whatif.run import ORIGINALS, NoReadModels

WORDS: dict[str, tuple[str, str]] = {
    "error": ("错误", "error"),
    "bad_time": (
        "时间须为带时区的 ISO 8601：{value}",
        "times must be ISO 8601 with a zone: {value}",
    ),
    "bad_range": ("起始时间须早于结束时间", "--since must be before --until"),
    "bad_file": ("无法读取 {path}：{why}", "cannot read {path}: {why}"),
    "no_kind": (
        "{path} 未注明配置种类，请用 --kind 指定",
        "{path} names no kind: give --kind",
    ),
    "bad_document": ("{kind} 配置无效：{why}", "the {kind} document is not valid: {why}"),
    "no_version": ("没有版本 {version}（最新为 {last}）", "no version {version} (latest: {last})"),
    "unreachable": ("无法连接 Kafka：{why}", "cannot reach Kafka: {why}"),
    "no_read_models": (
        "读模型给不出原始一侧（数据库不可达，或 {topic} 有分区没有检查点）：可改用 --original log",
        "the read models cannot give the original side (database unreachable, or a partition "
        "of {topic} has no checkpoint): use --original log",
    ),
    "mixed_run": (
        "假设分析 {run} 的成员启动时 --original 不一致，结果无法合并：请换一个 RUN，"
        "各成员用同一个 --original 重新运行",
        "the members of what-if run {run} were started with different --original, so their "
        "parts cannot be added up: run it again under a new RUN, every member with the same "
        "--original",
    ),
    "title": (
        "假设分析：{since} 至 {until} 立案的 {cases} 件（{events} 条事件），建议版本 {version}",
        "what-if: {cases} cases raised {since} to {until} ({events} events), proposed version "
        "{version}",
    ),
    "head": (
        "{name:<12}{original:>12}{proposed:>12}{delta:>10}",
        "{name:<16}{original:>12}{proposed:>12}{delta:>10}",
    ),
    "original": ("实际", "as logged"),
    "proposed": ("建议", "proposed"),
    "delta": ("变化", "change"),
    "response_rate": ("响应率", "response rate"),
    "resolution_rate": ("解决率", "resolution rate"),
    "satisfaction_rate": ("满意率", "satisfaction"),
    "score": ("综合得分", "score"),
    "breaches": ("超时", "breaches"),
    "escalations": ("督办升级", "escalations"),
    "dispatched": ("派单", "assignments"),
    "departments": ("按部门：", "by department:"),
    "moved": ("改派案件 {n} 件", "{n} case(s) change departments"),
    "rerouted": (
        "新接部门（原未见此案，无可复用的人工步骤）：{items}",
        "rerouted to departments that never saw the case (no human step to replay): {items}",
    ),
    "clocks": ("时限结果不同的时钟 {n} 个：{items}", "{n} clock(s) end differently: {items}"),
    "refused": ("未能沿用的人工操作 {n} 次", "{n} human command(s) could not carry over"),
    "written": ("报告已写入 {path}", "report written to {path}"),
    "progress": ("重放", "replay"),
}


def say(key: str, lang: str, **values: object) -> str:
    """The sentence ``key`` in ``lang``."""
    zh, en = WORDS[key]
    return (en if lang == "en" else zh).format(**values)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``whatif`` to the ``whistle`` parser."""
    p = subparsers.add_parser("whatif", help="假设分析 / replay the past under a proposed config")
    p.add_argument(
        "--proposed",
        action="append",
        required=True,
        metavar="VERSION|FILE",
        help="a stored version number, or a file of `whistle config export KIND --json` "
        "(repeat for several kinds)",
    )
    p.add_argument("--kind", choices=KINDS, help="the kind of a bare document file")
    p.add_argument("--base", type=int, help="the version FILEs change (default: the latest)")
    p.add_argument("--since", required=True, help="ISO 8601 with a zone (cases raised from)")
    p.add_argument("--until", required=True, help="ISO 8601 with a zone (raised before)")
    p.add_argument("--horizon", help="clocks run until (default: now)")
    p.add_argument("--processes", type=int, help="replay processes (default: one per core)")
    p.add_argument(
        "--group",
        metavar="RUN",
        help="join what-if run RUN as a consumer-group member (start one per machine with the "
        "same RUN; each prints the whole run's answer)",
    )
    p.add_argument(
        "--original",
        choices=ORIGINALS,
        default="auto",
        help="the log as it happened from the live read models (fast: only the cases the "
        "proposal decides differently are replayed), from the log projected again, or auto: "
        "the read models when they cover every partition",
    )
    p.add_argument("--lang", choices=["zh", "en"], default=None, help="zh (default) or en")
    p.add_argument("--json", action="store_true", help="print the whole answer as JSON")
    p.add_argument("--html", type=Path, help="write the HTML report here")
    p.set_defaults(func=main)


def _lang(args: argparse.Namespace) -> str:
    if args.lang:
        return str(args.lang)
    env = os.environ.get("WHISTLE_LANG") or os.environ.get("LANG") or ""
    return "en" if env.startswith("en") else "zh"


class BadInput(Exception):
    """An argument that cannot be used (the message is ready to print)."""


def _time(value: str, lang: str) -> datetime:
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput(say("bad_time", lang, value=value)) from None
    if at.tzinfo is None:
        raise BadInput(say("bad_time", lang, value=value))
    return at


class Bar:
    """A progress bar on standard error: records read of both passes."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.done, self.label = max(1, total), 0, label
        self.shown = 0.0

    def __call__(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.shown > 0.2 or self.done >= self.total:
            self.shown = now
            share = min(1.0, self.done / self.total)
            filled = int(share * 30)
            sys.stderr.write(
                f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {share:6.1%}"
                f" {self.done:,}/{self.total:,}"
            )
            sys.stderr.flush()

    def end(self) -> None:
        sys.stderr.write("\n")


def main(args: argparse.Namespace) -> int:
    """Run the what-if; print the summary (or the JSON); exit 2 on bad input, 4 if Kafka is
    unreachable."""
    from whistle.logs import configure_logging

    lang = _lang(args)
    configure_logging(level="WARNING")  # the answer on standard output, logs on standard error
    try:
        return _run(args, lang)
    except BadInput as exc:
        print(f"{say('error', lang)}: {exc}".replace("\n", " "), file=sys.stderr)
        return 2
    except NoReadModels as exc:
        print(f"{say('error', lang)}: {say('no_read_models', lang, topic=exc)}", file=sys.stderr)
        return 2
    except MixedRun as exc:
        print(f"{say('error', lang)}: {say('mixed_run', lang, run=exc)}", file=sys.stderr)
        return 2
    except BadProposal as exc:
        print(f"{say('error', lang)}: {say(exc.key, lang, **exc.values)}", file=sys.stderr)
        return 2
    except (OSError, ConnectionError) as exc:  # aiokafka's KafkaConnectionError is one
        why = str(exc).replace("\n", " ")[:200]
        print(f"{say('error', lang)}: {say('unreachable', lang, why=why)}", file=sys.stderr)
        return 4


def _run(args: argparse.Namespace, lang: str) -> int:
    from aiokafka.errors import KafkaConnectionError

    from whistle.whatif.run import may_mirror, read_history, run_whatif
    from whistle.whatif.source import total_records

    since, until = _time(args.since, lang), _time(args.until, lang)
    if since >= until:
        raise BadInput(say("bad_range", lang))
    horizon = _time(args.horizon, lang) if args.horizon else datetime.now(UTC)
    settings = get_settings()
    try:
        history = asyncio.run(read_history(settings))
        version = resolve(history, args.proposed, args.kind, args.base, since)
        if args.group:
            from whistle.whatif.group import run_member

            mirror = may_mirror(history, version, since, horizon)
            result = asyncio.run(
                run_member(settings, version, since, until, horizon, args.group, mirror=mirror,
                           original=args.original)
            )  # fmt: skip
            bar = None
        else:
            bar = Bar(asyncio.run(total_records(settings, since)), say("progress", lang))
            result = run_whatif(
                settings, version, since, until, horizon, args.processes, bar, history,
                args.original,
            )  # fmt: skip
    except KafkaConnectionError as exc:
        raise ConnectionError(str(exc)) from None
    if bar is not None:
        bar.end()
    if args.html is not None:
        from whistle.whatif.report import html_report, names

        known = names(version.document, lang)
        args.html.write_text(html_report(result, lang, known), encoding="utf-8")
        print(say("written", lang, path=args.html), file=sys.stderr)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print("\n".join(summary(result, lang)))
    return 0


def _show(value: Any, name: str) -> str:
    if value is None:
        return "—"
    if name.endswith("_rate"):
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _delta(before: Any, after: Any, name: str) -> str:
    if before is None or after is None:
        return ""
    change = after - before
    if name.endswith("_rate"):
        return f"{change * 100:+.1f}pt"
    return f"{change:+.1f}" if isinstance(change, float) else f"{change:+d}"


def summary(result: dict[str, Any], lang: str) -> list[str]:
    """The summary table: the overall figures side by side, then what moved."""
    lines = [
        say(
            "title",
            lang,
            since=result["since"],
            until=result["until"],
            cases=result["cases"],
            events=result["events"],
            version=result["proposed_version"]["version"],
        ),
        say(
            "head",
            lang,
            name="",
            original=say("original", lang),
            proposed=say("proposed", lang),
            delta=say("delta", lang),
        ),
    ]
    before = result["overall"]["original"] or {}
    after = result["overall"]["proposed"] or {}
    for name in (
        "response_rate",
        "resolution_rate",
        "satisfaction_rate",
        "score",
        "dispatched",
        "breaches",
        "escalations",
    ):
        b, a = before.get(name), after.get(name)
        lines.append(
            say(
                "head",
                lang,
                name=say(name, lang),
                original=_show(b, name),
                proposed=_show(a, name),
                delta=_delta(b, a, name),
            )
        )
    changed = [
        row for row in result["by"]["department"] if _key(row["original"]) != _key(row["proposed"])
    ]
    if changed:
        lines.append(say("departments", lang))
        for row in changed:
            b, a = row["original"] or {}, row["proposed"] or {}
            lines.append(
                f"  {row['group']:<20} {say('response_rate', lang)} "
                f"{_show(b.get('response_rate'), 'response_rate')} → "
                f"{_show(a.get('response_rate'), 'response_rate')}  "
                f"{say('breaches', lang)} {b.get('breaches', 0)} → {a.get('breaches', 0)}  "
                f"{say('dispatched', lang)} {b.get('dispatched', 0)} → {a.get('dispatched', 0)}"
            )
    lines.append(say("moved", lang, n=result["moved"]["count"]))
    rerouted: dict[str, int] = {}
    for item in result["rerouted"]:
        rerouted[item["department"]] = rerouted.get(item["department"], 0) + item["assignments"]
    if rerouted:
        items = ", ".join(f"{d} +{n}" for d, n in sorted(rerouted.items()))
        lines.append(say("rerouted", lang, items=items))
    changes = result["clocks"]["changes"]
    if changes:
        n = sum(c["clocks"] for c in changes)
        items = ", ".join(
            f"{c['department']} {c['original']}→{c['proposed']} ×{c['clocks']}" for c in changes
        )
        lines.append(say("clocks", lang, n=n, items=items))
    refused = sum(r["count"] for r in result["refused"])
    if refused:
        lines.append(say("refused", lang, n=refused))
    return lines


def _key(row: dict[str, Any] | None) -> tuple[Any, ...]:
    row = row or {}
    return (row.get("response_rate"), row.get("breaches"), row.get("dispatched"))

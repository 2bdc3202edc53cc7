"""The what-if as one self-contained HTML file a supervisor can forward, its charts inline SVG.

Inline SVG rather than a charting library: the file stays a few tens of KiB instead of
carrying a megabyte of JavaScript, and it shows its charts where mail clients and intranet
viewers block scripts (the usual way such a report is forwarded).
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from whistle.domain.configuration import Configuration

WORDS: dict[str, tuple[str, str]] = {
    "title": ("假设分析报告", "What-if report"),
    "range": (
        "立案时间 {since} 至 {until}，共 {cases} 件",
        "cases raised {since} to {until}: {cases}",
    ),
    "version": (
        "建议版本 {version}（变更：{kinds}）",
        "proposed version {version} (changes: {kinds})",
    ),
    "from_read-models": (
        "实际一侧取自实时读模型，仅重放建议下处理不同的 {replayed} 件",
        "the logged side is the live read models'; only the {replayed} case(s) the proposal "
        "decides differently were replayed",
    ),
    "from_log": ("实际一侧由事件日志重新投影", "the logged side was projected again from the log"),
    "original": ("实际", "as logged"),
    "proposed": ("建议", "proposed"),
    "rates": ("三率与综合得分", "The three rates and the score"),
    "departments": ("各部门超时与派单", "Breaches and assignments by department"),
    "weekly": ("各部门每周派单量", "Weekly load by department"),
    "moved": ("改派案件（{n} 件）", "Cases that change departments ({n})"),
    "clocks": ("结果不同的时钟", "Clocks that end differently"),
    "rerouted": (
        "新接部门（原未见此案，不沿用原部门的人工步骤）",
        "Rerouted to departments that never saw the case (no human step carried over)",
    ),
    "department": ("部门", "department"),
    "week": ("周", "week"),
    "case": ("案件", "case"),
    "lead": ("主办", "lead"),
    "supporting": ("协办", "supporting"),
    "rule": ("规则", "rule"),
    "clock": ("时钟", "clock"),
    "count": ("数量", "count"),
    "breaches": ("超时", "breaches"),
    "dispatched": ("派单", "assignments"),
    "response_rate": ("响应率", "response"),
    "resolution_rate": ("解决率", "resolution"),
    "satisfaction_rate": ("满意率", "satisfaction"),
    "score": ("综合得分", "score"),
    "met": ("按时", "met"),
    "breached": ("超时", "breached"),
    "running": ("计时中", "running"),
    "paused": ("暂停", "paused"),
    "released": ("已释放", "released"),
    "stopped": ("已停止", "stopped"),
    "absent": ("无此时钟", "absent"),
}
CHINA = ZoneInfo("Asia/Shanghai")
COLOURS = ("#8c8c8c", "#d4380d")
STYLE = (
    "body{font-family:system-ui,'PingFang SC','Microsoft YaHei',sans-serif;margin:2em;"
    "color:#222}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;"
    "padding:2px 8px;text-align:right}th{background:#f4f4f4}td:first-child{text-align:left}"
    ".legend span{display:inline-block;width:1em;height:1em;margin:0 .3em 0 1em;"
    "vertical-align:middle}"
)


def _say(key: str, lang: str, **values: object) -> str:
    zh, en = WORDS[key]
    return escape((en if lang == "en" else zh).format(**values))


def _bars(labels: list[str], pairs: list[tuple[float, float]], unit: str = "") -> str:
    """A grouped bar chart (original grey, proposed red), one pair of bars per label."""
    if not labels:
        return ""
    top = max([max(a, b) for a, b in pairs] + [1e-9])
    width, bar, gap, height = 60 + len(labels) * 70, 24, 22, 180
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 60}">']
    for i, (label, (a, b)) in enumerate(zip(labels, pairs, strict=True)):
        x = 40 + i * (2 * bar + gap)
        for j, value in enumerate((a, b)):
            h = value / top * height
            y = 10 + height - h
            parts.append(
                f'<rect x="{x + j * bar}" y="{y:.1f}" width="{bar - 2}" height="{h:.1f}" '
                f'fill="{COLOURS[j]}"><title>{escape(label)}: {value:g}{unit}</title></rect>'
            )
            parts.append(
                f'<text x="{x + j * bar + bar / 2 - 1}" y="{y - 2:.1f}" font-size="9" '
                f'text-anchor="middle">{value:g}</text>'
            )
        parts.append(
            f'<text x="{x + bar}" y="{height + 24}" font-size="10" text-anchor="middle">'
            f"{escape(label[:12])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def names(config: Configuration, lang: str) -> dict[str, str]:
    """Department and category code → its name in ``lang`` (categories have Chinese names
    only: their codes in English)."""
    found = {c: d.name_en if lang == "en" else d.name_zh for c, d in config.departments.items()}
    if lang != "en":
        found |= {code: c.name for code, c in config.routing.categories.items()}
    return found


def _china(instant: str) -> str:
    """An ISO instant as ``2026-12-03 00:00`` China time (the what-if's range is in days there)."""
    return datetime.fromisoformat(instant).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def _value(row: dict[str, Any] | None, name: str) -> float:
    value = (row or {}).get(name)
    return float(value) if value is not None else 0.0


def _arrow(entry: dict[str, Any], name: str, names: dict[str, str] | None = None) -> str:
    """``original → proposed`` of one figure (a rate in per cent, a list joined, a department
    by its name in ``names``)."""
    known = names or {}
    shown = []
    for side in ("original", "proposed"):
        value = (entry.get(side) or {}).get(name)
        if isinstance(value, list):
            value = "、".join(str(known.get(v, v)) for v in value)
        elif isinstance(value, str):
            value = known.get(value, value)
        elif name.endswith("_rate") and value is not None:
            value = f"{100 * value:.1f}%"
        elif isinstance(value, float):
            value = f"{value:g}"
        shown.append("—" if value is None else str(value))
    return " → ".join(shown)


def _table(head: list[str], rows: list[list[Any]]) -> str:
    cells = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape('' if v is None else str(v))}</td>" for v in row) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{cells}</tr>{body}</table>"


def _source(result: dict[str, Any], lang: str) -> str:
    """Where the logged side came from (``whistle.whatif.run``), as a sentence."""
    origin = result.get("original_from")
    if origin not in ("read-models", "log"):
        return ""
    replayed = result.get("replayed", result["cases"])
    return f'<p class="source">{_say("from_" + origin, lang, replayed=replayed)}</p>'


def html_report(
    result: dict[str, Any], lang: str = "zh", names: dict[str, str] | None = None
) -> str:
    """The report of a what-if answer (``whistle.whatif.answer``); departments by their names
    in ``names`` (code → name in ``lang``) where given, else by their codes."""
    known = names or {}

    def named(code: str) -> str:
        return known.get(code, code)

    def status(word: str) -> str:
        return _say(word, lang) if word in WORDS else word

    version = result["proposed_version"]
    legend = (
        f'<p class="legend"><span style="background:{COLOURS[0]}"></span>'
        f'{_say("original", lang)}<span style="background:{COLOURS[1]}"></span>'
        f"{_say('proposed', lang)}</p>"
    )
    before, after = result["overall"]["original"], result["overall"]["proposed"]
    rates = ("response_rate", "resolution_rate", "satisfaction_rate")
    rate_pairs = [(100 * _value(before, r), 100 * _value(after, r)) for r in rates]
    rate_pairs.append((_value(before, "score"), _value(after, "score")))
    departments = result["by"]["department"]
    weekly: dict[str, tuple[int, int]] = {}
    for item in result["weekly_load"]:
        a, b = weekly.get(item["department"], (0, 0))
        weekly[item["department"]] = (a + item["original"], b + item["proposed"])
    since, until, kinds = (
        _china(result["since"]),
        _china(result["until"]),
        ", ".join(version["kinds"]),
    )
    sections = [
        f"<h1>{_say('title', lang)}</h1>",
        "<p>" + _say("range", lang, since=since, until=until, cases=result["cases"]) + "</p>",
        "<p>" + _say("version", lang, version=version["version"], kinds=kinds) + "</p>",
        _source(result, lang),
        legend,
        f"<h2>{_say('rates', lang)}</h2>",
        _bars([WORDS[r][lang == "en"] for r in (*rates, "score")], rate_pairs),
        f"<h2>{_say('departments', lang)}</h2>",
        _bars(
            [named(d["group"]) for d in departments],
            [
                (_value(d["original"], "breaches"), _value(d["proposed"], "breaches"))
                for d in departments
            ],
        ),
        _table(
            [
                _say("department", lang),
                *(f"{_say(n, lang)}" for n in ("dispatched", "breaches", "response_rate")),
            ]
            * 1,
            [
                [
                    named(d["group"]),
                    _arrow(d, "dispatched"),
                    _arrow(d, "breaches"),
                    _arrow(d, "response_rate"),
                ]
                for d in departments
            ],
        ),
        f"<h2>{_say('weekly', lang)}</h2>",
        _bars([named(d) for d in weekly], [(float(a), float(b)) for a, b in weekly.values()]),
        _table(
            [
                _say("department", lang),
                _say("week", lang),
                _say("original", lang),
                _say("proposed", lang),
            ],
            [
                [named(w["department"]), w["week"], w["original"], w["proposed"]]
                for w in result["weekly_load"]
            ],
        ),
        f"<h2>{_say('moved', lang, n=result['moved']['count'])}</h2>",
        _table(
            [_say("case", lang), _say("lead", lang), _say("supporting", lang), _say("rule", lang)],
            [
                [
                    m["case_id"],
                    _arrow(m, "lead", known),
                    _arrow(m, "supporting", known),
                    _arrow(m, "rule_id"),
                ]
                for m in result["moved"]["examples"]
            ],
        ),
        f"<h2>{_say('rerouted', lang)}</h2>",
        _table(
            [_say("department", lang), _say("week", lang), _say("count", lang)],
            [[named(r["department"]), r["week"], r["assignments"]] for r in result["rerouted"]],
        ),
        f"<h2>{_say('clocks', lang)}</h2>",
        _table(
            [
                _say("department", lang),
                _say("original", lang),
                _say("proposed", lang),
                _say("count", lang),
            ],
            [
                [named(c["department"]), status(c["original"]), status(c["proposed"]), c["clocks"]]
                for c in result["clocks"]["changes"]
            ],
        ),
    ]
    body = "\n".join(sections)
    return (
        f'<!DOCTYPE html><html lang="{"en" if lang == "en" else "zh-CN"}"><head>'
        f'<meta charset="utf-8"><title>{_say("title", lang)}</title><style>{STYLE}</style>'
        f"</head><body>{body}</body></html>\n"
    )

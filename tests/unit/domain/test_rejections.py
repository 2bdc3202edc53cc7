"""The rejection catalogue: every code raised anywhere has Chinese and English text, the
params each call passes are exactly its placeholders, and no English sentence leaks into zh."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from whistle.domain.rejections import MESSAGES, MISSING, render

ROOT = Path(__file__).resolve().parents[3] / "whistle"

ASCII_SENTENCE = re.compile(r"[A-Za-z]+(?:[,;:]?\s+[A-Za-z]+){2,}")
"""Three or more ASCII words in a row: an English sentence (identifiers have no spaces)."""
CJK = re.compile(r"[\u4e00-\u9fff]")

SAMPLES = {
    "case_id": "WH-20261120-ABCDEFGHJK",
    "state_case_id": "WH-20261120-KJHGFEDCBA",
    "original": "WH-20261120-ZZZZZZZZZZ",
    "command": "ResolveCase",
    "role": "supervisor",
    "allowed": "admin, secretary, system",
    "department": "urban_management",
    "own_department": "transport",
    "departments": "transport, urban_management",
    "routed": "urban_management, civil_affairs",
    "area": "tongan.datong.jinhai",
    "grid": "tongan.datong.jinhai.g01",
    "own_area": "tongan.xiangping",
    "status": "in_progress",
    "clock": "ack:transport~1",
    "due_at": "2026-11-20T09:00:00+00:00",
    "at": "2026-11-20T10:30:00+00:00",
    "action_id": "ja-1",
    "stage": "progress",
    "limit": "9",
    "attached": "9",
}
"""A realistic value for every param name a template uses."""

RAISERS = {"reject": 0, "rejection": 1, "rejection_error": 1}
"""Functions that raise a rejection → the position of the code among their arguments."""


def placeholders(template: str) -> set[str]:
    """The ``{name}`` fields of a template."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _codes(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _codes(node.body) + _codes(node.orelse)
    raise AssertionError(f"line {node.lineno}: a rejection code must be a literal")


def raised() -> list[tuple[str, str, frozenset[str]]]:
    """(where, code, keyword params) of every call that raises a rejection in ``whistle/``."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            position = RAISERS.get(name)
            if position is None or len(node.args) <= position:
                continue
            given = node.args[position + 1 : position + 2]
            if given and isinstance(given[0], ast.Dict):  # rejection_error(request, code, {…})
                keys = given[0].keys
                params = frozenset(k.value for k in keys if isinstance(k, ast.Constant))
            elif given or any(k.arg is None for k in node.keywords):  # a wrapper: passes on
                assert not isinstance(node.args[position], ast.Constant), f"{path}:{node.lineno}"
                continue
            else:
                params = frozenset(str(k.arg) for k in node.keywords)
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            found += [(where, code, params) for code in _codes(node.args[position])]
    return found


def test_every_code_raised_has_both_texts_with_exactly_the_params_passed() -> None:
    calls = raised()
    assert len({code for _, code, _ in calls}) > 40
    for where, code, params in calls:
        assert code in MESSAGES, f"{where}: {code} is not in the catalogue"
        zh, en = MESSAGES[code]
        assert placeholders(zh) == params == placeholders(en), (where, code, params)


def test_every_code_in_the_catalogue_is_raised_somewhere() -> None:
    assert set(MESSAGES) == {code for _, code, _ in raised()}


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_chinese_text_and_no_english_sentence(code: str) -> None:
    params = {name: SAMPLES[name] for name in placeholders(MESSAGES[code][0])}
    zh = render(code, params, "zh")
    assert zh is not None and CJK.search(zh), zh
    assert not ASCII_SENTENCE.search(zh), zh
    assert MISSING not in zh and "{" not in zh
    en = render(code, params, "en")
    assert en is not None and ASCII_SENTENCE.search(en) and "{" not in en, en


def test_values_are_named_in_the_readers_language() -> None:
    params = {"departments": "transport, urban_management", "routed": "civil_affairs"}
    assert render("not_routed_to_department", params, "zh") == (
        "该案件未派给交通运输局、城市管理局（城管）；已派给：民政局。"
    )
    assert render("not_routed_to_department", params, "en") == (
        "The case is not routed to Transport Bureau, Urban Management Bureau; "
        "routed to: Civil Affairs Bureau."
    )
    assert render("clock_met", {"clock": "ack:transport~2"}, "zh") == "交通运输局签收时限已达成。"
    assert render("clock_met", {"clock": "odd"}, "en") == "odd is already met."
    due = {"due_at": "2026-11-20T09:00:00+00:00"}
    assert "2026-11-20 17:00" in (render("extension_not_later", due, "zh") or "")
    assert (
        render("case_finished", {"status": "withdrawn"}, "zh") == "案件状态为“已撤回”，不能再操作。"
    )


def test_a_missing_param_or_an_unknown_code() -> None:
    assert render("not_acknowledged", {}, "zh") == f"{MISSING}须先签收。"
    assert render("no_such_code", {}, "zh") is None

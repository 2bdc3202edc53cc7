"""Every word a page shows is in the catalogue, in both languages, with the same placeholders."""

from __future__ import annotations

import re
import string

import pytest

from whistle.api.identity import USER_ROLES
from whistle.web.messages import PAGES, text
from whistle.web.nav import LINKS
from whistle.web.pages import HERE

TEMPLATES = sorted((HERE / "templates").glob("*.html"))
KEY = re.compile(r"""\bt\(\s*["']([a-z_0-9]+)["']\s*[,)]""")
PYTHON = sorted(HERE.glob("*.py"))
PY_KEY = re.compile(r"""(?:\.t|page\.t)\(\s*["']([a-z_0-9]+)["']""")


NOT_WORDS = {"switch_language", "logged_in_as", "diff_list_sep"}
"""Entries without a Chinese word: the switch's label is the other language, a name is a name,
a list's separator is punctuation."""


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_key_a_template_or_a_route_uses_is_in_the_catalogue() -> None:
    used = {k for path in TEMPLATES for k in KEY.findall(path.read_text())}
    used |= {k for path in PYTHON for k in PY_KEY.findall(path.read_text())}
    used |= {link.key for link in LINKS} | {f"role_{r}" for r in USER_ROLES}
    assert used, "the pattern finds the keys"
    assert not used - set(PAGES), sorted(used - set(PAGES))


@pytest.mark.parametrize("key", sorted(PAGES))
def test_each_entry_has_both_languages_with_the_same_placeholders(key: str) -> None:
    zh, en = PAGES[key]
    assert zh and en
    assert re.search(r"[\u4e00-\u9fff]", zh) or key in NOT_WORDS, zh
    assert _placeholders(zh) == _placeholders(en)


def test_text_fills_the_placeholders_in_the_callers_language() -> None:
    assert text("locked", "zh", minutes=15) == "登录失败次数过多，已暂时锁定：请在 15 分钟后再试。"
    assert text("locked", "en", minutes=15).endswith("try again in 15 min.")

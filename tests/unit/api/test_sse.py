"""Server-sent events as written (``whistle.api.dashboard``): JSON on one data line, text (an
HTML fragment) on one data line per line, split where the clients split."""

from __future__ import annotations

import json

from whistle.api.dashboard import sse, sse_text


def _data(event: bytes) -> str:
    """The data an EventSource hands over: its data lines joined by LF."""
    lines = event.decode().removesuffix("\n\n").split("\n")
    return "\n".join(line.removeprefix("data: ") for line in lines if line.startswith("data: "))


def test_json_stays_on_one_line_even_with_unicode_line_separators() -> None:
    event = sse("notification", {"headline": "第一行\u2028第二行", "n": 1}, "7")
    assert event.startswith(b"event: notification\nid: 7\ndata: ") and event.endswith(b"}\n\n")
    assert event.count(b"\ndata: ") == 1
    assert json.loads(_data(event)) == {"headline": "第一行\u2028第二行", "n": 1}


def test_text_gets_a_data_line_per_line_and_comes_back_joined_by_lf() -> None:
    html = '<li id="n-3">\r\n  <p>新案件</p>\r  <p>\u2028</p>\n</li>'
    event = sse_text("notification", html, "3")
    assert event.count(b"\ndata: ") == 4 and b"\r" not in event
    assert _data(event) == '<li id="n-3">\n  <p>新案件</p>\n  <p>\u2028</p>\n</li>'


def test_empty_text_is_one_empty_data_line() -> None:
    assert sse_text("unread", "") == b"event: unread\ndata: \n\n"

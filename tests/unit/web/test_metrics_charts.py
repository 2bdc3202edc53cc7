"""The metrics page's charts draw the table's own figures: rates in per cent as the table
shows them, a missing figure as no bar, a chart without any figure marked empty, the words in
the page's language."""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.requests import Request

from whistle.web.pages import Page
from whistle.web.supervisor_routes import Table, chart_figures, shown


def _page(lang: str) -> Page:
    request = Request(
        {"type": "http", "method": "GET", "path": "/supervisor/metrics", "headers": []}
    )
    return Page(request, None, "en" if lang == "en" else "zh", "t" * 32)


def _row(name: str, **figures: Any) -> dict[str, Any]:
    empty = dict.fromkeys(("response_rate", "resolution_rate", "satisfaction_rate",
                           "ack_median_h", "resolve_median_h"))  # fmt: skip
    return {"code": name, "group": name} | empty | figures


TABLE = Table("community", "tongan.datong", date(2026, 11, 4), date(2026, 12, 3), [
    _row("金海社区", response_rate=2 / 3, resolution_rate=None, satisfaction_rate=1.0),
    _row("大同社区", response_rate=0.0),
])  # fmt: skip


def test_the_rates_chart_draws_the_figures_the_table_shows() -> None:
    chart = chart_figures(_page("zh"), TABLE, "大同街道")
    assert chart["locale"] == "ZH" and chart["groups"] == ["金海社区", "大同社区"]
    rates = chart["charts"]["rates"]
    drawn = {s["name"]: s["data"] for s in rates["series"]}
    assert drawn == {"响应率": [66.7, 0.0], "解决率": [None, None], "满意率": [100.0, None]}
    assert shown("response_rate", 2 / 3) == "66.7%"  # the table's cell for the same figure
    assert not rates["empty"] and rates["axis"] == "比率（%）"
    assert "大同街道" in rates["label"] and "共 2 项" in rates["label"]


def test_a_chart_without_any_figure_is_marked_empty() -> None:
    assert chart_figures(_page("zh"), TABLE, "大同街道")["charts"]["times"]["empty"]


def test_the_charts_words_follow_the_page_language() -> None:
    chart = chart_figures(_page("en"), TABLE, "Datong Subdistrict")
    assert chart["locale"] == "EN"
    names = [s["name"] for s in chart["charts"]["rates"]["series"]]
    assert names == ["Response rate", "Resolution rate", "Satisfaction rate"]
    assert "by community in Datong Subdistrict" in chart["charts"]["rates"]["label"]

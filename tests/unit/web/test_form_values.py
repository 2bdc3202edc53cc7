"""A page form's text field never carries a NUL character to a command (PostgreSQL cannot
store one; a page's multipart form is not guarded by ``NulGuard``)."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request

from whistle.web.pages import FormPage


def test_a_form_value_is_stripped_of_nul_characters_and_spaces() -> None:
    request = Request({"type": "http", "method": "POST", "path": "/whistle", "headers": []})
    page = FormPage(request, None, "zh", "t" * 32, form=FormData({"title": " 游客\x00激增 "}))
    assert page.value("title") == "游客激增"
    assert page.value("missing") == ""

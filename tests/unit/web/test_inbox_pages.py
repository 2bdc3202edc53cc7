"""The liaison's inbox shows its rows a hundred at a time (``?shown=``)."""

from __future__ import annotations

import pytest

from whistle.web.liaison_routes import INBOX_LIMIT, INBOX_PAGE, shown_count


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        (None, INBOX_PAGE),
        ("", INBOX_PAGE),
        ("200", 200),
        ("250", 200),
        ("0", INBOX_PAGE),
        ("99", INBOX_PAGE),
        ("-100", INBOX_PAGE),
        ("abc", INBOX_PAGE),
        ("100000", INBOX_LIMIT),
    ],
)
def test_shown_is_a_page_multiple_within_the_limit(sent: str | None, shown: int) -> None:
    assert shown_count(sent) == shown

"""The vendored htmx files are the ones VENDORED.md names (version and SHA-256)."""

from __future__ import annotations

import hashlib
import re

from whistle.web.pages import HERE, HTMX, HTMX_SSE

STATIC = HERE / "static"


def test_each_vendored_file_has_the_sha256_its_table_gives() -> None:
    table = (STATIC / "VENDORED.md").read_text()
    rows = dict(re.findall(r"\| `([^`]+\.js)` \|[^|]+\|[^|]+\| `([0-9a-f]{64})` \|", table))
    assert set(rows) == {HTMX, HTMX_SSE}
    for name, digest in rows.items():
        assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == digest, name


def test_the_files_are_the_versions_their_names_say() -> None:
    assert 'version:"2.0.11"' in (STATIC / HTMX).read_text()
    assert 'defineExtension("sse"' in (STATIC / HTMX_SSE).read_text()

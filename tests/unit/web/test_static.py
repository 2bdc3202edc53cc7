"""The vendored files (htmx, ECharts) are the ones VENDORED.md names (version and SHA-256),
ECharts with its licence beside it."""

from __future__ import annotations

import hashlib
import re

from whistle.web.pages import ECHARTS, HERE, HTMX, HTMX_SSE

STATIC = HERE / "static"


def test_each_vendored_file_has_the_sha256_its_table_gives() -> None:
    table = (STATIC / "VENDORED.md").read_text()
    rows = dict(re.findall(r"\| `([^`]+\.js)` \|[^|]+\|[^|]+\| `([0-9a-f]{64})` \|", table))
    assert set(rows) == {HTMX, HTMX_SSE, ECHARTS}
    for name, digest in rows.items():
        assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == digest, name


def test_the_files_are_the_versions_their_names_say() -> None:
    assert 'version:"2.0.11"' in (STATIC / HTMX).read_text()
    assert 'defineExtension("sse"' in (STATIC / HTMX_SSE).read_text()
    assert 't.version="6.1.0"' in (STATIC / ECHARTS).read_text()


def test_echarts_comes_with_its_apache_licence_and_notice() -> None:
    assert "Apache License" in (STATIC / "echarts-6.1.0-LICENSE.txt").read_text()
    assert "Apache ECharts" in (STATIC / "echarts-6.1.0-NOTICE.txt").read_text()
    assert "Mike Bostock" in (STATIC / "echarts-6.1.0-LICENSE-d3.txt").read_text()  # d3, BSD-3

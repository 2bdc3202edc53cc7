"""Tokens are stored as their SHA-256 only and webhook secrets encrypted: the test reads every
row of every table of the database and finds neither in plain text."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.integration.webhooks.test_routes import api, auth  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration


async def every_row(pool: Any) -> str:
    """Every row of every user table, as text."""
    tables = await pool.fetch(
        "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) AS t"
        " FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
        " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
    )
    rows = [await pool.fetch(f"SELECT x::text AS row FROM {t['t']} x") for t in tables]
    return "\n".join(r["row"] for table in rows for r in table)


async def test_no_token_or_webhook_secret_is_stored_in_plain_text(
    api: dict[str, Any],  # noqa: F811
) -> None:
    client = api["client"]
    created = await client.post(
        "/v1/webhooks",
        json={"department": "urban_management", "url": "https://u.example/h"},
        headers=auth(api, "admin"),
    )
    endpoint_id = created.json()["endpoint_id"]
    rotated = await client.post(f"/v1/webhooks/{endpoint_id}/rotate", headers=auth(api, "urban"))
    secrets = [created.json()["secret"], rotated.json()["secret"]]
    stored = await every_row(api["pool"])
    tokens = list(api["tokens"].values())
    assert len(stored) > 200, "the dump read (almost) nothing"
    for value in (*tokens, *secrets):
        assert value not in stored
        assert value.split("_", 1)[1] not in stored, "the random part without its prefix"
    assert "whsec_" not in stored
    hashes = {r["token_sha256"] for r in await api["pool"].fetch("SELECT * FROM api.users")}
    assert hashes == {hashlib.sha256(t.encode()).hexdigest() for t in tokens}

"""An owner's outbox tables of its own (``outbox_demo``), as the webhooks and the notifier have."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

TABLES = """
CREATE SCHEMA outbox_demo;
CREATE TABLE outbox_demo.deliveries (
    delivery_id bigserial PRIMARY KEY, recipient text NOT NULL, channel text NOT NULL,
    event_id text NOT NULL, status text NOT NULL DEFAULT 'pending',
    attempts integer NOT NULL DEFAULT 0, next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_status_code integer, last_error text, dead_reason text, delivered_at timestamptz,
    UNIQUE (event_id, recipient, channel)
);
CREATE TABLE outbox_demo.attempts (
    delivery_id bigint NOT NULL REFERENCES outbox_demo.deliveries, attempt integer NOT NULL,
    started_at timestamptz NOT NULL, duration_ms double precision NOT NULL,
    status_code integer, error text, manual boolean NOT NULL DEFAULT false,
    PRIMARY KEY (delivery_id, attempt)
);
CREATE TABLE outbox_demo.checkpoints (
    consumer text NOT NULL, topic text NOT NULL, partition integer NOT NULL,
    next_offset bigint NOT NULL, PRIMARY KEY (consumer, topic, partition)
);
"""


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    """A fresh database with the ``outbox_demo`` tables."""
    async with asyncpg.create_pool(fresh_database, min_size=1, max_size=4) as created:
        await created.execute(TABLES)
        yield created

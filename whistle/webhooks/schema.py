"""The ``webhooks`` schema: endpoints, case departments, deliveries, attempts, checkpoints.

These are not read models: endpoints and their secrets are configuration, and the delivery log
must survive a projection rebuild (else a replay would deliver again). So, like the API's
tables, they live in their own schema with their own migrations, applied by the same runner
(``projections.migrate``: versioned, checksummed, never edited once landed).
"""

from __future__ import annotations

import asyncpg

from projections.migrate import Migration, migrate
from whistle.audit.entries import migrate_audit

SCHEMA = "webhooks"

MIGRATIONS = [
    Migration(
        1,
        "endpoints_and_deliveries",
        """
-- A department's receiver. Secrets are encrypted (WHISTLE_SECRET_KEY); during a rotation the
-- previous secret stays valid until previous_expires_at and deliveries carry both signatures.
CREATE TABLE webhooks.endpoints (
    endpoint_id          bigserial PRIMARY KEY,
    department           text NOT NULL,
    url                  text NOT NULL,
    description          text NOT NULL DEFAULT '',
    event_types          text[],                 -- NULL: every event of the department's cases
    secret_sealed        text NOT NULL,
    previous_sealed      text,
    previous_expires_at  timestamptz,
    enabled              boolean NOT NULL DEFAULT true,
    disabled_reason      text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX endpoints_department ON webhooks.endpoints (department) WHERE enabled;

-- The departments concerned by each case (routed lead + supporting, reassignments applied).
CREATE TABLE webhooks.case_departments (
    case_id     text PRIMARY KEY,
    departments text[] NOT NULL DEFAULT '{}',
    applied_seq integer NOT NULL DEFAULT 0
);

-- One delivery per (endpoint, event): a replayed event is never enqueued twice.
CREATE TABLE webhooks.deliveries (
    delivery_id      bigserial PRIMARY KEY,
    endpoint_id      bigint NOT NULL REFERENCES webhooks.endpoints ON DELETE CASCADE,
    event_id         text NOT NULL,
    case_id          text NOT NULL,
    event_type       text NOT NULL,
    department       text NOT NULL,
    body             text NOT NULL,            -- the CloudEvent exactly as signed and sent
    status           text NOT NULL DEFAULT 'pending',   -- pending | delivered | dead
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_status_code integer,
    last_error       text,
    dead_reason      text,
    event_at         timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX deliveries_due ON webhooks.deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX deliveries_dead ON webhooks.deliveries (created_at)
    WHERE status = 'dead';

-- Every attempt, kept for the log and for support.
CREATE TABLE webhooks.attempts (
    delivery_id  bigint NOT NULL REFERENCES webhooks.deliveries ON DELETE CASCADE,
    attempt      integer NOT NULL,
    started_at   timestamptz NOT NULL,
    duration_ms  double precision NOT NULL,
    status_code  integer,
    error        text,
    manual       boolean NOT NULL DEFAULT false,
    PRIMARY KEY (delivery_id, attempt)
);

-- The delivery worker's position in the event log, committed with the deliveries it enqueued.
CREATE TABLE webhooks.checkpoints (
    consumer    text NOT NULL,
    topic       text NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint NOT NULL,
    PRIMARY KEY (consumer, topic, partition)
);
""",
    ),
]


async def ensure_schema(conn: asyncpg.Connection) -> list[int]:
    """Apply the webhooks' pending migrations (and the audit log's, which records endpoint
    changes); return the webhooks' versions applied now."""
    applied = await migrate(conn, SCHEMA, MIGRATIONS)
    await migrate_audit(conn)
    return applied

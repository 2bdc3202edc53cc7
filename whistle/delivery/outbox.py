"""The delivery log in PostgreSQL, shared by webhooks and notifications: attempts recorded in
batches, deliveries moved to delivered / pending (retry at a time) / dead, and redelivery.

An outbox is three tables of one schema with the shared columns::

    <schema>.deliveries (delivery_id bigint PRIMARY KEY, status text -- pending|delivered|dead,
                         attempts int, next_attempt_at timestamptz, last_status_code int,
                         last_error text, dead_reason text, delivered_at timestamptz, …)
    <schema>.attempts   (delivery_id bigint, attempt int, started_at timestamptz,
                         duration_ms float8, status_code int, error text, manual bool,
                         PRIMARY KEY (delivery_id, attempt))
    <schema>.checkpoints (consumer text, topic text, partition int, next_offset bigint)

(checkpoints: where the owner's consumer of the event log resumes, see
:mod:`whistle.delivery.log_consumer`), plus whatever the owner needs (the webhooks' endpoint,
event and body; a notification's recipient, channel and message). Claiming due deliveries
joins the owner's own address table, so it stays with the owner (``WebhookStore.claim_due``);
it leases a row by moving its ``next_attempt_at`` forward by the lease, which
:meth:`Outbox.record_attempts` then replaces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from whistle.delivery.attempt import AttemptResult, Outcome, Verdict


@dataclass(frozen=True)
class Attempt:
    """One attempt's result and what it means for its delivery (see ``attempt.judge``)."""

    delivery_id: int
    attempts_before: int
    started_at: datetime
    duration_ms: float
    status_code: int | None
    error: str | None
    outcome: Outcome
    retry_in: float | None = None
    manual: bool = False
    dead_reason: str | None = None  # instead of the default reason of a dead or gone outcome

    @classmethod
    def judged(
        cls,
        delivery_id: int,
        attempts_before: int,
        result: AttemptResult,
        verdict: Verdict,
        manual: bool = False,
    ) -> Attempt:
        """The attempt ``result`` of a delivery, with its ``verdict``."""
        return cls(
            delivery_id, attempts_before, result.started_at, result.duration_ms,
            result.status_code, result.error, verdict.outcome, verdict.retry_in, manual,
        )  # fmt: skip

    def log_fields(self) -> dict[str, Any]:
        """What a deliverer's log line says of the attempt."""
        return {
            "attempt": self.attempts_before + 1,
            "status_code": self.status_code,
            "error": self.error,
            "outcome": self.outcome,
            "retry_in": self.retry_in,
        }

    def row(self) -> tuple[Any, ...]:
        """The values :meth:`Outbox.record_attempts` writes."""
        status = {"delivered": "delivered", "retry": "pending"}.get(self.outcome, "dead")
        if self.outcome == "retry" and self.retry_in is None:
            status = "dead"
        reason = {"gone": "endpoint gone (410)", "dead": "retries exhausted"}.get(self.outcome)
        if reason is not None and self.dead_reason:
            reason = self.dead_reason
        return (
            self.delivery_id, self.attempts_before + 1, self.started_at, self.duration_ms,
            self.status_code, self.error, self.manual, status, reason,
            self.retry_in if status == "pending" else None, self.outcome == "gone",
        )  # fmt: skip


RECORD = """
WITH r AS (
    SELECT * FROM unnest($1::bigint[], $2::int[], $3::timestamptz[], $4::float8[],
                         $5::int[], $6::text[], $7::bool[], $8::text[], $9::text[],
                         $10::float8[], $11::bool[])
      AS r(delivery_id, attempt, started_at, duration_ms, status_code, error,
           manual, status, reason, retry_in, gone)
), logged AS (
    INSERT INTO {schema}.attempts (delivery_id, attempt, started_at, duration_ms,
                                   status_code, error, manual)
    SELECT delivery_id, attempt, started_at, duration_ms, status_code, error, manual
      FROM r ON CONFLICT DO NOTHING
), moved AS (
    UPDATE {schema}.deliveries d SET status = r.status, attempts = r.attempt,
           last_status_code = r.status_code, last_error = r.error,
           dead_reason = r.reason,
           delivered_at = CASE WHEN r.status = 'delivered' THEN r.started_at
                          + make_interval(secs => r.duration_ms / 1000) END,
           next_attempt_at = CASE WHEN r.retry_in IS NULL THEN d.next_attempt_at
                             ELSE now() + make_interval(secs => r.retry_in) END
      FROM r WHERE d.delivery_id = r.delivery_id
 RETURNING {moved}
)
{then}
"""


class Outbox:
    """The shared delivery-log queries over the tables of ``schema``.

    ``on_gone``: a statement run in the same round trip over ``moved`` (the moved deliveries'
    ``moved_columns`` and ``gone``), e.g. the webhooks disable the endpoints that answered
    410; without it the deliveries alone move.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        schema: str,
        notify_channel: str,
        on_gone: str | None = None,
        moved_columns: str = "d.delivery_id",
    ) -> None:
        if not schema.isidentifier() or not notify_channel.isidentifier():
            raise ValueError("schema and channel must be plain identifiers")
        self.pool = pool
        self.schema = schema
        self.notify_channel = notify_channel
        self._record = RECORD.format(
            schema=schema,
            moved=f"{moved_columns}, r.gone",
            then=on_gone or "SELECT count(*) FROM moved",
        )

    async def record_attempts(self, attempts: Sequence[Attempt]) -> None:
        """Log attempts and move each delivery: delivered, retried later, dead, or gone.

        One statement for the whole batch: the attempt rows, the deliveries' new states, and
        the owner's ``on_gone`` statement.
        """
        if not attempts:
            return
        cols = list(zip(*(a.row() for a in attempts), strict=True))
        await self.pool.execute(self._record, *[list(c) for c in cols])

    async def redeliver(self, delivery_id: int) -> bool:
        """Queue a delivery again now (dead or delivered), keeping its attempt log, and wake
        the senders listening on the outbox's channel."""
        async with self.pool.acquire() as conn:
            status = await conn.execute(
                f"UPDATE {self.schema}.deliveries SET status = 'pending', next_attempt_at = now(),"
                " dead_reason = NULL WHERE delivery_id = $1",
                delivery_id,
            )
            await conn.execute(f"NOTIFY {self.notify_channel}")
        return status.endswith(" 1")

    async def checkpoints(self, consumer: str, topic: str) -> dict[int, int]:
        """The next offset ``consumer`` reads of ``topic``, per partition."""
        rows = await self.pool.fetch(
            f"SELECT partition, next_offset FROM {self.schema}.checkpoints"
            " WHERE consumer = $1 AND topic = $2",
            consumer,
            topic,
        )
        return {r["partition"]: r["next_offset"] for r in rows}

    async def attempts(self, delivery_id: int) -> list[dict[str, Any]]:
        """Every attempt of one delivery."""
        rows = await self.pool.fetch(
            "SELECT attempt, started_at, duration_ms, status_code, error, manual"
            f" FROM {self.schema}.attempts WHERE delivery_id = $1 ORDER BY attempt",
            delivery_id,
        )
        return [dict(r) for r in rows]

"""The configuration read model in PostgreSQL, and the serialisation point of publishing.

Why PostgreSQL serialises publishes: the topic cannot compare-and-set. Two API processes
that both read version N and both appended N + 1 would leave two records numbered N + 1
(followers take the first and ignore the second, but the second admin would have been told
"published"). So a publish holds a transaction-scoped advisory lock, reads the topic up to
its end *while holding it* (so it sees every version appended by earlier holders, who
released the lock only after the broker acknowledged theirs), checks the caller's
``expected_version`` against the last one, appends, reads its own record back, records the
row, and only then lets the lock go. The seed (version 1) is the only append outside the
lock; it is deterministic, so a second copy is the same version and is ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import asyncpg

from whistle.config.versions import ConfigVersion, History, VersionMeta
from whistle.domain.configuration import Configuration
from whistle.logs import get_logger
from whistle.settings import Settings

log = get_logger()

PUBLISH_LOCK = 0x5748_4346  # "WHCF": one publisher at a time per database
TABLE = "projection.config_versions"

_COLUMNS = (
    "version, author, published_at, reason, effective_from, kinds, rules_version, policy_version"
)


class PgConfigVersions:
    """Rows of ``projection.config_versions``."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def sync(self, history: History) -> None:
        """Record every version of ``history`` the table lacks (after a rebuild, a restart,
        or a publish by another API process); nothing before the schema is migrated."""
        # before `whistle db migrate` (or the projector) has made the table: nothing to do
        with contextlib.suppress(asyncpg.UndefinedTableError):
            await self._sync(history)

    async def _sync(self, history: History) -> None:
        async with self.pool.acquire() as conn:
            last = await conn.fetchval(f"SELECT coalesce(max(version), 0) FROM {TABLE}")
            missing = [v for v in history.versions if v.version > last]
            if missing:
                await record(conn, missing)

    async def versions(self, kind: str | None = None) -> list[VersionMeta]:
        """Every version (or those that changed ``kind``), newest first."""
        where = "" if kind is None else "WHERE $1 = ANY(kinds)"
        args = () if kind is None else (kind,)
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM {TABLE} {where} ORDER BY version DESC", *args
            )
        return [VersionMeta.model_validate(_meta(row)) for row in rows]

    async def version(self, number: int) -> ConfigVersion | None:
        """Version ``number`` with its document, or None."""
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                f"SELECT {_COLUMNS}, document FROM {TABLE} WHERE version = $1", number
            )
        if row is None:
            return None
        document = Configuration.model_validate_json(row["document"])
        return ConfigVersion.model_validate({**_meta(row), "document": document})


def _meta(row: Any) -> dict[str, Any]:
    meta = {k: row[k] for k in _COLUMNS.split(", ")}
    meta["kinds"] = tuple(meta["kinds"])
    return meta


async def record(conn: asyncpg.Connection, versions: list[ConfigVersion]) -> None:
    """Insert ``versions`` (a version already there is left as it is)."""
    await conn.executemany(
        f"INSERT INTO {TABLE} ({_COLUMNS}, document) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)"
        " ON CONFLICT (version) DO NOTHING",
        [
            (
                v.version,
                v.author,
                v.published_at,
                v.reason,
                v.effective_from,
                list(v.kinds),
                v.rules_version,
                v.policy_version,
                json.dumps(v.document.model_dump(mode="json"), ensure_ascii=False),
            )
            for v in versions
        ],
    )


async def project_versions(settings: Settings, dsn: str, every_s: float = 2.0) -> None:
    """Follow the configuration topic into ``projection.config_versions`` until cancelled.

    Run by the projector beside the event log: the table is a read model like the others, and
    after a rebuild swaps the schema in it is filled again within ``every_s``. The API records
    the versions it publishes itself, so its lists never wait for this.
    """
    from whistle.config.follower import ConfigFollower
    from whistle.config.seed import configured_seed

    backoff = 1.0
    while True:
        follower = ConfigFollower(settings, seed=configured_seed(settings))
        pool: asyncpg.Pool | None = None
        try:
            await follower.start()
            pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
            versions = PgConfigVersions(pool)
            while True:
                await versions.sync(follower.history)  # nothing until it has migrated
                backoff = 1.0
                await asyncio.sleep(every_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the broker or the database away: start again
            log.warning("config_projection_failed", error=str(exc)[:200], retry_s=backoff)
            await asyncio.sleep(backoff)
            backoff = min(30.0, backoff * 2)
        finally:
            await follower.stop()
            if pool is not None:
                await pool.close()

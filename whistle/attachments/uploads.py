"""Who uploaded which photo: the ``attachments.uploads`` table (not a read model).

A photo is attached to a case by its hash, so the API lets a user attach only what that user
uploaded (a hash seen in another case's timeline is not a key to its bytes), and shows the
uploader the thumbnail before any case holds the photo. One row per photo and uploader: the
same bytes uploaded twice are stored once and remembered for each person who sent them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import asyncpg

from projections.migrate import Migration, migrate
from whistle.attachments.photos import PhotoInfo

SCHEMA = "attachments"

MIGRATIONS = [
    Migration(
        1,
        "uploads",
        """
CREATE TABLE attachments.uploads (
    sha256       text NOT NULL,
    uploaded_by  text NOT NULL,
    size         bigint NOT NULL,
    content_type text NOT NULL,
    width        integer NOT NULL,
    height       integer NOT NULL,
    uploaded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sha256, uploaded_by)
);
""",
    )
]


async def ensure_schema(conn: asyncpg.Connection) -> list[int]:
    """Apply the uploads table's pending migrations; return the versions applied now."""
    return await migrate(conn, SCHEMA, MIGRATIONS)


class Uploads(Protocol):
    """The uploads record the API reads and writes."""

    async def record(self, info: PhotoInfo, user_id: str) -> datetime:
        """Remember that ``user_id`` uploaded the photo; the first upload's time."""
        ...

    async def find(self, sha256: str, user_id: str) -> PhotoInfo | None:
        """The photo if ``user_id`` uploaded it, else None."""
        ...


class PgUploads:
    """``Uploads`` in PostgreSQL."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record(self, info: PhotoInfo, user_id: str) -> datetime:
        """Insert the row once; a repeated upload keeps the first time."""
        at: datetime = await self._pool.fetchval(
            f"""INSERT INTO {SCHEMA}.uploads
                    (sha256, uploaded_by, size, content_type, width, height)
                VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (sha256, uploaded_by)
                DO UPDATE SET sha256 = EXCLUDED.sha256
                RETURNING uploaded_at""",
            info.sha256,
            user_id,
            info.size,
            info.content_type,
            info.width,
            info.height,
        )
        return at

    async def find(self, sha256: str, user_id: str) -> PhotoInfo | None:
        """The uploader's row as a ``PhotoInfo``."""
        row = await self._pool.fetchrow(
            f"SELECT sha256, size, content_type, width, height FROM {SCHEMA}.uploads"
            " WHERE sha256 = $1 AND uploaded_by = $2",
            sha256,
            user_id,
        )
        return PhotoInfo(**dict(row)) if row is not None else None

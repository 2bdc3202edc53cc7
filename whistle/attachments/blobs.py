"""Blob stores: bytes under a key, written once. A folder under ``var/`` by default; S3-compatible
object storage (MinIO, a cloud's OSS/COS/S3) when ``WHISTLE_BLOB_STORE=s3``.

Keys are content addresses (``originals/<sha256>``…), so a key once written never changes: ``put``
of an existing key stores nothing and says so, which is what makes a duplicate upload cost one
copy.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Protocol

from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import ClientError

from whistle.attachments.blob_settings import BlobSettings


class BlobStore(Protocol):
    """Where the photos' bytes live."""

    async def put(self, key: str, data: bytes, content_type: str) -> bool:
        """Store ``data`` under ``key`` unless the key exists; True when it was stored now."""
        ...

    async def get(self, key: str) -> bytes | None:
        """The bytes under ``key``, or None."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether ``key`` holds bytes."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class FolderBlobs:
    """Blobs as files under one folder, two hex digits of fan-out (``originals/ab/abcd…``);
    written to a temporary file and renamed, so a reader never sees half a photo."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        folder, _, name = key.rpartition("/")
        if not name or ".." in key.split("/") or key.startswith("/"):
            raise ValueError(f"bad blob key {key!r}")
        return self.root / folder / name[:2] / name

    async def put(self, key: str, data: bytes, content_type: str) -> bool:
        """Write the file once (an existing one is kept)."""
        return await asyncio.to_thread(self._put, self._path(key), data)

    @staticmethod
    def _put(path: Path, data: bytes) -> bool:
        if path.exists():
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return True

    async def get(self, key: str) -> bytes | None:
        """The file's bytes, or None."""
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    async def exists(self, key: str) -> bool:
        """Whether the file exists."""
        return self._path(key).exists()

    async def close(self) -> None:
        """Nothing to release."""


class S3Blobs:
    """Blobs as objects of one bucket of an S3-compatible store (aiobotocore), one client for
    the process; objects are written once (``If-None-Match`` is not relied on: a HEAD first,
    and two racing writers write the same bytes)."""

    def __init__(self, client: Any, bucket: str, prefix: str, stack: AsyncExitStack) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix
        self._stack = stack

    @classmethod
    async def connect(cls, settings: BlobSettings) -> S3Blobs:
        """A client of ``settings``' endpoint; the bucket is created when missing and allowed."""
        if not settings.s3_bucket:
            raise ValueError("WHISTLE_BLOB_S3_BUCKET is required with WHISTLE_BLOB_STORE=s3")
        stack = AsyncExitStack()
        secret = settings.s3_secret_access_key
        client = await stack.enter_async_context(
            get_session().create_client(
                "s3",
                endpoint_url=settings.s3_endpoint_url,
                region_name=settings.s3_region,
                aws_access_key_id=settings.s3_access_key_id,
                aws_secret_access_key=secret.get_secret_value() if secret else None,
                config=Config(
                    s3={"addressing_style": settings.s3_addressing_style},
                    connect_timeout=settings.s3_timeout_s,
                    read_timeout=settings.s3_timeout_s,
                    retries={"max_attempts": 3, "mode": "standard"},
                ),
            )
        )
        store = cls(client, settings.s3_bucket, settings.s3_prefix, stack)
        try:
            await store._ensure_bucket(settings.s3_create_bucket)
        except BaseException:
            await stack.aclose()
            raise
        return store

    async def _ensure_bucket(self, create: bool) -> None:
        try:
            await self._client.head_bucket(Bucket=self._bucket)
        except ClientError as exc:
            if not create or _status(exc) not in (404, 400):
                raise
            await self._client.create_bucket(Bucket=self._bucket)

    def _key(self, key: str) -> str:
        return self._prefix + key

    async def put(self, key: str, data: bytes, content_type: str) -> bool:
        """PUT the object unless it exists."""
        if await self.exists(key):
            return False
        await self._client.put_object(
            Bucket=self._bucket, Key=self._key(key), Body=data, ContentType=content_type
        )
        return True

    async def get(self, key: str) -> bytes | None:
        """GET the object's bytes, or None when there is none."""
        try:
            response = await self._client.get_object(Bucket=self._bucket, Key=self._key(key))
        except ClientError as exc:
            if _status(exc) == 404:
                return None
            raise
        async with response["Body"] as body:
            data: bytes = await body.read()
        return data

    async def exists(self, key: str) -> bool:
        """HEAD the object."""
        try:
            await self._client.head_object(Bucket=self._bucket, Key=self._key(key))
        except ClientError as exc:
            if _status(exc) == 404:
                return False
            raise
        return True

    async def close(self) -> None:
        """Close the client."""
        await self._stack.aclose()


def _status(exc: ClientError) -> int | None:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None


async def open_blob_store(settings: BlobSettings, state_dir: Path) -> BlobStore:
    """The configured store: a folder (default ``<state_dir>/blobs``) or S3."""
    if settings.store == "s3":
        return await S3Blobs.connect(settings)
    return FolderBlobs(settings.dir or state_dir / "blobs")

"""The photo library: checks an upload, stores it once by its SHA-256 with its thumbnail and
its copy without location, and hands each out.

Keys in the blob store: ``originals/<sha256>`` (the bytes as uploaded, for the case's parties),
``thumbnails/<sha256>.jpg`` and ``redacted/<sha256>`` (no location: what leaves the parties).
The derived copies are made once, when the original is first stored; a repeated upload finds
every key present and writes nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from whistle.attachments import photos
from whistle.attachments.blobs import BlobStore
from whistle.attachments.media_url import fetch_media
from whistle.attachments.photos import JPEG, PhotoInfo, sniff


@dataclass(frozen=True, slots=True)
class Stored:
    """An upload's outcome: the photo, and whether its bytes were new to the store."""

    info: PhotoInfo
    new: bool


class PhotoLibrary:
    """Photos over a blob store, within the size and pixel limits."""

    def __init__(
        self,
        blobs: BlobStore,
        *,
        max_bytes: int,
        max_pixels: int,
        media_timeout_s: float = 10.0,
        media_private_ok: bool = False,
    ) -> None:
        self.blobs = blobs
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.media_timeout_s = media_timeout_s
        self.media_private_ok = media_private_ok

    async def fetch(self, url: str) -> bytes:
        """The bytes of an Open311 ``media_url`` within the photo limits and the timeout."""
        return await fetch_media(
            url,
            max_bytes=self.max_bytes,
            timeout_s=self.media_timeout_s,
            private_ok=self.media_private_ok,
        )

    async def add(self, data: bytes) -> Stored:
        """Check ``data`` (``photos.PhotoError`` when refused) and store it and its copies."""
        info = await asyncio.to_thread(
            photos.inspect, data, max_bytes=self.max_bytes, max_pixels=self.max_pixels
        )
        sha = info.sha256
        if await self.blobs.exists(original_key(sha)):  # written last: its copies are there
            return Stored(info, new=False)
        thumbnail = await asyncio.to_thread(photos.thumbnail, data)
        redacted, redacted_type = await asyncio.to_thread(photos.without_location, data)
        await self.blobs.put(thumbnail_key(sha), thumbnail, JPEG)
        await self.blobs.put(redacted_key(sha), redacted, redacted_type)
        new = await self.blobs.put(original_key(sha), data, info.content_type)
        return Stored(info, new=new)

    async def original(self, sha256: str) -> tuple[bytes, str] | None:
        """The bytes as uploaded and their type (for the case's parties only)."""
        return _typed(await self.blobs.get(original_key(sha256)))

    async def thumbnail(self, sha256: str) -> tuple[bytes, str] | None:
        """The thumbnail (a JPEG without metadata)."""
        return _typed(await self.blobs.get(thumbnail_key(sha256)))

    async def redacted(self, sha256: str) -> tuple[bytes, str] | None:
        """The copy without location (the public's)."""
        return _typed(await self.blobs.get(redacted_key(sha256)))

    async def close(self) -> None:
        """Close the blob store."""
        await self.blobs.close()


def original_key(sha256: str) -> str:
    """Where the original of a photo is stored."""
    return f"originals/{sha256}"


def thumbnail_key(sha256: str) -> str:
    """Where the thumbnail of a photo is stored."""
    return f"thumbnails/{sha256}.jpg"


def redacted_key(sha256: str) -> str:
    """Where the copy without location of a photo is stored."""
    return f"redacted/{sha256}"


def _typed(data: bytes | None) -> tuple[bytes, str] | None:
    if data is None:
        return None
    return data, sniff(data) or "application/octet-stream"

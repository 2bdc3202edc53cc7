"""What a photo is, checked: its type from its bytes, its limits, its thumbnail, and a copy
without the place it was taken.

Pure functions over bytes (Pillow; HEIC through pillow-heif), run in a worker thread by the
library (``whistle.attachments.library``). A phone writes where a photo was taken into its EXIF
GPS block (and sometimes into XMP): the thumbnail carries no metadata at all, and the redacted
copy keeps the EXIF less its GPS block and drops XMP, so neither tells where a resident lives.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

import pillow_heif
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

pillow_heif.register_heif_opener()

JPEG, PNG, HEIC = "image/jpeg", "image/png", "image/heic"
TYPES = (JPEG, PNG, HEIC)
"""The photo types accepted: what phones' cameras and screenshots write."""
HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})
THUMBNAIL_EDGE = 320
"""The longer edge of a thumbnail, in pixels (a phone's list at 2× density)."""


class PhotoError(ValueError):
    """A photo refused: ``code`` names the reason (an API problem's detail key), ``params``
    fill its message."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True, slots=True)
class PhotoInfo:
    """A checked photo: content hash, size, type, and pixel size."""

    sha256: str
    size: int
    content_type: str
    width: int
    height: int


def sha256_of(data: bytes) -> str:
    """The SHA-256 of ``data``, hex: the photo's address in the blob store."""
    return hashlib.sha256(data).hexdigest()


def sniff(data: bytes) -> str | None:
    """The photo type the bytes begin with (never the name or the declared type), or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS:
        return HEIC
    return None


def inspect(data: bytes, *, max_bytes: int, max_pixels: int) -> PhotoInfo:
    """Check ``data`` as a photo within the limits; raise ``PhotoError`` otherwise.

    The header gives the pixel size before anything is decoded (a decompression bomb is refused
    unread); then the whole image is decoded once, so a truncated file is refused here too.
    """
    if not data:
        raise PhotoError("photo_empty")
    if len(data) > max_bytes:
        raise PhotoError("photo_too_large", limit=max_bytes, size=len(data))
    kind = sniff(data)
    if kind is None:
        raise PhotoError("photo_type")
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise PhotoError("photo_too_many_pixels", limit=max_pixels, pixels=width * height)
            image.load()
    except PhotoError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise PhotoError("photo_unreadable", type=kind) from exc
    return PhotoInfo(sha256_of(data), len(data), kind, width, height)


def thumbnail(data: bytes) -> bytes:
    """A JPEG of at most ``THUMBNAIL_EDGE`` pixels, turned upright, with no metadata at all."""
    with Image.open(io.BytesIO(data)) as image:
        upright = ImageOps.exif_transpose(image)
        upright.thumbnail((THUMBNAIL_EDGE, THUMBNAIL_EDGE))
        out = io.BytesIO()
        _rgb(upright).save(out, "JPEG", quality=80, optimize=True)
    return out.getvalue()


def without_location(data: bytes) -> tuple[bytes, str]:
    """The photo without where it was taken, and its type: EXIF less its GPS block, no XMP.

    A JPEG keeps its quantisation tables (``quality="keep"``), so it is re-encoded without
    visible loss; a PNG stays a PNG; a HEIC becomes a JPEG, which every browser shows.
    """
    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        exif.pop(ExifTags.IFD.GPSInfo, None)
        out = io.BytesIO()
        kind = sniff(data)
        options: dict[str, Any] = {"exif": exif.tobytes()}
        icc = image.info.get("icc_profile")
        if icc:
            options["icc_profile"] = icc
        if kind == JPEG:
            image.save(out, "JPEG", quality="keep", **options)
            return out.getvalue(), JPEG
        if kind == PNG:
            image.save(out, "PNG", **options)
            return out.getvalue(), PNG
        _rgb(image).save(out, "JPEG", quality=90, **options)
        return out.getvalue(), JPEG


def location_of(data: bytes) -> dict[int, Any]:
    """The EXIF GPS block of a photo (empty when it carries none): what redaction removes."""
    with Image.open(io.BytesIO(data)) as image:
        return dict(image.getexif().get_ifd(ExifTags.IFD.GPSInfo))


def _rgb(image: Image.Image) -> Image.Image:
    """``image`` in a mode JPEG can hold (transparency flattened onto white)."""
    if image.mode in ("RGB", "L"):
        return image
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return image.convert("RGB")

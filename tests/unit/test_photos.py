"""Photos checked from their bytes: SHA-256 addresses, limits, HEIC from phones, thumbnails and
copies without the EXIF GPS block; the folder blob store keeps one copy of each."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from PIL import ExifTags, Image

from whistle.attachments import photos
from whistle.attachments.blobs import FolderBlobs
from whistle.attachments.library import PhotoLibrary, original_key
from whistle.attachments.media_url import fetch_media
from whistle.attachments.photos import PhotoError

LIMITS = {"max_bytes": 10 * 1024 * 1024, "max_pixels": 60_000_000}
GPS = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (24.0, 29.0, 5.5),
    ExifTags.GPS.GPSLongitudeRef: "E",
    ExifTags.GPS.GPSLongitude: (118.0, 9.0, 41.2),
}
"""Where the photo was taken: 金海社区's promenade, as a phone writes it."""


def exif_with_gps(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "HUAWEI"
    exif[ExifTags.Base.Model] = "Mate 60"
    exif[ExifTags.Base.Orientation] = orientation
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(GPS)
    return exif


def phone_photo(fmt: str = "JPEG", size: tuple[int, int] = (1200, 900), **options: object) -> bytes:
    """A photo as a phone takes it: real pixels and EXIF with its GPS block."""
    gradient = Image.linear_gradient("L").resize(size)
    image = Image.merge("RGB", (gradient, gradient.rotate(90), Image.effect_noise(size, 40)))
    out = io.BytesIO()
    image.save(out, fmt, exif=exif_with_gps(**options).tobytes())  # type: ignore[arg-type]
    return out.getvalue()


def test_a_photo_is_addressed_by_the_sha256_of_its_bytes() -> None:
    data = phone_photo()
    info = photos.inspect(data, **LIMITS)
    assert info.sha256 == hashlib.sha256(data).hexdigest() == photos.sha256_of(data)
    assert (info.size, info.content_type, info.width, info.height) == (
        len(data),
        "image/jpeg",
        1200,
        900,
    )


def test_the_type_comes_from_the_bytes() -> None:
    assert photos.sniff(phone_photo("PNG")) == "image/png"
    assert photos.sniff(phone_photo("HEIF", size=(64, 48))) == "image/heic"
    with pytest.raises(PhotoError) as refused:
        photos.inspect(b"GIF89a" + b"\x00" * 100, **LIMITS)
    assert refused.value.code == "photo_type"
    with pytest.raises(PhotoError) as script:
        photos.inspect(b"<svg onload=alert(1)>", **LIMITS)
    assert script.value.code == "photo_type"


def test_limits_refuse_what_is_too_large_empty_or_broken() -> None:
    data = phone_photo()
    with pytest.raises(PhotoError) as large:
        photos.inspect(data, max_bytes=len(data) - 1, max_pixels=LIMITS["max_pixels"])
    assert (large.value.code, large.value.params) == (
        "photo_too_large",
        {"limit": len(data) - 1, "size": len(data)},
    )
    with pytest.raises(PhotoError) as pixels:
        photos.inspect(data, max_bytes=LIMITS["max_bytes"], max_pixels=1000 * 900)
    assert pixels.value.code == "photo_too_many_pixels"
    with pytest.raises(PhotoError) as empty:
        photos.inspect(b"", **LIMITS)
    assert empty.value.code == "photo_empty"
    with pytest.raises(PhotoError) as truncated:
        photos.inspect(data[: len(data) // 2], **LIMITS)
    assert truncated.value.code == "photo_unreadable"


def test_a_jpeg_loses_its_location_and_keeps_the_rest() -> None:
    data = phone_photo()
    where = photos.location_of(data)
    assert (where[1], where[3]) == ("N", "E")
    assert [float(v) for v in where[2] + where[4]] == [24.0, 29.0, 5.5, 118.0, 9.0, 41.2]
    redacted, kind = photos.without_location(data)
    assert kind == "image/jpeg" and photos.location_of(redacted) == {}
    with Image.open(io.BytesIO(redacted)) as image:
        assert image.getexif()[ExifTags.Base.Model] == "Mate 60"
        assert image.size == (1200, 900)
        assert ExifTags.IFD.GPSInfo not in image.getexif()


def test_a_thumbnail_is_small_upright_and_carries_no_metadata() -> None:
    data = phone_photo(orientation=6)  # taken holding the phone upright: rotate 90°
    thumb = photos.thumbnail(data)
    with Image.open(io.BytesIO(thumb)) as image:
        assert image.format == "JPEG"
        assert image.size == (240, 320)  # turned upright, longer edge 320
        assert dict(image.getexif()) == {}
        assert "xmp" not in image.info


def test_a_heic_from_an_iphone_is_read_thumbnailed_and_redacted() -> None:
    data = phone_photo("HEIF", size=(400, 300))
    info = photos.inspect(data, **LIMITS)
    assert info.content_type == "image/heic" and (info.width, info.height) == (400, 300)
    assert photos.location_of(data)  # the HEIC carries the GPS block
    redacted, kind = photos.without_location(data)
    assert kind == "image/jpeg" and photos.location_of(redacted) == {}
    with Image.open(io.BytesIO(photos.thumbnail(data))) as image:
        assert image.size == (320, 240)


def test_a_png_stays_a_png_without_location() -> None:
    data = phone_photo("PNG", size=(300, 200))
    assert photos.location_of(data)
    redacted, kind = photos.without_location(data)
    assert kind == "image/png" and photos.location_of(redacted) == {}


async def test_the_same_bytes_are_stored_once_with_their_copies(tmp_path: Path) -> None:
    library = PhotoLibrary(FolderBlobs(tmp_path), **LIMITS)
    data = phone_photo()
    first = await library.add(data)
    again = await library.add(data)
    assert (first.new, again.new) == (True, False)
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    sha = first.info.sha256
    assert files == [
        f"originals/{sha[:2]}/{sha}",
        f"redacted/{sha[:2]}/{sha}",
        f"thumbnails/{sha[:2]}/{sha}.jpg",
    ]
    assert await library.original(sha) == (data, "image/jpeg")
    redacted = await library.redacted(sha)
    assert redacted is not None and photos.location_of(redacted[0]) == {}
    assert await library.original("0" * 64) is None
    assert await library.blobs.exists(original_key(sha))


async def test_a_media_url_on_a_private_address_is_not_fetched() -> None:
    for url in ("http://127.0.0.1:18349/a.jpg", "http://10.1.2.3/a.jpg", "file:///etc/passwd"):
        with pytest.raises(PhotoError) as refused:
            await fetch_media(url, max_bytes=1000, timeout_s=1)
        assert refused.value.code == "media_url_unfetchable"

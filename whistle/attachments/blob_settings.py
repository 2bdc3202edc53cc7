"""Settings of the photos and their blob store (``WHISTLE_BLOB_…``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class BlobSettings(BaseSettings):
    """Where photos are stored and what a photo may be."""

    model_config = SettingsConfigDict(env_prefix="WHISTLE_BLOB_", extra="ignore")

    store: Literal["folder", "s3"] = Field(
        default="folder", description="folder: files under `dir`; s3: S3-compatible storage."
    )
    dir: Path | None = Field(default=None, description="The folder store; unset: var/blobs.")
    s3_endpoint_url: str | None = Field(
        default=None, description="e.g. http://minio:9000; unset: the AWS endpoint of the region."
    )
    s3_bucket: str | None = None
    s3_prefix: str = Field(default="", description="Prepended to every object key.")
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_addressing_style: Literal["path", "virtual", "auto"] = Field(
        default="path", description="path suits MinIO and most self-hosted stores."
    )
    s3_create_bucket: bool = Field(default=True, description="Create the bucket when missing.")
    s3_timeout_s: float = Field(default=10.0, gt=0)
    max_photo_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, description="Largest photo accepted (413 beyond)."
    )
    max_photo_pixels: int = Field(
        default=60_000_000, ge=1, description="Largest width × height (a 48 MP phone fits)."
    )
    media_url_timeout_s: float = Field(
        default=10.0, gt=0, description="Fetching an Open311 media_url: the whole download."
    )
    media_url_private_ok: bool = Field(
        default=False,
        description="Fetch media_url from loopback and private addresses too (tests, intranets).",
    )

"""Fetch an Open311 ``media_url``: http(s) only, a public address unless allowed otherwise,
no redirects, a declared photo type, at most the photo size limit, within one timeout."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

import httpx

from whistle.attachments.photos import TYPES, PhotoError


async def fetch_media(
    url: str, *, max_bytes: int, timeout_s: float, private_ok: bool = False
) -> bytes:
    """The bytes at ``url``, or ``PhotoError("media_url_unfetchable", …)`` with the reason;
    a body over ``max_bytes`` is ``photo_too_large`` (the download stops there)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PhotoError("media_url_unfetchable", url=url, why="http(s) URL")
    if not private_ok:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        await _refuse_private(parts.hostname, port)
    try:
        async with asyncio.timeout(timeout_s):
            return await _download(url, max_bytes, timeout_s)
    except TimeoutError as exc:
        raise PhotoError("media_url_unfetchable", url=url, why=f"> {timeout_s:g} s") from exc
    except httpx.HTTPError as exc:
        raise PhotoError("media_url_unfetchable", url=url, why=type(exc).__name__) from exc


async def _download(url: str, max_bytes: int, timeout_s: float) -> bytes:
    async with (
        httpx.AsyncClient(timeout=timeout_s, follow_redirects=False) as client,
        client.stream("GET", url, headers={"Accept": ", ".join(TYPES)}) as response,
    ):
        if response.status_code != 200:
            raise PhotoError("media_url_unfetchable", url=url, why=f"HTTP {response.status_code}")
        declared = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if declared not in (*TYPES, "image/heif", "application/octet-stream"):
            raise PhotoError("photo_type")
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > max_bytes:
            raise PhotoError("photo_too_large", limit=max_bytes, size=int(length))
        chunks: list[bytes] = []
        seen = 0
        async for chunk in response.aiter_bytes():
            seen += len(chunk)
            if seen > max_bytes:
                raise PhotoError("photo_too_large", limit=max_bytes, size=seen)
            chunks.append(chunk)
    return b"".join(chunks)


async def _refuse_private(host: str, port: int) -> None:
    """Refuse a host that resolves to loopback, private, link-local or reserved addresses
    (the API must not become a way into the intranet)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise PhotoError("media_url_unfetchable", url=host, why="unknown host") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise PhotoError("media_url_unfetchable", url=host, why="not a public address")

"""A small synchronous client of the Whistle API that turns problems into ``ApiError``."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from whistle.settings import get_settings

EXIT_CODES = {401: 3, 403: 3, 404: 4, 409: 5, 413: 5, 422: 5}


@dataclass
class ApiError(Exception):
    """A failed call: the HTTP status (0: no answer), a title and a detail from problem+json."""

    status: int
    title: str
    detail: str = ""
    code: str | None = None

    @property
    def exit_code(self) -> int:
        """3 auth, 4 not found, 5 rejected or invalid, 1 anything else."""
        return EXIT_CODES.get(self.status, 1)


def default_api_url() -> str:
    """``WHISTLE_API_URL``, else the local API of the settings."""
    settings = get_settings()
    return os.environ.get("WHISTLE_API_URL") or f"http://{settings.http_host}:{settings.http_port}"


def _problem(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    detail = str(body.get("detail") or "")
    errors = body.get("errors") or []
    if errors and isinstance(errors, list):
        fields = "; ".join(
            f"{e.get('field', '')} {e.get('message', '')}".strip()
            for e in errors[:3]
            if isinstance(e, dict)
        )
        detail = f"{detail} ({fields})" if detail else fields
    title = str(body.get("title") or response.reason_phrase or "error")
    return ApiError(response.status_code, title, detail, body.get("code"))


class Api:
    """Bearer-authenticated calls to the API, in the chosen language."""

    def __init__(self, base_url: str, token: str | None, lang: str, timeout_s: float = 20.0):
        headers = {"Accept-Language": "en" if lang == "en" else "zh-CN"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout_s)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request; the JSON answer, or ApiError."""
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(0, "unreachable", f"{self.http.base_url}: {exc}") from exc
        if response.status_code >= 400:
            raise _problem(response)
        return response.json() if response.content else {}

    def command(self, case_id: str, suffix: str, body: dict[str, Any]) -> Any:
        """POST a command to a case with a fresh Idempotency-Key (safe to retry)."""
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        return self.call("POST", f"/v1/cases/{case_id}{suffix}", json=body, headers=headers)

    def stream(self, path: str) -> Iterator[tuple[str, str]]:
        """Server-sent events of ``path`` as (event, data) pairs."""
        try:
            with self.http.stream("GET", path, timeout=httpx.Timeout(20.0, read=60.0)) as r:
                if r.status_code >= 400:
                    r.read()
                    raise _problem(r)
                event, data = "message", list[str]()
                for line in r.iter_lines():
                    if not line:
                        if data:
                            yield event, "\n".join(data)
                        event, data = "message", []
                    elif line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].strip())
        except httpx.HTTPError as exc:
            raise ApiError(0, "unreachable", f"{self.http.base_url}: {exc}") from exc

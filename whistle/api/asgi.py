"""The ASGI app for uvicorn: ``uvicorn whistle.api.asgi:app`` (what ``whistle api`` runs)."""

from __future__ import annotations

from whistle.api.app import create_app
from whistle.settings import get_settings

app = create_app(get_settings())

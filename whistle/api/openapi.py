"""Write the API's OpenAPI document: ``python -m whistle.api.openapi [PATH]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from whistle.settings import REPO_ROOT, Settings

OPENAPI_PATH = REPO_ROOT / "schemas" / "openapi.json"


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the app (nothing is connected to build it)."""
    from whistle.api.app import create_app

    return create_app(Settings()).openapi()


def render() -> str:
    """The document as checked in: sorted keys, two-space indent, UTF-8, trailing newline."""
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the document to ``PATH`` (default ``schemas/openapi.json``)."""
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else OPENAPI_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

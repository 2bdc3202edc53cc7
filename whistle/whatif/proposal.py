"""The proposed configuration of a what-if: a stored version, or files applied to a base one."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, get_args

from whistle.config.versions import ConfigVersion, History, Kind, next_version, with_kind

KINDS: tuple[str, ...] = get_args(Kind)


class BadProposal(Exception):
    """A proposal that cannot be used; ``key`` and ``values`` name the message to show."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


def read_change(path: Path, kind: str | None) -> tuple[Kind, Any]:
    """(kind, document) of a file of the export format: ``whistle config export KIND --json``
    (it names its kind), or a bare document of the kind given."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BadProposal("bad_file", path=path, why=str(exc).splitlines()[0]) from None
    if isinstance(data, dict) and {"kind", "document"} <= set(data):
        kind, data = data["kind"], data["document"]
    if kind not in KINDS:
        raise BadProposal("no_kind", path=path)
    return kind, data  # type: ignore[return-value]


def proposed_version(
    changes: list[tuple[Kind, Any]], base: ConfigVersion, at: datetime
) -> ConfigVersion:
    """Version ``base + 1`` with every change applied in turn (not published anywhere)."""
    config = base.document
    for kind, document in changes:
        try:
            config = with_kind(config, kind, document)
        except ValueError as exc:
            raise BadProposal("bad_document", kind=kind, why=str(exc).splitlines()[0]) from None
    return next_version(
        base,
        config,
        author="whatif",
        reason="what-if",
        effective_from=at,
        published_at=at,
    )


def resolve(
    history: History,
    proposals: list[str],
    kind: str | None,
    base: int | None,
    at: datetime,
) -> ConfigVersion:
    """The version to replay with: ``VERSION`` (a stored number) or ``FILE``s applied to
    ``base`` (default: the latest version)."""
    if len(proposals) == 1 and proposals[0].isdigit():
        found = history.get(int(proposals[0]))
        if found is None:
            raise BadProposal("no_version", version=proposals[0], last=history.last_number)
        return found
    start = history.last if base is None else history.get(base)
    if start is None:
        raise BadProposal("no_version", version=base, last=history.last_number)
    changes = [read_change(Path(p), kind) for p in proposals]
    return proposed_version(changes, start, at)

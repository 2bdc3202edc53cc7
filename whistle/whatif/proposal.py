"""The proposed configuration of a what-if: a stored version, or changes of one or several
kinds (files, or the API's ``changes``) applied together to a base one."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, get_args

from whistle.config.versions import (
    ConfigVersion,
    History,
    Kind,
    KindInvalid,
    next_version,
    with_kinds,
)

KINDS: tuple[str, ...] = get_args(Kind)


class BadProposal(Exception):
    """A proposal that cannot be used; ``key`` and ``values`` name the message to show."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


def read_changes(path: Path, kind: str | None) -> list[tuple[Kind, Any]]:
    """The ``(kind, document)`` changes of a file: the export format (``whistle config export
    KIND --json``, which names its kind), a bare document of the kind given, or a proposal of
    several kinds as ``POST /v1/config/whatif`` takes it: ``{"changes": [{"kind": …,
    "document": …}, …]}``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BadProposal("bad_file", path=path, why=str(exc).splitlines()[0]) from None
    if isinstance(data, dict) and set(data) == {"changes"} and isinstance(data["changes"], list):
        items = data["changes"]
        shaped = all(isinstance(c, dict) and set(c) == {"kind", "document"} for c in items)
        if not items or not shaped:
            raise BadProposal("no_kind", path=path)
        return [_known(path, c["kind"], c["document"]) for c in items]
    if isinstance(data, dict) and {"kind", "document"} <= set(data):
        kind, data = data["kind"], data["document"]
    return [_known(path, kind, data)]


def _known(path: Path, kind: object, document: Any) -> tuple[Kind, Any]:
    if kind not in KINDS:
        raise BadProposal("no_kind", path=path)
    return kind, document  # type: ignore[return-value]  # checked against Kind's values


def proposed_version(
    changes: list[tuple[Kind, Any]], base: ConfigVersion, at: datetime
) -> ConfigVersion:
    """Version ``base + 1`` with every change applied in turn (not published anywhere)."""
    try:
        config = with_kinds(base.document, changes)
    except KindInvalid as exc:
        why = str(exc.error).splitlines()[0]
        raise BadProposal("bad_document", kind=exc.kind, why=why) from None
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
    changes = [c for p in proposals for c in read_changes(Path(p), kind)]
    return proposed_version(changes, start, at)

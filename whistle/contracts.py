"""Contracts other systems rely on, generated from the domain models.

``python -m whistle.contracts`` writes ``schemas/commands/*.json``, ``schemas/events/*.json``
(JSON Schema per model), ``schemas/cloudevents-envelope.json`` (the CloudEvents 1.0 envelope of
events leaving the system) and ``schemas/commands.md`` (the table of every command and event);
``--check`` fails when the checked-in files drift from the code.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from whistle.asyncapi import asyncapi_document
from whistle.domain.base import Event
from whistle.domain.commands import ALL_COMMANDS
from whistle.domain.events import ALL_EVENTS

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_BASE = "urn:whistle:schema"
CE_PREFIX = "whistle.case"
DEFAULT_SOURCE = "urn:whistle"
PERSONAL_FIELDS = ("requester",)
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "schemas"


def cloudevent_type(event: type[Event] | Event) -> str:
    """The CloudEvents ``type`` of an event class or instance: ``whistle.case.acknowledged.v1``."""
    cls = event if isinstance(event, type) else type(event)
    return f"{CE_PREFIX}.{cls.CE_NAME}.v{cls.SCHEMA_VERSION}"


def to_cloudevent(
    event: Event, source: str = DEFAULT_SOURCE, include_personal_data: bool = False
) -> dict[str, Any]:
    """The event as a structured-mode CloudEvents 1.0 JSON object.

    Personal data (the requester's contact) is left out unless ``include_personal_data``.
    """
    data = event.model_dump(mode="json")
    if not include_personal_data:
        for name in PERSONAL_FIELDS:
            data.pop(name, None)
    return {
        "specversion": "1.0",
        "id": event.event_id,
        "source": source,
        "type": cloudevent_type(event),
        "subject": event.case_id,
        "time": data["occurred_at"],
        "datacontenttype": "application/json",
        "dataschema": f"{SCHEMA_BASE}:events:{type(event).__name__}:v{event.schema_version}",
        "sequence": str(event.seq),
        "data": data,
    }


def _model_schema(cls: type[Any], kind: str, mode: str) -> dict[str, Any]:
    schema: dict[str, Any] = cls.model_json_schema(mode=mode)
    version = getattr(cls, "SCHEMA_VERSION", 1)
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"{SCHEMA_BASE}:{kind}:{cls.__name__}:v{version}",
        **schema,
    }


def envelope_schema() -> dict[str, Any]:
    """JSON Schema of the CloudEvents 1.0 envelope of Whistle events."""
    types = {cloudevent_type(cls): f"events/{cls.__name__}.json" for cls in ALL_EVENTS}
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"{SCHEMA_BASE}:cloudevents-envelope:v1",
        "title": "Whistle CloudEvent",
        "description": (
            "CloudEvents 1.0 structured-mode envelope of a Whistle case event leaving the "
            "system (webhooks, exports). `data` is the event, valid against the schema named "
            "by `type` in x-whistle-event-types; personal data (requester) is omitted."
        ),
        "type": "object",
        "required": ["specversion", "id", "source", "type", "subject", "time", "data"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "description": "The event id (deterministic UUIDv5)."},
            "source": {"type": "string", "format": "uri-reference", "default": DEFAULT_SOURCE},
            "type": {"enum": sorted(types)},
            "subject": {"type": "string", "description": "The case id."},
            "time": {"type": "string", "format": "date-time"},
            "datacontenttype": {"const": "application/json"},
            "dataschema": {"type": "string", "format": "uri"},
            "sequence": {
                "type": "string",
                "pattern": "^[1-9][0-9]*$",
                "description": "Gap-free per-case sequence number (CloudEvents sequence ext.).",
            },
            "data": {"type": "object"},
        },
        "additionalProperties": False,
        "x-whistle-event-types": types,
    }


def render() -> dict[str, str]:
    """Every contract file as relative path → text."""
    files: dict[str, dict[str, Any]] = {}
    for cmd in ALL_COMMANDS:
        files[f"commands/{cmd.__name__}.json"] = _model_schema(cmd, "commands", "validation")
    for evt in ALL_EVENTS:
        files[f"events/{evt.__name__}.json"] = _model_schema(evt, "events", "serialization")
    files["cloudevents-envelope.json"] = envelope_schema()
    files["asyncapi.json"] = asyncapi_document()
    texts = {
        path: json.dumps(body, ensure_ascii=False, indent=2) + "\n"
        for path, body in sorted(files.items())
    }
    texts["commands.md"] = catalogue()
    return texts


def _summary(cls: type) -> str:
    return (cls.__doc__ or "").strip().splitlines()[0].replace("|", "\\|")


def catalogue() -> str:
    """``schemas/commands.md``: every command and event from their registries, as tables."""
    lines = [
        "# Commands and events",
        "",
        "Generated by `python -m whistle.contracts` from the registries in `whistle/domain`"
        " (do not edit). Who may issue a command is its `ROLES`; a liaison issues the"
        " *department* ones for the department named in the command and the *lead* ones for"
        " the lead department only; *internal* commands have no HTTP route.",
        "",
        "| command | what | roles | liaison acts for | HTTP |",
        "|---|---|---|---|---|",
    ]
    for cmd in ALL_COMMANDS:
        roles = ", ".join(sorted(cmd.ROLES))
        http = "internal" if cmd.INTERNAL else "yes"
        lines.append(
            f"| `{cmd.__name__}` | {_summary(cmd)} | {roles} | {cmd.ACTS_FOR or '—'} | {http} |"
        )
    lines += ["", "| event | what | CloudEvents type |", "|---|---|---|"]
    for evt in ALL_EVENTS:
        lines.append(f"| `{evt.__name__}` | {_summary(evt)} | `{cloudevent_type(evt)}` |")
    return "\n".join(lines) + "\n"


def write_schemas(out: Path = DEFAULT_OUT) -> list[Path]:
    """Write every contract under ``out``; returns the paths written."""
    written = []
    for rel, text in render().items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def drift(out: Path = DEFAULT_OUT) -> list[str]:
    """Contract files under ``out`` that are missing, different or no longer generated."""
    expected = render()
    problems = []
    for rel, text in expected.items():
        path = out / rel
        if not path.exists():
            problems.append(f"missing {rel}")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"differs {rel}")
    for folder in ("commands", "events"):
        for path in sorted((out / folder).glob("*.json")):
            rel = f"{folder}/{path.name}"
            if rel not in expected:
                problems.append(f"stale {rel}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """CLI: write the schemas, or with ``--check`` report drift (exit 1)."""
    parser = argparse.ArgumentParser(prog="python -m whistle.contracts", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="fail if schemas/ drifted")
    args = parser.parse_args(argv)
    if args.check:
        problems = drift(args.out)
        for line in problems:
            print(line, file=sys.stderr)
        return 1 if problems else 0
    paths = write_schemas(args.out)
    print(f"wrote {len(paths)} schema files under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

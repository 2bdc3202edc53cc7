"""The AsyncAPI 3.0 document of Whistle's Kafka topics, generated from the code."""

from __future__ import annotations

from typing import Any

from whistle.domain.commands import ALL_COMMANDS
from whistle.domain.events import ALL_EVENTS
from whistle.topics import ALL_TOPICS, CASE_COMMANDS, CASE_EVENTS, CASE_REPLIES, DEAD_LETTERS

DEFAULT_PREFIX = "whistle"


def _ref_messages(names: list[str]) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/messages/{name}"} for name in names}


def _messages(kind: str, names: list[str]) -> dict[str, Any]:
    return {
        name: {
            "name": name,
            "contentType": "application/json",
            "payload": {"$ref": f"./{kind}/{name}.json"},
            "bindings": {"kafka": {"key": {"type": "string", "description": "case id"}}},
        }
        for name in names
    }


def asyncapi_document(prefix: str = DEFAULT_PREFIX) -> dict[str, Any]:
    """Channels (one per topic, with its configuration), operations and message schemas."""
    commands = sorted(c.__name__ for c in ALL_COMMANDS)
    events = sorted(e.__name__ for e in ALL_EVENTS)
    payloads = {
        CASE_COMMANDS.name: _ref_messages(commands),
        CASE_EVENTS.name: _ref_messages(events),
        CASE_REPLIES.name: {"Decision": {"$ref": "#/components/messages/Decision"}},
        DEAD_LETTERS.name: {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
    }
    channels = {
        spec.name: {
            "address": f"{prefix}.{spec.name}",
            "description": spec.description,
            "messages": payloads[spec.name],
            "bindings": {
                "kafka": {
                    "topic": f"{prefix}.{spec.name}",
                    "topicConfiguration": {
                        "cleanup.policy": [spec.config.get("cleanup.policy", "delete")],
                        "retention.ms": int(spec.config.get("retention.ms", "-1")),
                    },
                }
            },
        }
        for spec in ALL_TOPICS
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Whistle case topics",
            "version": "1.0.0",
            "description": "Commands to the case decider, the case event log (source of truth, "
            "key = case id, gap-free per-case seq), the decider's replies, and dead letters. "
            "Topic names carry WHISTLE_TOPIC_PREFIX (default 'whistle').",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": {
            "sendCommand": {"action": "send", "channel": {"$ref": "#/channels/case-commands"}},
            "receiveEvents": {"action": "receive", "channel": {"$ref": "#/channels/case-events"}},
            "receiveReplies": {
                "action": "receive",
                "channel": {"$ref": "#/channels/case-replies"},
            },
        },
        "components": {
            "messages": {
                **_messages("commands", commands),
                **_messages("events", events),
                "Decision": {
                    "name": "Decision",
                    "contentType": "application/json",
                    "payload": {
                        "type": "object",
                        "required": ["command_id", "case_id", "status"],
                        "properties": {
                            "command_id": {"type": "string"},
                            "case_id": {"type": "string"},
                            "status": {"enum": ["accepted", "rejected", "duplicate"]},
                            "events": {"type": "array", "items": {"type": "object"}},
                            "code": {"type": "string"},
                            "params": {
                                "type": "object",
                                "additionalProperties": {"type": "string"},
                                "description": "What the rejection names (department, clock, "
                                "case id); with `code`, the message in either language.",
                            },
                            "message": {"type": "string", "description": "In English."},
                        },
                    },
                },
                "DeadLetter": {
                    "name": "DeadLetter",
                    "contentType": "application/octet-stream",
                    "description": "The original record's bytes; headers `reason` (why it could "
                    "not be decoded) and `source-topic`.",
                    "payload": {"type": "string", "format": "binary"},
                },
            }
        },
    }

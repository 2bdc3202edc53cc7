"""Version 1: the packaged TOML files, or the files the settings name instead."""

from __future__ import annotations

from whistle.domain.configuration import Configuration, packaged_configuration
from whistle.domain.routing import load_rules
from whistle.domain.sla import load_policies
from whistle.settings import Settings


def configured_seed(settings: Settings) -> Configuration:
    """The configuration an empty configuration topic is seeded with (version 1).

    ``WHISTLE_ROUTING_RULES_FILE`` and ``WHISTLE_SLA_POLICIES_FILE`` replace the packaged
    rules and policies in it; once the topic holds a version they are not read again.
    """
    config = packaged_configuration()
    update: dict[str, object] = {}
    if settings.routing_rules_file is not None:
        update["routing"] = load_rules(settings.routing_rules_file)
    if settings.sla_policies_file is not None:
        update["policies"] = load_policies(settings.sla_policies_file)
    return config.model_copy(update=update) if update else config

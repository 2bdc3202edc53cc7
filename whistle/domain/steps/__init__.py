"""Lifecycle steps defined in one module each: the command, its events, how it is decided,
how its events apply to the case state (``@evolves``) and what follows on other cases
(``@reacts_to``).

Importing this package imports every module in it, which registers them; ``events`` imports it
before it lists every event (and ``commands`` imports ``events`` before it lists every
command), so a new step is one new module here plus its adapters (projection, HTTP route).
A step module must not import ``whistle.domain.commands`` or ``whistle.domain.events`` names
that are defined after this import (``ALL_COMMANDS``, ``ALL_EVENTS``) nor the codec.
"""

from __future__ import annotations

import importlib
import pkgutil

MODULES = tuple(
    importlib.import_module(f"{__name__}.{info.name}")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name)
)
"""Every step module, imported (in name order, so the registries' order is stable)."""

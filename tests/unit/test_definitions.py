"""Every command and event is defined once, and every piece that hangs off it exists.

A command declares its contract and who may issue it; its decider registers beside it with
``@decides``; the HTTP API offers it (or it is marked ``INTERNAL``); every rejection code the
domain can raise has its Chinese text. An event has its ``evolve`` handler (``@evolves``) and its
projection handler (``@handles``, or an explicit "no read-model effect" mark). Forgetting any of
these fails here, not silently in production.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import ClassVar, Literal, get_args

import pytest

from projections.handlers import HANDLERS as PROJECTION_HANDLERS
from projections.handlers import NO_READ_MODEL_EFFECT
from tests.unit.api.fakes import fake_services
from whistle.api.app import create_app
from whistle.domain import authz
from whistle.domain.base import COMMAND_CLASSES, EVENT_CLASSES, Command, Role
from whistle.domain.codec import COMMAND_ADAPTER, EVENT_ADAPTER
from whistle.domain.commands import ALL_COMMANDS
from whistle.domain.decisions import DECIDERS
from whistle.domain.events import ALL_EVENTS
from whistle.domain.evolve import CREATES_CASE
from whistle.domain.evolve import HANDLERS as EVOLVE_HANDLERS
from whistle.domain.reactions import REACTIONS, reacts_to
from whistle.domain.rejections import MESSAGES
from whistle.settings import Settings

DOMAIN = Path(__file__).resolve().parents[2] / "whistle" / "domain"
COMMANDS = [c.__name__ for c in ALL_COMMANDS]
EVENTS = [e.__name__ for e in ALL_EVENTS]
CODE = re.compile(r"[a-z]+(_[a-z]+)*")


def operation_id(command: type[Command]) -> str:
    """The OpenAPI operation id of a command's route (``add_command_route``'s rule)."""
    return command.__name__[0].lower() + command.__name__[1:]


def rejection_codes() -> set[str]:
    """Every code the domain gives ``reject(…)``/``_reject(…)``, literally or as ``code = …``."""
    codes: set[str] = set()
    for path in DOMAIN.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "code" for t in node.targets
            ):  # code = "a" if … else "b"; reject(code, …)
                value = node.value
                branches = [value.body, value.orelse] if isinstance(value, ast.IfExp) else [value]
                codes.update(
                    b.value
                    for b in branches
                    if isinstance(b, ast.Constant) and isinstance(b.value, str)
                )
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if name not in ("reject", "_reject", "rejection"):
                continue
            literals = [a.value for a in node.args if isinstance(a, ast.Constant)]
            codes.update(v for v in literals[:2] if isinstance(v, str) and CODE.fullmatch(v))
    return codes


def test_the_registries_hold_every_declared_command_and_event() -> None:
    assert list(COMMAND_CLASSES) == COMMANDS
    assert list(EVENT_CLASSES) == EVENTS
    assert len(COMMANDS) == len(set(COMMANDS)) and len(EVENTS) == len(set(EVENTS))


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_a_decider(name: str) -> None:
    assert name in DECIDERS, f"{name}: no @decides({name}) in whistle/domain/decisions or steps"


def test_no_decider_without_a_command() -> None:
    assert set(DECIDERS) == set(COMMANDS)


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=COMMANDS)
def test_every_command_names_who_may_issue_it(command: type[Command]) -> None:
    assert command.ROLES, f"{command.__name__} declares no ROLES"
    assert set(get_args(Role)) >= command.ROLES
    assert authz.ROLES[command.__name__] == command.ROLES
    if command.ACTS_FOR is not None:
        assert "liaison" in command.ROLES


def test_a_command_without_roles_cannot_be_declared() -> None:
    with pytest.raises(TypeError, match="declares no ROLES"):

        class Forgotten(Command):  # pragma: no cover - the class statement itself fails
            type: Literal["Forgotten"] = "Forgotten"

    assert "Forgotten" not in COMMAND_CLASSES


def test_a_command_type_cannot_be_declared_twice() -> None:
    with pytest.raises(TypeError, match="declared twice"):

        class Twice(Command):  # pragma: no cover - the class statement itself fails
            ROLES: ClassVar[frozenset[Role]] = frozenset({"admin"})
            type: Literal["RaiseWhistle"] = "RaiseWhistle"


def test_every_command_has_an_http_route_or_is_marked_internal() -> None:
    document = create_app(Settings(), services=fake_services()).openapi()
    operations = {
        op.get("operationId") for ops in document["paths"].values() for op in ops.values()
    }
    missing = [
        c.__name__ for c in ALL_COMMANDS if not c.INTERNAL and operation_id(c) not in operations
    ]
    assert missing == [], f"commands without a route (add one, or mark INTERNAL): {missing}"
    internal_routed = [
        c.__name__ for c in ALL_COMMANDS if c.INTERNAL and operation_id(c) in operations
    ]
    assert internal_routed == []


def test_every_rejection_code_of_the_domain_has_its_chinese_text() -> None:
    codes = rejection_codes()
    assert {"not_acknowledged", "role_not_allowed", "case_not_found"} <= codes  # the scan works
    missing = sorted(codes - set(MESSAGES))
    assert missing == [], f"rejection codes without a Chinese message: {missing}"


@pytest.mark.parametrize("name", EVENTS)
def test_every_event_has_an_evolve_handler(name: str) -> None:
    assert name in EVOLVE_HANDLERS or name == CREATES_CASE.__name__, f"{name}: no @evolves"


@pytest.mark.parametrize("name", EVENTS)
def test_every_event_has_a_projection_handler_or_a_no_effect_mark(name: str) -> None:
    assert (name in PROJECTION_HANDLERS) != (name in NO_READ_MODEL_EFFECT), (
        f"{name}: add @handles({name!r}) in projections/handlers.py or mark it NO_READ_MODEL_EFFECT"
    )


def test_the_codec_unions_are_the_registries() -> None:
    assert COMMAND_ADAPTER.json_schema()["discriminator"]["mapping"].keys() == set(COMMANDS)
    assert EVENT_ADAPTER.json_schema()["discriminator"]["mapping"].keys() == set(EVENTS)


def test_every_reaction_follows_a_declared_event() -> None:
    assert set(REACTIONS) <= set(EVENTS), (
        f"reactions to unknown events: {set(REACTIONS) - set(EVENTS)}"
    )


def test_an_event_cannot_have_two_reactions() -> None:
    taken = next(iter(REACTIONS))
    event = next(e for e in ALL_EVENTS if e.__name__ == taken)
    with pytest.raises(TypeError, match="two reactions"):
        reacts_to(event)(lambda e: [])
    assert REACTIONS[taken].__name__ != "<lambda>"

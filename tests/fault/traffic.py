"""Steady mixed traffic through the CommandBus, as the API and the console send it.

Each case follows a script chosen at random: the full life (raise, acknowledge, resolve,
callback), a dispute the supervisor upholds, a dispute reassigned to a department that never
answers (its new clock breaches), or a whistle nobody answers (its clocks breach and escalate).
Like a real client, each step is retried with the same command id until a decision arrives;
a step refused because the case is not routed yet is tried again later with a new id. The
ledger records every command sent and how it was decided.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import KafkaError

from whistle.bus import CommandBus, Decision, DecisionTimeout
from whistle.domain import commands, load_rules
from whistle.domain.base import Actor, Command
from whistle.settings import Settings

COMMUNITY = "tongan.datong.jinhai"
CATEGORIES = ("parking", "noise", "garbage")
SECRETARY = Actor(user_id="sec-jinhai", role="secretary", area=COMMUNITY)
SUPERVISOR = Actor(user_id="sup-tongan", role="supervisor", area="tongan")
REASSIGN_TO = "civil_affairs"
SCRIPTS = {"full": 5, "upheld": 2, "reassigned": 1, "silent": 2}
NOT_YET = frozenset({"not_routed", "case_not_found"})
STEP_GIVE_UP_S = 900.0


@dataclass
class Sent:
    """One command as the client saw it: sends, and the decision it finally got."""

    case_id: str
    type: str
    sends: int = 0
    outcome: str = "unknown"  # accepted | duplicate | rejected | unknown (never decided)
    code: str | None = None
    events: int | None = None


@dataclass
class Ledger:
    """Every command sent, by command id, and every case raised, by script."""

    commands: dict[str, Sent] = field(default_factory=dict)
    scripts: dict[str, str] = field(default_factory=dict)
    send_errors: int = 0
    timeouts: int = 0

    def outcomes(self) -> Counter[str]:
        """How many commands ended in each outcome."""
        return Counter(s.outcome for s in self.commands.values())


class Client:
    """Sends one command at a time and waits for its decision, as the API does."""

    def __init__(self, bus: CommandBus, ledger: Ledger) -> None:
        self.bus = bus
        self.ledger = ledger

    async def decide(self, command: Command) -> Decision | None:
        """Send ``command`` until decided (same id every time); None if it never was."""
        sent = self.ledger.commands.setdefault(
            command.command_id, Sent(command.case_id, command.type)
        )
        loop = asyncio.get_running_loop()
        give_up = loop.time() + STEP_GIVE_UP_S
        while loop.time() < give_up:
            sent.sends += 1
            try:
                decision = await asyncio.wait_for(
                    self.bus.submit(command, command.case_id, command.command_id), 60.0
                )
            except (DecisionTimeout, TimeoutError):
                self.ledger.timeouts += 1
                continue
            except (KafkaError, OSError):
                self.ledger.send_errors += 1
                await asyncio.sleep(1.0)
                continue
            sent.outcome, sent.code = decision.status, decision.code
            if decision.status == "accepted":
                sent.events = len(decision.events)
            return decision
        return None

    async def step(self, make: Callable[[], Command]) -> bool:
        """One user action: retried with a fresh id while the case is not routed yet."""
        for _ in range(600):
            decision = await self.decide(make())
            if decision is None:
                return False
            if decision.status != "rejected":
                return True
            if decision.code not in NOT_YET:
                return False
            await asyncio.sleep(0.5)
        return False


def _id() -> str:
    return str(uuid.uuid4())


def liaison(department: str) -> Actor:
    """The liaison of ``department``."""
    return Actor(user_id=f"li-{department}", role="liaison", department=department)


async def run_case(client: Client, case_id: str, script: str, category: str) -> None:
    """Drive one case through ``script``."""
    lead = load_rules().match(category, COMMUNITY).lead
    steps: list[Callable[[], Command]] = [
        lambda: commands.RaiseWhistle(
            command_id=_id(),
            case_id=case_id,
            actor=SECRETARY,
            community=COMMUNITY,
            category=category,
            title="故障测试",
            address="金海社区",
        )
    ]
    if script in ("upheld", "reassigned"):
        steps.append(
            lambda: commands.DisputeAssignment(
                command_id=_id(),
                case_id=case_id,
                actor=liaison(lead),
                department=lead,
                reason="wrong_function",
                text="不属于本部门",
            )
        )
        outcome = "uphold" if script == "upheld" else "reassign"
        new = REASSIGN_TO if outcome == "reassign" else None
        steps.append(
            lambda: commands.RuleOnDispute(
                command_id=_id(),
                case_id=case_id,
                actor=SUPERVISOR,
                department=lead,
                outcome=outcome,
                new_department=new,
            )
        )
    if script in ("full", "upheld"):
        steps += [
            lambda: commands.Acknowledge(
                command_id=_id(), case_id=case_id, actor=liaison(lead), department=lead
            ),
            lambda: commands.ResolveCase(
                command_id=_id(),
                case_id=case_id,
                actor=liaison(lead),
                outcome="solved",
                summary="已处理",
            ),
        ]
    if script == "full":
        steps.append(
            lambda: commands.RecordCallback(
                command_id=_id(),
                case_id=case_id,
                actor=SECRETARY,
                solved=True,
                satisfied=True,
                score=5,
            )
        )
    for make in steps:
        if not await client.step(make):
            return


async def steady_traffic(
    settings: Settings,
    ledger: Ledger,
    stop: asyncio.Event,
    rate_per_s: float,
    rng: random.Random,
    prefix: str,
) -> int:
    """Start cases at ``rate_per_s`` until ``stop``; wait until every started case is done."""
    bus = CommandBus(settings)
    await _retrying(bus.start)
    client = Client(bus, ledger)
    running: set[asyncio.Task[None]] = set()
    names, weights = list(SCRIPTS), list(SCRIPTS.values())
    n = 0
    try:
        while not stop.is_set():
            case_id = f"{prefix}-{n:05d}"
            script = rng.choices(names, weights)[0]
            ledger.scripts[case_id] = script
            task = asyncio.create_task(run_case(client, case_id, script, rng.choice(CATEGORIES)))
            running.add(task)
            task.add_done_callback(running.discard)
            n += 1
            await asyncio.sleep(rng.expovariate(rate_per_s))
        if running:
            await asyncio.gather(*running)
    finally:
        await bus.stop()
    return n


async def _retrying(start: Callable[[], Awaitable[Any]]) -> None:
    for _ in range(60):
        try:
            await start()
            return
        except (KafkaError, OSError):
            await asyncio.sleep(1.0)
    await start()

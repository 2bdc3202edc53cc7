"""The Kafka topics of Whistle, with explicit configuration, created idempotently."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from whistle.settings import Settings

FOREVER = "-1"
DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    """A logical topic: its name suffix, whether it is keyed by case, and its configuration."""

    name: str
    description: str
    per_case: bool = True
    config: dict[str, str] = field(default_factory=dict)
    partitions: int | None = None
    """A fixed partition count; None: the configured ``WHISTLE_PARTITIONS``."""


CASE_COMMANDS = TopicSpec(
    "case-commands",
    "Commands to the case decider (key = case id). Kept 7 days.",
    config={"retention.ms": str(7 * DAY_MS), "cleanup.policy": "delete"},
)
CASE_EVENTS = TopicSpec(
    "case-events",
    "The event log, source of truth (key = case id, per-case seq). Kept forever.",
    config={"retention.ms": FOREVER, "retention.bytes": FOREVER, "cleanup.policy": "delete"},
)
CASE_REPLIES = TopicSpec(
    "case-replies",
    "The decider's outcome of each command (key = command id), read by the API. Kept 1 hour.",
    per_case=False,
    config={"retention.ms": str(3600 * 1000), "cleanup.policy": "delete"},
)
DEAD_LETTERS = TopicSpec(
    "dead-letters",
    "Records that could not be decoded, with the reason and original bytes. Kept 30 days.",
    per_case=False,
    config={"retention.ms": str(30 * DAY_MS), "cleanup.policy": "delete"},
)
CONFIGURATION = TopicSpec(
    "configuration",
    "Published configuration versions (key = version number/unique id, value = the whole "
    "snapshot). One partition, so every process reads the versions in one order; compacted "
    "with keys that never repeat (nothing is dropped), kept forever; the broker stamps each "
    "record's append time (LogAppendTime).",
    per_case=False,
    partitions=1,
    config={
        "cleanup.policy": "compact",
        "retention.ms": FOREVER,
        "message.timestamp.type": "LogAppendTime",
    },
)
ALL_TOPICS = (CASE_COMMANDS, CASE_EVENTS, CASE_REPLIES, DEAD_LETTERS)
STREAM_TABLES = ("cases",)
"""The stream worker's tables (``streams/glue.py``), co-partitioned with the commands."""


def changelog_topic(settings: Settings, table: str) -> str:
    """Faust's changelog topic of a stream-worker table (app id ``<prefix>-streams``)."""
    return f"{settings.topic_prefix}-streams-{table}-changelog"


def _new_topics(settings: Settings, specs: tuple[TopicSpec, ...]) -> dict[str, NewTopic]:
    """The topics to exist, by name: ``specs`` and, with the commands, the tables' changelogs.

    Faust would create the changelogs itself, but a worker that leads the group's first
    rebalance before they exist records them as having no partitions, and its decider then
    fails every write with ``PartitionsMismatch`` until the next metadata refresh (5 min).
    """
    wanted = {
        settings.topic(spec.name): NewTopic(
            name=settings.topic(spec.name),
            num_partitions=spec.partitions or settings.partitions,
            replication_factor=settings.replication_factor,
            topic_configs=spec.config,
        )
        for spec in specs
    }
    if CASE_COMMANDS in specs:
        for table in STREAM_TABLES:
            name = changelog_topic(settings, table)
            wanted[name] = NewTopic(
                name=name,
                num_partitions=settings.partitions,
                replication_factor=settings.replication_factor,
                topic_configs={"cleanup.policy": "compact"},
            )
    return wanted


async def ensure_topics(
    settings: Settings, specs: tuple[TopicSpec, ...] = ALL_TOPICS, wait_s: float = 120.0
) -> None:
    """Create the topics that do not exist yet; leave existing ones alone.

    A broker that does not answer yet (restarting) is waited for up to ``wait_s`` seconds, so
    a process started during a broker restart comes up once it is back instead of exiting.
    """
    admin = await _connected_admin(settings.bootstrap, wait_s)
    try:
        existing = set(await admin.list_topics())
        wanted = _new_topics(settings, specs)
        missing = [topic for name, topic in wanted.items() if name not in existing]
        if missing:
            response = await admin.create_topics(missing)
            for name, code, *rest in response.topic_errors:
                if code not in (0, TopicAlreadyExistsError.errno):  # exists: made concurrently
                    reason = rest[0] if rest else ""
                    raise RuntimeError(f"cannot create topic {name}: error {code} {reason}")
        described = await _wait_until_led(admin, list(wanted))
        fixed = {settings.topic(s.name): s.partitions for s in specs if s.partitions}
        _check_partitions([t for t in described if t["topic"] not in fixed], settings.partitions)
        for count in set(fixed.values()):
            named = [t for t in described if fixed.get(t["topic"]) == count]
            _check_partitions(named, count)
    finally:
        await admin.close()


async def _connected_admin(bootstrap: str, wait_s: float) -> AIOKafkaAdminClient:
    """An admin client connected to ``bootstrap``, retrying for up to ``wait_s`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            await admin.start()
            return admin
        except KafkaConnectionError:
            await admin.close()
            if loop.time() > deadline:
                raise
            await asyncio.sleep(1.0)


def _check_partitions(described: list[dict[str, Any]], expected: int) -> None:
    """Refuse topics whose partition count is not the configured one.

    Cases, their commands, events and table changelog are co-partitioned: a topic made with
    another count (by hand, or auto-created with the broker's default when a client named it
    before it existed) would put a case's records where its decider does not look.
    """
    wrong = {
        t["topic"]: len(t["partitions"]) for t in described if len(t["partitions"]) != expected
    }
    if wrong:
        found = ", ".join(f"{name} has {n}" for name, n in sorted(wrong.items()))
        raise RuntimeError(
            f"topics must have {expected} partitions (WHISTLE_PARTITIONS) but {found}: "
            "recreate them with that count, or set WHISTLE_PARTITIONS to theirs"
        )


async def _wait_until_led(
    admin: AIOKafkaAdminClient, names: list[str], timeout_s: float = 30.0
) -> list[dict[str, Any]]:
    """Wait until every partition of ``names`` has a leader; return their descriptions.

    A consumer group that joins before a new topic's metadata is complete is assigned none of
    its partitions and keeps that assignment until the next rebalance.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        described = await admin.describe_topics(names)
        if all(
            topic["error_code"] == 0
            and topic["partitions"]
            and all(p["error_code"] == 0 and p["leader"] >= 0 for p in topic["partitions"])
            for topic in described
        ):
            return list(described)
        if loop.time() > deadline:
            raise RuntimeError(f"topics have no leader after {timeout_s:.0f} s: {names}")
        await asyncio.sleep(0.2)

"""Where and how each user is reached: contact points, language, quiet hours, digest, the
order of channels, and the group robots of departments and areas (schema ``notify``).

In-app is always on. Of the other channels, a notice goes to the first one in the user's
order that has an address (:meth:`Preferences.routes`); when that channel's delivery goes
dead the next one is tried. A robot is the user's own, else their group's: the department's
robot for a liaison, the robot of their area for a supervisor. A group robot's deliveries are
addressed to the group, so a department's five liaisons make one message in its chat.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

import asyncpg

from whistle.audit.entries import record
from whistle.notify.templates import CHINA
from whistle.webhooks.secretbox import SecretBox

ROBOTS = ("wecom", "dingtalk", "feishu")
CHANNELS = ("wecom", "dingtalk", "feishu", "email", "sms")
"""The channels besides in-app, in the default order of fallback."""


@dataclass(frozen=True)
class Robot:
    """A chat robot's webhook URL and its signing secret (DingTalk, Feishu)."""

    platform: str
    url: str
    secret: str | None = None


@dataclass(frozen=True)
class Route:
    """One channel a notice may take: the channel, the address, and who the delivery is to
    (the user, or the group whose robot it is)."""

    channel: str
    target: str
    secret: str | None
    recipient: str


@dataclass(frozen=True)
class Preferences:
    """One user's notification settings (defaults: Chinese, no quiet hours, no digest)."""

    user_id: str
    language: str = "zh"
    email: str | None = None
    phone: str | None = None
    robot: Robot | None = None
    quiet_start: time | None = None
    quiet_end: time | None = None
    digest: bool = False
    channels: tuple[str, ...] = CHANNELS

    def routes(
        self, groups: Iterable[tuple[str, Robot]] = (), enabled: Iterable[str] = CHANNELS
    ) -> list[Route]:
        """The channels the user can be reached on, in the user's order (in-app aside).

        ``groups``: the group robots that reach this user (``department:x`` / ``area:y`` and
        its robot); ``enabled``: the channels this installation has configured."""
        on = set(enabled)
        grouped: dict[str, tuple[str, Robot]] = {}
        for owner, robot in groups:
            grouped.setdefault(robot.platform, (owner, robot))
        found: list[Route] = []
        for channel in self.channels:
            if channel not in on:
                continue
            if channel == "email" and self.email:
                found.append(Route("email", self.email, None, self.user_id))
            elif channel == "sms" and self.phone:
                found.append(Route("sms", self.phone, None, self.user_id))
            elif channel in ROBOTS:
                if self.robot is not None and self.robot.platform == channel:
                    r = self.robot
                    found.append(Route(channel, r.url, r.secret, self.user_id))
                elif channel in grouped:
                    owner, r = grouped[channel]
                    found.append(Route(channel, r.url, r.secret, owner))
        return found

    def quiet_until(self, at: datetime) -> datetime | None:
        """The end of the quiet period ``at`` falls in (China time), or None when not quiet.

        A period whose end is before its start runs over midnight (22:00–07:00)."""
        start, end = self.quiet_start, self.quiet_end
        if start is None or end is None or start == end:
            return None
        local = at.astimezone(CHINA)
        now = local.time().replace(tzinfo=None)
        if start < end:
            quiet = start <= now < end
            end_day = local.date()
        else:
            quiet = now >= start or now < end
            end_day = local.date() + timedelta(days=1) if now >= start else local.date()
        if not quiet:
            return None
        return datetime.combine(end_day, end, tzinfo=CHINA)


def groups_of(person_role: str, department: str | None, area: str | None) -> list[str]:
    """The group owners whose robots reach a user: a liaison's department, a supervisor's
    area."""
    if person_role == "liaison" and department:
        return [f"department:{department}"]
    if person_role == "supervisor" and area:
        return [f"area:{area}"]
    return []


def next_digest_at(at: datetime, hour: int) -> datetime:
    """The next digest instant (``hour`` o'clock China time) after ``at``."""
    local = at.astimezone(CHINA)
    when = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    return when if when > local else when + timedelta(days=1)


class PreferenceStore:
    """Every query of preferences and group robots, over one pool; secrets sealed."""

    def __init__(self, pool: asyncpg.Pool, box: SecretBox) -> None:
        self.pool = pool
        self.box = box

    def _open(self, sealed: str | None) -> str | None:
        return self.box.open(sealed) if sealed else None

    def _seal(self, value: str | None) -> str | None:
        return self.box.seal(value) if value else None

    def _prefs(self, row: Mapping[str, Any]) -> Preferences:
        robot = None
        if row["robot_platform"] and row["robot_url_sealed"]:
            robot = Robot(
                row["robot_platform"],
                self.box.open(row["robot_url_sealed"]),
                self._open(row["robot_secret_sealed"]),
            )
        return Preferences(
            user_id=row["user_id"],
            language=row["language"],
            email=self._open(row["email_sealed"]),
            phone=self._open(row["phone_sealed"]),
            robot=robot,
            quiet_start=row["quiet_start"],
            quiet_end=row["quiet_end"],
            digest=row["digest"],
            channels=tuple(row["channels"]),
        )

    async def get(self, user_id: str) -> Preferences:
        """The user's preferences (the defaults when never set)."""
        row = await self.pool.fetchrow(
            "SELECT * FROM notify.preferences WHERE user_id = $1", user_id
        )
        return self._prefs(row) if row else Preferences(user_id)

    async def all(self) -> dict[str, Preferences]:
        """Everyone's stored preferences, by user id."""
        rows = await self.pool.fetch("SELECT * FROM notify.preferences")
        return {r["user_id"]: self._prefs(r) for r in rows}

    async def put(self, prefs: Preferences, actor: str) -> None:
        """Store a user's preferences (replacing them), with an audit entry without the
        addresses."""
        robot = prefs.robot
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO notify.preferences (user_id, language, email_sealed, phone_sealed,"
                " robot_platform, robot_url_sealed, robot_secret_sealed, quiet_start, quiet_end,"
                " digest, channels, updated_at, updated_by)"
                " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,now(),$12)"
                " ON CONFLICT (user_id) DO UPDATE SET language = EXCLUDED.language,"
                " email_sealed = EXCLUDED.email_sealed, phone_sealed = EXCLUDED.phone_sealed,"
                " robot_platform = EXCLUDED.robot_platform,"
                " robot_url_sealed = EXCLUDED.robot_url_sealed,"
                " robot_secret_sealed = EXCLUDED.robot_secret_sealed,"
                " quiet_start = EXCLUDED.quiet_start, quiet_end = EXCLUDED.quiet_end,"
                " digest = EXCLUDED.digest, channels = EXCLUDED.channels,"
                " updated_at = now(), updated_by = EXCLUDED.updated_by",
                prefs.user_id, prefs.language, self._seal(prefs.email), self._seal(prefs.phone),
                robot.platform if robot else None, self._seal(robot.url if robot else None),
                self._seal(robot.secret if robot else None), prefs.quiet_start, prefs.quiet_end,
                prefs.digest, list(prefs.channels), actor,
            )  # fmt: skip
            await record(
                conn,
                actor=actor,
                kind="notify.preferences_set",
                subject=f"user {prefs.user_id}",
                after={
                    "language": prefs.language,
                    "email": bool(prefs.email),
                    "phone": bool(prefs.phone),
                    "robot": robot.platform if robot else None,
                    "quiet": [str(prefs.quiet_start), str(prefs.quiet_end)]
                    if prefs.quiet_start
                    else None,
                    "digest": prefs.digest,
                    "channels": list(prefs.channels),
                },
            )

    async def put_group_robot(self, owner: str, robot: Robot, actor: str) -> None:
        """Set the robot of ``department:x`` or ``area:y`` on its platform."""
        kind, _, code = owner.partition(":")
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO notify.group_robots (owner_kind, owner, platform, url_sealed,"
                " secret_sealed, updated_by) VALUES ($1,$2,$3,$4,$5,$6)"
                " ON CONFLICT (owner_kind, owner, platform) DO UPDATE SET"
                " url_sealed = EXCLUDED.url_sealed, secret_sealed = EXCLUDED.secret_sealed,"
                " updated_at = now(), updated_by = EXCLUDED.updated_by",
                kind, code, robot.platform, self.box.seal(robot.url), self._seal(robot.secret),
                actor,
            )  # fmt: skip
            await record(
                conn,
                actor=actor,
                kind="notify.group_robot_set",
                subject=owner,
                after={"platform": robot.platform, "signed": bool(robot.secret)},
            )

    async def delete_group_robot(self, owner: str, platform: str, actor: str) -> bool:
        """Remove a group robot; False when there was none."""
        kind, _, code = owner.partition(":")
        async with self.pool.acquire() as conn, conn.transaction():
            status = await conn.execute(
                "DELETE FROM notify.group_robots WHERE owner_kind = $1 AND owner = $2"
                " AND platform = $3",
                kind,
                code,
                platform,
            )
            gone = status.endswith(" 1")
            if gone:
                await record(
                    conn,
                    actor=actor,
                    kind="notify.group_robot_removed",
                    subject=owner,
                    before={"platform": platform},
                )
        return gone

    async def group_robots(self) -> dict[str, list[Robot]]:
        """Every group robot, by owner (``department:x`` / ``area:y``)."""
        rows = await self.pool.fetch(
            "SELECT owner_kind, owner, platform, url_sealed, secret_sealed"
            " FROM notify.group_robots ORDER BY owner_kind, owner, platform"
        )
        found: dict[str, list[Robot]] = {}
        for r in rows:
            robot = Robot(r["platform"], self.box.open(r["url_sealed"]), self._open(r[4]))
            found.setdefault(f"{r['owner_kind']}:{r['owner']}", []).append(robot)
        return found


@dataclass
class Reach:
    """A snapshot of everyone's preferences and the group robots (the notifier's cache)."""

    preferences: dict[str, Preferences] = field(default_factory=dict)
    robots: dict[str, list[Robot]] = field(default_factory=dict)

    def of(self, user_id: str) -> Preferences:
        """The user's preferences (defaults when none are stored)."""
        return self.preferences.get(user_id) or Preferences(user_id)

    def groups(self, owners: Iterable[str]) -> list[tuple[str, Robot]]:
        """The group robots of ``owners``."""
        return [(o, r) for o in owners for r in self.robots.get(o, ())]

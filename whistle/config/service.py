"""What the API does with configuration: propose, check, diff, publish (and tell the audit).

Every publish is recorded in the audit log (``whistle.audit.entries.record_config_change``, in
the publish's transaction once the version is on the topic: who, role, district, the kinds,
``effective_from`` and the diff, the reason as the note). ``PublishHook``: every function in
``ConfigService.hooks`` is awaited after each publish with a ``Published`` (the version's
metadata, the publisher, the kinds the request proposed and the diff against the version it
replaced) — for anything else that must know (notifications); a failing hook is logged,
never undoes the publish (the version is on the topic by then).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from whistle.audit.entries import record_config_change
from whistle.config.follower import ConfigFollower
from whistle.config.scope import outside_scope
from whistle.config.version_table import PUBLISH_LOCK, PgConfigVersions, record
from whistle.config.versions import (
    MIN_LEAD,
    ConfigVersion,
    Kind,
    VersionMeta,
    next_version,
    with_kind,
    with_kinds,
)
from whistle.domain.configuration import ConfigDiff, Configuration, Finding, check, diff
from whistle.logs import get_logger

log = get_logger()


@dataclass(frozen=True)
class Publisher:
    """Who publishes: the user, the role, and a config_admin's district."""

    user_id: str
    role: str
    district: str | None = None


@dataclass(frozen=True)
class Published:
    """What a publish hook is given."""

    version: VersionMeta
    publisher: Publisher
    kinds: tuple[Kind, ...]
    diff: ConfigDiff


PublishHook = Callable[[Published], Awaitable[None]]
Changes = Sequence[tuple[Kind, Any]]
"""A proposal: one whole document per kind it changes."""


async def _audit(
    conn: asyncpg.Connection,
    before: ConfigVersion,
    after: ConfigVersion,
    changes: ConfigDiff,
    publisher: Publisher,
) -> None:
    """The audit log's entry of a publish (``whistle.audit.entries.record_config_change``)."""
    try:
        async with conn.transaction():
            await record_config_change(
                conn,
                actor=publisher.user_id,
                version=after.version,
                before={"version": before.version},
                after={
                    "version": after.version,
                    "kinds": list(after.kinds),
                    "effective_from": after.effective_from.isoformat(),
                    "rules_version": after.rules_version,
                    "policy_version": after.policy_version,
                    "role": publisher.role,
                    "district": publisher.district,
                    "diff": changes.model_dump(mode="json"),
                },
                note=after.reason,
            )
    except (asyncpg.PostgresError, OSError) as exc:  # the version is out: say so, go on
        log.error("config_publish_not_audited", version=after.version, error=str(exc))


class Refused(Exception):
    """A publish that may not happen: ``why`` is a stable code, ``values`` its details."""

    def __init__(self, why: str, **values: Any) -> None:
        super().__init__(why)
        self.why = why
        self.values = values


class Invalid(Refused):
    """The proposed version has findings."""

    def __init__(self, findings: list[Finding]) -> None:
        super().__init__("invalid")
        self.findings = findings


@dataclass
class DryRun:
    """A proposal checked against the current version."""

    base: ConfigVersion
    proposed: Configuration
    findings: list[Finding]
    diff: ConfigDiff
    outside: list[str] = field(default_factory=list)


def _checked(base: ConfigVersion, proposed: Configuration, district: str | None) -> DryRun:
    outside = [] if district is None else outside_scope(base.document, proposed, district)
    return DryRun(base, proposed, check(proposed), diff(base.document, proposed), outside)


@dataclass
class ConfigService:
    """The configuration as the API sees it: the followed topic and the read model."""

    follower: ConfigFollower
    versions: PgConfigVersions
    pool: asyncpg.Pool
    hooks: list[PublishHook] = field(default_factory=list)

    async def sync(self) -> None:
        """Bring the read model up to the versions followed."""
        await self.versions.sync(self.follower.history)

    async def list_versions(self, kind: Kind | None = None) -> list[VersionMeta]:
        """The versions (or those that changed ``kind``), newest first, from the read model
        (from the followed topic while the read model's table is not migrated yet)."""
        await self.sync()
        try:
            return await self.versions.versions(kind)
        except asyncpg.UndefinedTableError:
            found = self.follower.history.versions
            return [v.meta() for v in reversed(found) if kind is None or kind in v.kinds]

    def current(self) -> ConfigVersion:
        """The version in force now."""
        return self.follower.current()

    def latest(self) -> ConfigVersion:
        """The highest numbered version (a proposal replaces it)."""
        last = self.follower.history.last
        assert last is not None
        return last

    def dry_run(self, kind: Kind, document: Any, district: str | None = None) -> DryRun:
        """``document`` as ``kind`` of the latest version: findings, diff, scope (raises
        ``ValueError`` when the document is not of the kind's shape)."""
        base = self.latest()
        return _checked(base, with_kind(base.document, kind, document), district)

    def dry_run_all(self, changes: Changes, district: str | None = None) -> DryRun:
        """A proposal of several kinds, each ``(kind, document)`` put in place in the latest
        version in turn, checked together (raises ``KindInvalid`` naming the first document
        not of its kind's shape)."""
        base = self.latest()
        return _checked(base, with_kinds(base.document, changes), district)

    async def publish(
        self,
        changes: Changes,
        *,
        publisher: Publisher,
        reason: str,
        effective_from: datetime | None,
        expected_version: int,
    ) -> ConfigVersion:
        """Publish the ``(kind, document)`` changes together as version ``expected_version +
        1`` (the API publishes one kind a request; the admin's page a proposal of several).

        Refused (nothing appended) when the latest version is not ``expected_version``
        (``stale``), when ``effective_from`` is sooner than ``MIN_LEAD`` from now
        (``backdated``), when the proposal changes something outside a config_admin's
        district (``outside_scope``), changes nothing (``no_change``) or has findings.
        """
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", PUBLISH_LOCK)
            await self.follower.refresh()
            latest = self.latest()
            if latest.version != expected_version:
                raise Refused("stale", expected=expected_version, latest=latest.version)
            now = datetime.now(UTC)
            effective = effective_from or now + MIN_LEAD
            if effective < now + MIN_LEAD:
                raise Refused(
                    "backdated",
                    effective_from=effective.isoformat(),
                    earliest=(now + MIN_LEAD).isoformat(timespec="seconds"),
                )
            run = self.dry_run_all(changes, publisher.district)
            if run.outside:
                raise Refused("outside_scope", what=", ".join(run.outside))
            if run.findings:
                raise Invalid(run.findings)
            version = next_version(
                latest,
                run.proposed,
                author=publisher.user_id,
                reason=reason,
                effective_from=effective,
                published_at=now,
            )
            if not version.kinds:
                raise Refused("no_change")
            taken = await self.follower.publish(version)
            # on the topic now, so published: the row is a copy (the projector makes it too)
            try:
                async with conn.transaction():
                    await record(conn, [taken])
            except (asyncpg.PostgresError, OSError) as exc:
                log.warning("config_version_not_recorded", version=taken.version, error=str(exc))
            await _audit(conn, latest, taken, run.diff, publisher)
        published = Published(taken.meta(), publisher, tuple(k for k, _ in changes), run.diff)
        for hook in self.hooks:
            try:
                await hook(published)
            except Exception as exc:
                log.error("config_publish_hook_failed", version=taken.version, error=str(exc))
        log.info(
            "config_published",
            version=taken.version,
            kinds=list(taken.kinds),
            author=publisher.user_id,
            effective_from=taken.effective_from.isoformat(),
        )
        return taken

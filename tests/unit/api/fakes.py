"""In-memory stand-ins for the bus, the read models and the user store."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.unit.api import fake_metrics
from tests.unit.api.fake_metrics import instant
from whistle.api.account_store import IdempotencyMismatch, IdempotentClaim
from whistle.api.deps import Services
from whistle.api.identity import Principal
from whistle.attachments.library import PhotoLibrary
from whistle.attachments.photos import PhotoInfo
from whistle.bus import Decision, DecisionTimeout
from whistle.domain import fold, parse_event
from whistle.domain.state import CaseState
from whistle.read.gateway import BOARD_LIMIT, BREACH_LIMIT, CLOSED, Lag, MetricsQuery
from whistle.read.resolution_metrics import ranked
from whistle.read.scope import CaseFilters, Row, Scope, newest_first
from whistle.read.similarity import eligible

JINHAI = "tongan.datong.jinhai"
JINHAI_GRID = "tongan.datong.jinhai.g01"
YUNXI = "tongan.datong.yunxi"
FENGXIANG = "tongan.xiangping.fengxiang"
HAICANG_COMMUNITY = "haicang.xinyang.xxx"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

USERS = {
    "tok-sec-in": Principal("sec-jinhai", "secretary", area=JINHAI),
    "tok-sec-out": Principal("sec-fengxiang", "secretary", area=FENGXIANG),
    "tok-sec-neighbour": Principal("sec-yunxi", "secretary", area=YUNXI),
    "tok-liaison-in": Principal("li-um", "liaison", department="urban_management"),
    "tok-liaison-out": Principal("li-civil", "liaison", department="civil_affairs"),
    "tok-sup-street-in": Principal("sup-datong", "supervisor", area="tongan.datong"),
    "tok-sup-district-in": Principal("sup-tongan", "supervisor", area="tongan"),
    "tok-sup-out": Principal("sup-haicang", "supervisor", area="haicang"),
    "tok-admin": Principal("admin", "admin"),
}


def case_row(case_id: str, area: str, departments: list[str], **extra: Any) -> Row:
    """A case row as the read model returns it (``area`` a community or a grid beneath one);
    a ``breach_count`` gives the lead's acknowledgement clock breached."""
    parts = area.split(".")
    clocks = [breached_clock(departments[0])] if extra.get("breach_count") else []
    district, street, community = parts[0], ".".join(parts[:2]), ".".join(parts[:3])
    return {
        "case_id": case_id,
        "status": "routed",
        "title": "游客激增，占道停车",
        "category": "parking",
        "urgency": "general",
        "channel": "whistle",
        "area": area,
        "community": community,
        "street": street,
        "district": district,
        "lead_department": departments[0] if departments else None,
        "departments": departments,
        "raised_at": T0,
        "updated_at": T0,
        "breach_count": 0,
        "reopen_count": 0,
        "assignments": [],
        "clocks": clocks,
        **extra,
    }


def breached_clock(department: str) -> Row:
    """A department's acknowledgement clock, breached and still running."""
    due = T0 + timedelta(hours=2)
    return {
        "clock": "ack",
        "department": department,
        "due_at": due,
        "breached_at": due,
        "stopped_at": None,
    }


def raised_event(case_id: str, community: str) -> Row:
    """A WhistleRaised timeline row."""
    body = {
        "type": "WhistleRaised",
        "event_id": "e1",
        "case_id": case_id,
        "seq": 1,
        "occurred_at": T0.isoformat(),
        "actor": {"user_id": "sec-jinhai", "role": "secretary", "area": community},
        "command_id": "c1",
        "community": community,
        "category": "parking",
        "title": "游客激增，占道停车",
        "description": "海堤路周末游客车辆占道",
        "urgency": "general",
        "channel": "whistle",
        "address": "金海社区海堤路",
        "location": {"lat": 24.7, "lon": 118.15},
    }
    return {"seq": 1, "type": "WhistleRaised", "occurred_at": T0, "command_id": "c1", "body": body}


class FakeBus:
    """Accepts every command (or times out / rejects when told), remembering what was sent."""

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.mode = "accept"
        self.code = "not_acknowledged"
        self.params = {"department": "urban_management"}
        self._seen: set[str] = set()

    async def submit(self, command: Any, case_id: str, command_id: str) -> Decision:
        self.sent.append(command)
        if self.mode == "timeout":
            raise DecisionTimeout(command_id)
        if self.mode == "reject":
            return Decision(
                command_id=command_id,
                case_id=case_id,
                status="rejected",
                code=self.code,
                params=self.params,
                message="The department has not acknowledged the case yet.",
            )
        status = "duplicate" if command_id in self._seen else "accepted"
        self._seen.add(command_id)
        events = (
            [{"type": command.type, "case_id": case_id, "seq": 1}] if status == "accepted" else []
        )
        return Decision(command_id=command_id, case_id=case_id, status=status, events=events)


BREACH_COLUMNS = (
    "status",
    "category",
    "district",
    "street",
    "community",
    "lead_department",
    "escalation_tier",
    "escalation_step",
    "escalated_at",
)
"""What the ``open_breaches`` view takes from the case (after the clock's own columns)."""
JOINED = ("department", "reported_in_at")
"""What the joint-action board tells of each department."""
DISPUTE_CASE_COLUMNS = ("category", "community", "lead_department")
"""What the disputes board takes from the case (after the dispute's own columns)."""
EXTENSION_CASE_COLUMNS = ("category", "community")
"""What the extensions board takes from the case."""
ESCALATION_CASE_COLUMNS = ("status", "category", "community", "lead_department")
"""What the escalations board takes from the case."""


def nulls_last(value: Any) -> tuple[bool, Any]:
    """A sort key ordering as PostgreSQL's ascending order does: None after every value."""
    return (value is None, value)


def seq(event: Row) -> int:
    """The per-case sequence number of an event or a board row."""
    return int(event["seq"])


def lead_resolve_clock(case: Row) -> Row | None:
    """The resolve clock a resident is told of: the lead department's before another's, a
    running one before a released one, the latest started first (``FOLLOW_UPS_SQL``)."""
    lead = case.get("lead_department")
    clocks = [k for k in case["clocks"] if k["clock"] == "resolve"]
    started = sorted(
        (k for k in clocks if k.get("started_at") is not None),
        key=lambda k: k["started_at"],
        reverse=True,
    )
    clocks = [k for k in clocks if k.get("started_at") is None] + started  # DESC: nulls first
    clocks.sort(
        key=lambda k: (lead is not None and k["department"] != lead, k.get("status") == "released")
    )
    return clocks[0] if clocks else None


RUNNING = ("running", "paused")
DEADLINE_KEYS = ("clock", "department", "status", "started_at", "due_at")


def deadline_row(case_id: str, clock: Row, now: datetime) -> Row:
    """A clock as ``PgRead.deadlines`` answers it (``DEADLINES_SQL``'s columns)."""
    due, paused = instant(clock["due_at"]), instant(clock.get("paused_at"))
    assert due is not None
    return {
        "case_id": case_id,
        **{key: clock.get(key) for key in DEADLINE_KEYS},
        "remaining_seconds": (due - (paused or now)).total_seconds(),
        "breached": clock.get("breached_at") is not None or bool(clock.get("breached")),
    }


@dataclass
class FakeRead:
    """Read models in memory, scoped and filtered by the rules the SQL renders
    (``Scope.holds``, ``CaseFilters.matches``): tests/integration/api/test_read_contract.py
    holds it to the same answers as ``PgRead``."""

    rows: dict[str, Row] = field(default_factory=dict)
    events: dict[str, list[Row]] = field(default_factory=dict)
    dispute_rows: list[Row] = field(default_factory=list)
    """Rows of the ``disputes`` table, every status."""
    extension_rows: list[Row] = field(default_factory=list)
    """Rows of the ``extension_requests`` table, every status."""
    escalation_rows: list[Row] = field(default_factory=list)
    """Rows of the ``escalations`` table."""
    callback_rows: list[Row] = field(default_factory=list)
    """Rows of the ``callbacks`` table (the metrics' 解决率 and 满意率)."""
    checkpoints: list[Row] = field(default_factory=list)
    """Rows of the ``checkpoints`` table (``high_watermark``, ``next_offset``,
    ``last_event_at``)."""
    down: bool = False

    def add(self, row: Row, events: list[Row] | None = None) -> None:
        self.rows[row["case_id"]] = row
        self.events[row["case_id"]] = events or [raised_event(row["case_id"], row["community"])]

    def _in(self, scope: Scope) -> list[Row]:
        return [r for r in self.rows.values() if scope.holds(r["area"], r["departments"])]

    def _joined(
        self, table: list[Row], scope: Scope, columns: tuple[str, ...], own_department: bool
    ) -> list[Row]:
        """The rows of ``table`` whose case exists, with the case's ``columns``, in ``scope``:
        by the case's area and the row's own department (``own_department``, a dispute or an
        extension request) or the case's departments (an escalation)."""
        out = []
        for row in table:
            case = self.rows.get(row["case_id"])
            if case is None:
                continue
            departments = [row["department"]] if own_department else case["departments"]
            if scope.holds(case["area"], departments):
                out.append(row | {k: case.get(k) for k in columns})
        return out

    async def case(self, case_id: str) -> Row | None:
        return self.rows.get(case_id)

    async def case_scope(self, case_id: str) -> Row | None:
        row = self.rows.get(case_id)
        return None if row is None else {"area": row["area"], "departments": row["departments"]}

    async def cases(self, scope: Scope, filters: CaseFilters) -> list[Row]:
        out = newest_first([r for r in self._in(scope) if filters.matches(r)])
        return out[filters.offset : filters.offset + filters.limit]

    async def timeline(self, case_id: str) -> list[Row]:
        return self.events.get(case_id, [])

    async def case_timeline(self, case_id: str) -> tuple[Row, list[Row]] | None:
        scope = await self.case_scope(case_id)
        return None if scope is None else (scope, await self.timeline(case_id))

    async def case_as_of(self, case_id: str, at: datetime) -> CaseState | None:
        bodies = [e["body"] for e in self.events.get(case_id, []) if e["occurred_at"] <= at]
        return fold(parse_event(b) for b in bodies) if bodies else None

    async def whistles(self, case_ids: list[str]) -> dict[str, Row]:
        return {i: self.events[i][0]["body"] for i in case_ids if i in self.events}

    async def similar_candidates(self, scope: Scope, community: str, at: datetime) -> list[Row]:
        return newest_first([r for r in self._in(scope) if eligible(community, at, r)])

    async def deadlines(self, case_ids: list[str]) -> dict[str, list[Row]]:
        out: dict[str, list[Row]] = {}
        now = datetime.now(UTC)
        for i in case_ids:
            clocks = self.rows.get(i, {}).get("clocks", ())
            running = sorted(
                (k for k in clocks if k.get("status", "running") in RUNNING and k.get("due_at")),
                key=lambda k: (instant(k["due_at"]), k["clock"], k["department"]),
            )
            if running:
                out[i] = [deadline_row(i, k, now) for k in running]
        return out

    async def follow_ups(self, case_ids: list[str]) -> dict[str, Row]:
        out: dict[str, Row] = {}
        for i in case_ids:
            if i not in self.rows:
                continue
            row = self.rows[i]
            clock = lead_resolve_clock(row)
            events = self.events[i] if row.get("published_at") is not None else []
            published = sorted((e for e in events if e["type"] == "CasePublished"), key=seq)
            out[i] = {
                "expected_at": None if clock is None else clock["due_at"],
                "summary": published[-1]["body"].get("summary") if published else None,
            }
        return out

    async def breaches(self, scope: Scope) -> list[Row]:
        """Breached running clocks of open cases; a department scope: its own clocks."""
        out = [
            {"case_id": r["case_id"]}
            | {k: clock[k] for k in ("clock", "department", "due_at", "breached_at")}
            | {k: r.get(k) for k in BREACH_COLUMNS}
            for r in self.rows.values()
            if r["status"] not in CLOSED
            for clock in r["clocks"]
            if clock.get("breached_at") is not None and clock.get("stopped_at") is None
            if scope.holds(r["area"], [clock["department"]])
        ]
        order = lambda b: (nulls_last(b["due_at"]), b["case_id"], b["clock"], b["department"])  # noqa: E731
        return sorted(out, key=order)[:BREACH_LIMIT]

    async def disputes(self, scope: Scope) -> list[Row]:
        """退单 awaiting a ruling, in scope by the disputing department, oldest first."""
        awaiting = [d for d in self.dispute_rows if d["status"] == "awaiting"]
        out = self._joined(awaiting, scope, DISPUTE_CASE_COLUMNS, own_department=True)
        return sorted(out, key=lambda d: (nulls_last(d["raised_at"]), d["case_id"], d["seq"]))

    async def extensions(self, scope: Scope) -> list[Row]:
        """Pending 延期 requests, in scope by the asking department, oldest first, each with
        its ``clock_key``."""
        pending = [x for x in self.extension_rows if x["status"] == "pending"]
        out = self._joined(pending, scope, EXTENSION_CASE_COLUMNS, own_department=True)
        out.sort(key=lambda x: (nulls_last(x["requested_at"]), x["case_id"], x["seq"]))
        return [x | {"clock_key": f"{x['clock']}:{x['department']}"} for x in out]

    async def joint_actions(self, scope: Scope) -> list[Row]:
        """集结 of routed and in-progress cases in scope, from each case's ``joint_actions``."""
        out = [
            {k: r[k] for k in ("case_id", "title", "community", "lead_department")}
            | {k: a[k] for k in ("action_id", "at", "place", "assembled_at")}
            | {"departments": [{k: d[k] for k in JOINED} for d in a["departments"]]}
            for r in self._in(scope)
            if r["status"] in ("routed", "in_progress")
            for a in r.get("joint_actions", [])
        ]
        return sorted(out, key=lambda j: (j["at"], j["case_id"], j["action_id"]))[:BOARD_LIMIT]

    async def escalations(self, scope: Scope) -> list[Row]:
        """催办 / 督办 / 通报 of open cases in scope (by the case's departments), newest first."""
        joined = self._joined(self.escalation_rows, scope, ESCALATION_CASE_COLUMNS, False)
        out = sorted((e for e in joined if e["status"] not in CLOSED), key=seq, reverse=True)
        out.sort(key=lambda e: e["case_id"])
        dated = [e for e in out if e["escalated_at"] is not None]
        dated.sort(key=lambda e: e["escalated_at"], reverse=True)  # stable: ties keep the above
        return (dated + [e for e in out if e["escalated_at"] is None])[:BOARD_LIMIT]

    async def metrics(self, query: MetricsQuery) -> list[Row]:
        """三率 and times per bucket and group (``tests.unit.api.fake_metrics``)."""
        return fake_metrics.metrics(self.rows.values(), self.callback_rows, query)

    async def rankings(self, query: MetricsQuery) -> list[Row]:
        """The groups of the metrics over the whole range, ranked by the gateway's rule."""
        return ranked(await self.metrics(replace(query, period="all")), query.by)

    async def clocks_beyond(self, window: tuple[datetime, datetime] | None) -> int:
        """Running or paused working-time clocks with a due time, starting before ``window``
        or due at or after its end (all of them without a window)."""
        found = 0
        for row in self.rows.values():
            for k in row["clocks"]:
                due, started = instant(k.get("due_at")), instant(k.get("started_at"))
                if k.get("status") not in ("running", "paused") or k.get("mode") != "working":
                    continue
                if due is not None and (
                    window is None
                    or due >= window[1]
                    or (started is not None and started < window[0])
                ):
                    found += 1
        return found

    async def lag(self) -> Lag:
        """What the checkpoints say is still to apply and, when behind, since when."""
        events = sum(max(k["high_watermark"] - k["next_offset"], 0) for k in self.checkpoints)
        last = max(
            (k["last_event_at"] for k in self.checkpoints if k["last_event_at"]), default=None
        )
        behind = 0.0 if not events or last is None else (datetime.now(UTC) - last).total_seconds()
        return Lag(events=events, seconds=behind)

    async def ping(self) -> None:
        if self.down:
            raise ConnectionError("database down")


class FakeUsers:
    """Tokens → principals."""

    async def principal(self, token: str) -> Principal | None:
        return USERS.get(token)


class FakeIdempotency:
    """Idempotency keys in a dict, with the time each was bound (``now`` can be moved on)."""

    def __init__(self) -> None:
        self.keys: dict[tuple[str, str], tuple[str, str, str, datetime]] = {}
        self.now = T0

    async def claim(
        self,
        user_id: str,
        key: str,
        request_sha256: str,
        case_id: str,
        command_id: str,
        within: timedelta | None = None,
    ) -> IdempotentClaim:
        bound = self.keys.get((user_id, key))
        if bound is None or (within is not None and bound[3] < self.now - within):
            bound = self.keys[(user_id, key)] = (request_sha256, case_id, command_id, self.now)
        if bound[0] != request_sha256:
            raise IdempotencyMismatch(key)
        return IdempotentClaim(bound[1], bound[2], replay=bound[1] != case_id)


class FakeKafka:
    """A readiness probe of Kafka that a test turns off and on (``up``)."""

    def __init__(self) -> None:
        self.up = True

    async def __call__(self) -> None:
        if not self.up:
            raise ConnectionError("kafka down")


@dataclass
class MemoryBlobs:
    """A blob store in a dict (the folder and S3 stores are tested on their own)."""

    blobs: dict[str, bytes] = field(default_factory=dict)

    async def put(self, key: str, data: bytes, content_type: str) -> bool:
        if key in self.blobs:
            return False
        self.blobs[key] = data
        return True

    async def get(self, key: str) -> bytes | None:
        return self.blobs.get(key)

    async def exists(self, key: str) -> bool:
        return key in self.blobs

    async def close(self) -> None:
        """Nothing to release."""


@dataclass
class FakeUploads:
    """Who uploaded which photo, in memory."""

    rows: dict[tuple[str, str], PhotoInfo] = field(default_factory=dict)

    async def record(self, info: PhotoInfo, user_id: str) -> datetime:
        self.rows.setdefault((info.sha256, user_id), info)
        return datetime.now(UTC)

    async def find(self, sha256: str, user_id: str) -> PhotoInfo | None:
        return self.rows.get((sha256, user_id))


def fake_services(grid_case: bool = False) -> Services:
    """Services wired to the fakes, with one case in 金海 and one in 海沧; with ``grid_case``
    also WH-GRID in 金海社区第一网格 (its area the grid, beneath 金海)."""
    read = FakeRead()
    read.add(case_row("WH-IN", JINHAI, ["urban_management", "public_security"], breach_count=1))
    read.add(case_row("WH-OUT", HAICANG_COMMUNITY, ["transport"], breach_count=1))
    if grid_case:
        read.add(case_row("WH-GRID", JINHAI_GRID, ["urban_management"], breach_count=1))
    return Services(
        bus=FakeBus(),
        read=read,
        users=FakeUsers(),
        idempotency=FakeIdempotency(),
        kafka_probe=FakeKafka(),
        max_lag_events=100,
        photos=PhotoLibrary(MemoryBlobs(), max_bytes=10 * 1024 * 1024, max_pixels=60_000_000),
        uploads=FakeUploads(),
    )

"""In-memory stand-ins for the bus, the read models and the user store."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from projections.rollups import SHANGHAI
from whistle.api.account_store import IdempotencyMismatch, IdempotentClaim
from whistle.api.deps import Services
from whistle.api.identity import Principal
from whistle.bus import Decision, DecisionTimeout
from whistle.domain import fold, parse_event
from whistle.domain.state import CaseState
from whistle.read.gateway import BOARD_LIMIT, BREACH_LIMIT, CLOSED, Lag, MetricsQuery, Period
from whistle.read.scope import CaseFilters, Row, Scope, newest_first

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


def bucket(raised_at: datetime, period: Period) -> str:
    """The metrics bucket of a case raised at ``raised_at``: its Shanghai day, the Monday of
    its week or the first of its month, or ``all``."""
    day = raised_at.astimezone(SHANGHAI).date()
    if period == "week":
        day -= timedelta(days=day.weekday())
    elif period == "month":
        day = day.replace(day=1)
    return "all" if period == "all" else day.isoformat()


RUNNING = ("running", "paused")


@dataclass
class FakeRead:
    """Read models in memory, scoped and filtered by the rules the SQL renders
    (``Scope.holds``, ``CaseFilters.matches``): tests/integration/api/test_read_contract.py
    holds it to the same answers as ``PgRead``."""

    rows: dict[str, Row] = field(default_factory=dict)
    events: dict[str, list[Row]] = field(default_factory=dict)
    lag_events: int = 0
    down: bool = False

    def add(self, row: Row, events: list[Row] | None = None) -> None:
        self.rows[row["case_id"]] = row
        self.events[row["case_id"]] = events or [raised_event(row["case_id"], row["community"])]

    def _in(self, scope: Scope) -> list[Row]:
        return [r for r in self.rows.values() if scope.holds(r["area"], r["departments"])]

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

    async def deadlines(self, case_ids: list[str]) -> dict[str, list[Row]]:
        out: dict[str, list[Row]] = {}
        for i in case_ids:
            clocks = self.rows.get(i, {}).get("clocks", ())
            running = [
                k for k in clocks if k.get("status", "running") in RUNNING and k.get("due_at")
            ]
            if running:
                out[i] = sorted(running, key=lambda k: (k["due_at"], k["clock"], k["department"]))
        return out

    async def follow_ups(self, case_ids: list[str]) -> dict[str, Row]:
        out: dict[str, Row] = {}
        for i in case_ids:
            if i not in self.rows:
                continue
            row = self.rows[i]
            clocks = [k for k in row["clocks"] if k["clock"] == "resolve"]
            published = [e for e in self.events[i] if e["type"] == "CasePublished"]
            out[i] = {
                "expected_at": clocks[0]["due_at"] if clocks else None,
                "summary": published[-1]["body"]["summary"] if published else None,
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
        return sorted(out, key=lambda b: (b["due_at"], b["case_id"]))[:BREACH_LIMIT]

    async def disputes(self, scope: Scope) -> list[Row]:
        return []

    async def extensions(self, scope: Scope) -> list[Row]:
        return []

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
        return []

    async def metrics(self, query: MetricsQuery) -> list[Row]:
        """Only the case counts (``cases``) per bucket and group, of cases raised in
        [since, until); a case counts for its lead department, as in
        ``whistle.read.resolution_metrics``."""
        low, high = query.range
        counts: dict[tuple[str, str], int] = {}
        for r in self.rows.values():
            lead = r["lead_department"]
            group = lead if query.group_by == "department" else r[query.group_by]
            if group is None or not low <= r["raised_at"] < high:
                continue
            if query.scope.holds(r["area"], [lead] if lead else []):
                key = (bucket(r["raised_at"], query.period), group)
                counts[key] = counts.get(key, 0) + 1
        return [
            {"bucket": None if b == "all" else b, "group": g, "cases": n}
            for (b, g), n in sorted(counts.items())
        ]

    async def rankings(self, query: MetricsQuery) -> list[Row]:
        """No group has a score here: every one unranked, by name."""
        return [r | {"rank": None} for r in await self.metrics(replace(query, period="all"))]

    async def lag(self) -> Lag:
        return Lag(events=self.lag_events, seconds=None)

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
    )

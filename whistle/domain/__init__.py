"""The pure case domain: commands, events, ``decide``/``evolve``, routing, SLA clocks.

No Kafka, no PostgreSQL, no clock reads: time is passed in. The only I/O is loading the
packaged data files (areas, departments, routing rules, SLA policies, calendars).
"""

from whistle.domain import commands, events
from whistle.domain.areas import (
    Area,
    Department,
    ancestors,
    district_of,
    lineage,
    load_areas,
    load_departments,
    street_of,
)
from whistle.domain.base import (
    SYSTEM,
    Actor,
    Command,
    Event,
    Rejection,
    event_id_for,
)
from whistle.domain.calendar import (
    BusinessCalendar,
    add_working_time,
    default_calendar,
    load_calendar,
    working_time_between,
)
from whistle.domain.codec import (
    EVENT_TYPES,
    AnyCommand,
    AnyEvent,
    DecodeError,
    encode,
    parse_command,
    parse_event,
    upcast,
)
from whistle.domain.commands import *  # noqa: F403  (every command, by its registry)
from whistle.domain.deadlines import (
    Deadline,
    breach_command,
    deadline_command,
    fire_due,
    pending_deadlines,
    pending_times,
)
from whistle.domain.decide import decide
from whistle.domain.events import *  # noqa: F403  (every event, by its registry)
from whistle.domain.evolve import EvolveError, evolve, fold
from whistle.domain.routing import RoutingRules, Rule, load_rules, route
from whistle.domain.sla import ClockReport, SlaPolicy, clock_report, load_policies
from whistle.domain.state import Assignment, Callback, CaseState, Clock, JointAction
from whistle.domain.values import ClockPlan, GeoPoint, LadderRung, Requester

__all__ = [
    *commands.__all__,
    *events.__all__,
    "EVENT_TYPES",
    "SYSTEM",
    "Actor",
    "AnyCommand",
    "AnyEvent",
    "Area",
    "Assignment",
    "BusinessCalendar",
    "Callback",
    "CaseState",
    "Clock",
    "ClockPlan",
    "ClockReport",
    "Command",
    "Deadline",
    "DecodeError",
    "Department",
    "Event",
    "EvolveError",
    "GeoPoint",
    "JointAction",
    "LadderRung",
    "Rejection",
    "Requester",
    "RoutingRules",
    "Rule",
    "SlaPolicy",
    "add_working_time",
    "ancestors",
    "breach_command",
    "clock_report",
    "deadline_command",
    "decide",
    "default_calendar",
    "district_of",
    "encode",
    "event_id_for",
    "evolve",
    "fire_due",
    "fold",
    "lineage",
    "load_areas",
    "load_calendar",
    "load_departments",
    "load_policies",
    "load_rules",
    "parse_command",
    "parse_event",
    "pending_deadlines",
    "pending_times",
    "route",
    "street_of",
    "upcast",
    "working_time_between",
]

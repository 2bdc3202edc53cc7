"""Prometheus metrics of the stream worker, served on the worker's ``/metrics`` page."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

COMMANDS = Counter(
    "whistle_commands_total",
    "Commands decided, by outcome (accepted, rejected, duplicate, dead_letter).",
    ["outcome"],
    registry=REGISTRY,
)
EVENTS_APPENDED = Counter(
    "whistle_events_appended_total", "Events appended to the case log.", registry=REGISTRY
)
ROUTED = Counter(
    "whistle_router_commands_total", "Routing commands made by the router.", registry=REGISTRY
)
AGENT_MESSAGES = Counter(
    "whistle_agent_messages_total", "Records processed, per agent.", ["agent"], registry=REGISTRY
)
CONSUMER_LAG = Gauge(
    "whistle_consumer_lag_records",
    "Records between the high watermark and the last processed offset, per topic.",
    ["topic"],
    registry=REGISTRY,
)
REREADS = Counter(
    "whistle_skipped_records_rereads_total",
    "Seeks back to a commands record the consumer skipped without handing it to the decider.",
    registry=REGISTRY,
)
DEADLINES_PENDING = Gauge(
    "whistle_deadlines_pending", "Deadlines watched by this worker.", registry=REGISTRY
)
DEADLINES_FIRED = Counter(
    "whistle_deadlines_fired_total", "Deadline commands sent to the decider.", registry=REGISTRY
)
DEADLINE_LATENESS = Histogram(
    "whistle_deadline_lateness_seconds",
    "How long after its due time a deadline was fired.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600, float("inf")),
    registry=REGISTRY,
)

"""Prometheus metrics of the delivery worker (`whistle webhooks deliver --metrics-port`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ATTEMPTS = Counter(
    "whistle_webhook_attempts_total",
    "Delivery attempts by outcome (delivered, retry, dead, gone).",
    ["outcome"],
)
POST_SECONDS = Histogram(
    "whistle_webhook_post_seconds",
    "Duration of one POST to a receiver.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
QUEUED = Counter("whistle_webhook_deliveries_queued_total", "Deliveries queued from the event log.")
EVENTS = Counter("whistle_webhook_events_consumed_total", "Case events read from the log.")
IN_FLIGHT = Gauge("whistle_webhook_in_flight", "POSTs in flight.")

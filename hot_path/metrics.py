"""The worker's Prometheus metrics, served on ``HOT_METRICS_PORT`` (0: not served)."""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge, start_http_server

log = logging.getLogger(__name__)

EVENTS = Counter(
    "hot_path_events", "Telemetry records read, by what they were.", ["outcome"]
)  # outcome: processed, duplicate, dead_lettered
ALERTS = Counter("hot_path_alerts", "Alert events published.", ["kind", "status"])
DEAD_LETTERS = Counter(
    "hot_path_dead_letters", "Records sent to the dead-letter topic.", ["reason"]
)
LAG_RECORDS = Gauge(
    "hot_path_lag_records", "Records behind the partition's end (high watermark).", ["partition"]
)
LAG_SECONDS = Gauge(
    "hot_path_event_lag_seconds",
    "Wall clock minus the event time of the newest record processed.",
    ["partition"],
)
SPEED_RECORDS = Counter(
    "hot_path_speed_records", "Telemetry records the speed-view writer accounted."
)
SPEED_ROWS = Counter("hot_path_speed_rows", "Rows written to the speed-layer views.")
SPEED_FLUSH_ERRORS = Counter("hot_path_speed_flush_errors", "Failed speed-view flushes.")
SPEED_LAG_RECORDS = Gauge(
    "hot_path_speed_lag_records",
    "Records the speed-view writer is behind the partition's end.",
    ["partition"],
)


def serve(host: str, port: int) -> None:
    if port:
        start_http_server(port, addr=host)
        log.info("metrics on http://%s:%d/metrics", host, port)

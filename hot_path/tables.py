"""Per-vehicle state, backed by changelog topics so it moves with its partition."""

from __future__ import annotations

from hot_path.app import app

# Keys and values are JSON (Faust's default for tables): keys are the VIN and
# the partition number as text, values plain dicts, so the changelog is readable.
vehicles = app.Table(
    "vehicles",
    default=None,
    key_type=str,
    help="Each car's rule state and open alerts, keyed by VIN.",
)
watermarks = app.Table(
    "watermarks",
    default=None,
    key_type=str,
    help="Per partition, the event time at which its cars were last judged for silence.",
)

"""The topics the hot path reads and writes; values stay raw bytes, decoded by the contract."""

from __future__ import annotations

from hot_path.app import app, settings

telemetry = app.topic(
    settings.telemetry_topic,
    key_serializer="raw",
    value_serializer="raw",
    allow_empty=True,  # an empty value is a bad record for the dead-letter topic, not a skip
)
alerts = app.topic(settings.alerts_topic, key_serializer="raw", value_serializer="raw")
dead_letter = app.topic(settings.dead_letter_topic, key_serializer="raw", value_serializer="raw")

"""The project's exceptions: one root, a small subclass per area."""

from __future__ import annotations

from typing import Any


class FleetError(Exception):
    """Root of every error the platform raises on purpose."""


class ContractError(FleetError):
    """A record does not satisfy the telemetry contract.

    ``field`` is the wire name of the offending field (a VSS path for signals),
    ``value`` what the record held there, ``reason`` a short machine-friendly
    code that dead-letter headers and metrics use.
    """

    def __init__(self, field: str, value: Any, problem: str, *, reason: str) -> None:
        self.field = field
        self.value = value
        self.problem = problem
        self.reason = reason
        super().__init__(f"{field}: {problem} (got {_preview(value)})")


class ConfigError(FleetError):
    """Settings that cannot work, found before anything starts."""


def _preview(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."

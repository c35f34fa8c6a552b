"""The simulator's errors, under the platform's root exception."""

from __future__ import annotations

from fleet.errors import FleetError


class SimulatorError(FleetError):
    """The simulator cannot start or carry on; the message is one line for the user."""

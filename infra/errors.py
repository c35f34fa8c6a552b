"""Infrastructure failures, each with the next step a person should take."""

from __future__ import annotations

from fleet.errors import FleetError


class InfraError(FleetError):
    """Something infra could not do; ``next_step`` tells the reader what to do about it."""

    def __init__(self, cause: str, next_step: str, details: str = "") -> None:
        self.cause = cause
        self.next_step = next_step
        self.details = details
        super().__init__(cause)

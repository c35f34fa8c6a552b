"""What the gateway answers, for the OpenAPI description and for clients."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from fleet.telemetry import TelemetryEvent


class KafkaPosition(BaseModel):
    partition: int
    offset: int


class RecordResult(BaseModel):
    """The outcome of one record; ``index`` is its place in the batch (null: the whole body)."""

    index: int | None
    status: Literal["accepted", "rejected", "failed"]
    record_id: str | None = Field(default=None, description="VIN:seq of an accepted record")
    reason: str | None = None
    field: str | None = None
    problem: str | None = None
    kafka: KafkaPosition | None = Field(
        default=None, description="where Kafka stored it: fleet.telemetry, or the DLQ if refused"
    )


class IngestResult(BaseModel):
    accepted: int
    rejected: int
    failed: int = 0
    results: list[RecordResult]


class AuthProblem(BaseModel):
    reason: Literal["missing_credential", "unknown_credential", "revoked_credential"]
    problem: str


class AuthError(BaseModel):
    detail: AuthProblem


def request_body_schema() -> dict[str, Any]:
    """One event or a batch of them, as the contract describes an event on the wire."""
    event = TelemetryEvent.model_json_schema(by_alias=True, mode="validation")
    batch = {
        "type": "array",
        "items": event,
        "minItems": 1,
        "description": "at most INGEST_MAX_BATCH_RECORDS records (500 by default), "
        "and at most INGEST_MAX_BODY_BYTES (1 MiB) in all",
    }
    return {
        "required": True,
        "content": {"application/json": {"schema": {"oneOf": [event, batch]}}},
    }

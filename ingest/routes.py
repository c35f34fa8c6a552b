"""``POST /v1/telemetry``: records into Kafka, answered only after Kafka acknowledged them.

Status codes of ``POST /v1/telemetry``: 200 every record accepted; 207 some
accepted, some refused (per-record results say which); when none is accepted,
403 if every record was for another VIN than the credential's, 413 if every
one was too large (or the body or batch was), 400 for a body that is not
JSON, 422 otherwise. 401 missing or unknown token, 403 revoked token (those
are not dead-lettered: nothing vouches for them). 503 with ``Retry-After``
when the producer queue is full or Kafka did not acknowledge.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from fleet.deadletter import Rejection, Source, dead_letter_headers, dead_letter_value
from fleet.telemetry import TelemetryEvent, encode_event
from ingest import schemas
from ingest.deps import Gateway, GatewayDep, VinDep
from ingest.producer import Delivery, Outgoing
from ingest.records import BodyError, check_record, split_body

log = logging.getLogger(__name__)
SOURCE: Source = "http"
router = APIRouter(tags=["ingest"])


@router.post(
    "/v1/telemetry",
    response_model=schemas.IngestResult,
    responses={
        207: {"model": schemas.IngestResult, "description": "some records refused"},
        401: {"model": schemas.AuthError},
        403: {"description": "revoked credential, or every record for another VIN"},
        413: {"model": schemas.IngestResult, "description": "body, batch or record too large"},
        422: {"model": schemas.IngestResult, "description": "every record refused"},
        503: {"model": schemas.IngestResult, "description": "Kafka busy; see Retry-After"},
    },
    openapi_extra={"requestBody": schemas.request_body_schema()},
)
async def post_telemetry(request: Request, gateway: GatewayDep, vin: VinDep) -> JSONResponse:
    """Validate one record or a batch, produce it keyed by VIN, answer once Kafka acknowledged."""
    settings = gateway.settings
    body = await read_limited(request, settings.max_body_bytes)
    try:
        if len(body) > settings.max_body_bytes:
            limit = settings.max_body_bytes
            raise BodyError(Rejection("oversized", "<body>", f"body exceeds {limit} bytes"), 413)
        raws = split_body(body, max_records=settings.max_batch_records)
    except BodyError as exc:
        return await _refuse_body(gateway, vin, body, exc)
    checked = [check_record(raw, vin) for raw in raws]
    if gateway.sink.room() < len(checked):
        return _busy(gateway)
    outgoing = [
        _outgoing(gateway, vin, raw, outcome) for raw, outcome in zip(raws, checked, strict=True)
    ]
    try:
        answered = gateway.sink.produce_all_async(outgoing)
    except BufferError:
        # Records already queued still reach Kafka; a retry of the whole batch
        # duplicates them, which (VIN, seq) makes harmless downstream.
        return _busy(gateway)
    deliveries = await answered
    results = [
        _result(gateway, i, outcome, d)
        for i, (outcome, d) in enumerate(zip(checked, deliveries, strict=True))
    ]
    return _answer(gateway, results)


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, or its first ``limit + 1`` bytes when it is longer: never all of a huge one."""
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if len(buf) > limit:
            break
    return bytes(buf)


def _outgoing(
    gateway: Gateway, vin: str, raw: bytes, outcome: TelemetryEvent | Rejection
) -> Outgoing:
    settings = gateway.settings
    if isinstance(outcome, TelemetryEvent):
        return settings.telemetry_topic, outcome.key, encode_event(outcome), [("source", b"http")]
    gateway.metrics.rejected.labels(SOURCE, outcome.reason).inc()
    value, original = dead_letter_value(raw)
    headers = dead_letter_headers(
        outcome, source=SOURCE, credential_vin=vin, original_size=original
    )
    return settings.dead_letter_topic, vin.encode(), value, headers


def _result(
    gateway: Gateway, index: int | None, outcome: TelemetryEvent | Rejection, d: Delivery
) -> schemas.RecordResult:
    m = gateway.metrics
    m.produce_latency.labels(SOURCE, d.topic).observe(d.seconds)
    if d.error is not None or d.partition is None or d.offset is None:
        m.delivery_failures.labels(SOURCE, d.topic).inc()
        log.error("Kafka did not acknowledge a record for %s: %s", d.topic, d.error)
        return schemas.RecordResult(
            index=index, status="failed", problem="Kafka did not acknowledge"
        )
    where = schemas.KafkaPosition(partition=d.partition, offset=d.offset)
    if isinstance(outcome, TelemetryEvent):
        m.accepted.labels(SOURCE).inc()
        return schemas.RecordResult(
            index=index, status="accepted", record_id=outcome.record_id, kafka=where
        )
    m.dead_lettered.labels(SOURCE, outcome.reason).inc()
    return schemas.RecordResult(
        index=index, status="rejected", reason=outcome.reason, field=outcome.field,
        problem=outcome.problem, kafka=where,
    )  # fmt: skip


async def _refuse_body(gateway: Gateway, vin: str, body: bytes, exc: BodyError) -> JSONResponse:
    if gateway.sink.room() < 1:
        return _busy(gateway)
    try:
        [delivery] = await gateway.sink.produce_all_async(
            [_outgoing(gateway, vin, body, exc.rejection)]
        )
    except BufferError:
        return _busy(gateway)
    result = _result(gateway, None, exc.rejection, delivery)
    response = _answer(gateway, [result])
    if result.status == "rejected":
        response.status_code = exc.status
    return response


def _answer(gateway: Gateway, results: list[schemas.RecordResult]) -> JSONResponse:
    accepted = [r for r in results if r.status == "accepted"]
    rejected = [r for r in results if r.status == "rejected"]
    failed = len(results) - len(accepted) - len(rejected)
    body = schemas.IngestResult(
        accepted=len(accepted), rejected=len(rejected), failed=failed, results=results
    )
    headers = {}
    if failed:
        status = 503
        headers["Retry-After"] = str(gateway.settings.retry_after_s)
    elif not rejected:
        status = 200
    elif accepted:
        status = 207
    elif all(r.reason == "vin_mismatch" for r in rejected):
        status = 403
    elif all(r.reason in ("oversized", "too_many_records") for r in rejected):
        status = 413
    else:
        status = 422
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def _busy(gateway: Gateway) -> JSONResponse:
    gateway.metrics.queue_full.labels(SOURCE).inc()
    retry = str(gateway.settings.retry_after_s)
    body = {"detail": {"reason": "queue_full", "problem": "Kafka is behind; retry later"}}
    return JSONResponse(body, status_code=503, headers={"Retry-After": retry})

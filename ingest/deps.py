"""Dependencies of the gateway's routes: its state and the caller's credential."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from ingest.config import IngestSettings
from ingest.credentials import AuthStatus, CredentialStore
from ingest.metrics import IngestMetrics
from ingest.producer import KafkaSink

_AUTH_PROBLEMS = {
    AuthStatus.MISSING: (401, "send `Authorization: Bearer TOKEN`"),
    AuthStatus.UNKNOWN: (401, "no such credential; issue one with `python -m ingest credential`"),
    AuthStatus.REVOKED: (403, "this credential was revoked or replaced by a newer one"),
}


@dataclass
class Gateway:
    settings: IngestSettings
    store: CredentialStore
    sink: KafkaSink
    metrics: IngestMetrics


def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


def authenticate(gateway: GatewayDep, authorization: Annotated[str | None, Header()] = None) -> str:
    """The VIN of the bearer token's credential, or 401/403."""
    scheme, _, token = (authorization or "").partition(" ")
    result = gateway.store.authenticate(token.strip() if scheme.lower() == "bearer" else None)
    if result.status is AuthStatus.OK and result.vin:
        return result.vin
    status, problem = _AUTH_PROBLEMS[result.status]
    gateway.metrics.auth_failures.labels(result.status.value).inc()
    raise HTTPException(
        status,
        detail={"reason": result.status.value, "problem": problem},
        headers={"WWW-Authenticate": 'Bearer realm="fleet-ingest"'},
    )


VinDep = Annotated[str, Depends(authenticate)]

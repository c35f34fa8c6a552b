"""Prometheus request metrics: counts and latency per route template, not per raw path."""

from __future__ import annotations

import time

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestMetrics:
    """Pure ASGI middleware (no `BaseHTTPMiddleware`: that one costs a task and a memory
    stream per request). A request is timed up to its response's start, as the time to the
    first byte: a `/live` stream's lifetime is not a latency. An exception before any
    response counts as the 500 the client gets."""

    def __init__(self, app: ASGIApp, *, requests: Counter, latency: Histogram) -> None:
        self.app, self.requests, self.latency = app, requests, latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        started = False

        def record(status: int) -> None:
            # The router has put the matched route in the (shared) scope by now.
            template = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"]
            self.latency.labels(method, template).observe(time.perf_counter() - start)
            self.requests.labels(method, template, str(status)).inc()

        async def measured(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start" and not started:
                started = True
                record(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, measured)
        except Exception:
            if not started:
                record(500)
            raise


def instrument(app: FastAPI) -> None:
    """Count and time every request; serve the registry (one per app) at ``/metrics``."""
    registry = CollectorRegistry()
    requests = Counter(
        "serving_requests",
        "HTTP requests answered",
        ["method", "route", "status"],
        registry=registry,
    )
    latency = Histogram(
        "serving_request_duration_seconds",
        "Time to answer an HTTP request",
        ["method", "route"],
        registry=registry,
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    )
    app.add_middleware(RequestMetrics, requests=requests, latency=latency)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

"""``python -m serving``: the API on 127.0.0.1:8000 (``SERVING_HOST``/``SERVING_PORT``)."""

from __future__ import annotations

import logging

import uvicorn

from serving.config import ServingSettings
from serving.main import create_app


def main() -> None:
    settings = ServingSettings()
    logging.basicConfig(level=settings.log_level.upper())
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        # uvloop's event loop and httptools' parser: the fastest uvicorn offers (both are
        # dependencies; docs/benchmarks.md, "Serving").
        loop="uvloop",
        http="httptools",
        # An open dashboard keeps its /live stream open for ever: without a bound, Ctrl-C
        # would wait for every browser tab to go away.
        timeout_graceful_shutdown=3,
    )


if __name__ == "__main__":
    main()

"""schemathesis against the API's own OpenAPI description, on SQLite and on PostgreSQL.

Every operation in ``/openapi.json`` gets schema-valid requests (positive) and, where it has
parameters, schema-invalid ones (negative), in-process over ASGI (no network), against a
store seeded with a published batch, speed rows, alerts and a report. Every default
schemathesis check applies: no 5xx, status codes and content types as documented, bodies
that match their schema, valid input accepted and invalid input rejected.

Bounded: ``FUZZ_EXAMPLES`` requests per operation and mode (default 25; raise it for a
longer hunt, e.g. ``FUZZ_EXAMPLES=500``). A failure prints the request as a curl command.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode
from sqlalchemy import create_engine

from cold_path.report import write_report
from fleet.config import KafkaSettings
from fleet.store import connect
from serving.config import ServingSettings
from serving.main import create_app
from tests.unit.serving.rows import populate

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
STREAMING = "text/event-stream"  # never ends: not something a request-response fuzzer can judge


def _operations() -> list[tuple[str, str, bool]]:
    """(method, path, has parameters) of every operation the API describes."""
    app = create_app(ServingSettings(), engine=create_engine("sqlite://"), kafka=KafkaSettings())
    found = []
    for path, ops in app.openapi()["paths"].items():
        for method, op in ops.items():
            content = op.get("responses", {}).get("200", {}).get("content", {})
            if STREAMING not in content:
                found.append((method.upper(), path, bool(op.get("parameters"))))
    return found


OPERATIONS = _operations()
CASES = [
    pytest.param(method, path, mode, id=f"{method} {path} {mode.value}")
    for method, path, has_parameters in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    # Without parameters there is nothing to get wrong, so no negative requests.
    if has_parameters or mode is GenerationMode.POSITIVE
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api_schema(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """The API over a seeded store, once per backend, read-only for all the fuzzing."""
    tmp = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    if request.param == "sqlite":
        url, drop = f"sqlite:///{tmp / 'serving.db'}", None
    else:
        server = request.getfixturevalue("postgres")
        url = server.new_store_url()
        drop = server.drop_store_url
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATA_DIR", str(tmp))  # no cluster record of the real data dir
        engine = connect(url)
        populate(engine)
        write_report(engine, tmp / "reports" / "first")
        app = create_app(
            ServingSettings(reports_dir=tmp / "reports", cluster_timeout_s=0.3),
            engine=engine,
            kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1", client_id="fuzz"),
        )
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
        engine.dispose()
    if drop is not None:
        drop(url)


def test_every_operation_is_fuzzed() -> None:
    labels = {f"{method} {path}" for method, path, _ in OPERATIONS}
    for expected in ("GET /vehicles", "GET /vehicles/{vin}", "GET /alerts", "GET /healthz",
                     "GET /fleet/efficiency", "GET /routes/recommendations", "GET /cluster",
                     "GET /reports", "GET /reports/{name}/{file}"):  # fmt: skip
        assert expected in labels


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_operation_keeps_its_openapi_promises(
    api_schema: Any, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def check(case: Any) -> None:
        case.call_and_validate()

    check()

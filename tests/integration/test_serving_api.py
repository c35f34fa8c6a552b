"""The serving API over a temporary store, on SQLite and on PostgreSQL alike: batch views
published as the batch job does, speed rows as the hot path writes them, ``/cluster``
against the session's broker."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine

from cold_path.report import write_report
from fleet.config import KafkaSettings
from fleet.store import connect
from serving.config import MAX_PAGE_SIZE, ServingSettings
from serving.main import create_app
from tests.unit.serving.rows import VIN_A, VIN_B, VIN_C, WATERMARK, populate
from tests.utils.postgres import PostgresServer


def _client(engine: Engine, tmp_path: Path, bootstrap: str = "127.0.0.1:1") -> TestClient:
    settings = ServingSettings(reports_dir=tmp_path / "reports", cluster_timeout_s=2.0)
    kafka = KafkaSettings(bootstrap_servers=bootstrap, client_id="serving-tests")
    return TestClient(create_app(settings, engine=engine, kafka=kafka))


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> TestClient:
    populate(engine)
    return _client(engine, tmp_path)


def test_healthz_and_openapi(client: TestClient, engine: Engine) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "store": engine.dialect.name}
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/vehicles", "/vehicles/{vin}", "/alerts", "/fleet/efficiency",
                 "/routes/recommendations", "/cluster", "/healthz", "/reports"):  # fmt: skip
        assert path in paths


def test_vehicles_page_says_which_layers_served(client: TestClient) -> None:
    body = client.get("/vehicles", params={"sort": "distance", "limit": 2}).json()
    assert body["served"]["layers"] == ["batch", "speed"]
    assert body["served"]["watermark"] == WATERMARK.isoformat().replace("+00:00", "Z")
    assert body["served"]["aligned"] is True
    assert (body["total"], body["limit"], body["offset"]) == (4, 2, 0)
    assert [v["vin"] for v in body["items"]] == [VIN_B, VIN_A]
    assert body["items"][1]["distance_km"] == pytest.approx(103.0)
    vans = client.get("/vehicles", params={"class": "van", "sort": "vin"}).json()
    assert [v["vin"] for v in vans["items"]][0] == VIN_B


MAX = f"less than or equal to {MAX_PAGE_SIZE}"


@pytest.mark.parametrize(
    ("path", "params", "field", "says"),
    [
        ("/vehicles", {"limit": MAX_PAGE_SIZE + 1}, "limit", MAX),
        ("/vehicles", {"limit": 10**30}, "limit", MAX),
        ("/vehicles", {"limit": 0}, "limit", "greater than or equal to 1"),
        ("/vehicles", {"limit": "ten"}, "limit", "valid integer"),
        ("/vehicles", {"limit": "2.5"}, "limit", "valid integer"),
        ("/vehicles", {"offset": -1}, "offset", "greater than or equal to 0"),
        ("/vehicles", {"offset": " 3"}, "offset", "valid integer"),
        ("/fleet/efficiency", {"limit": "4\x0c"}, "limit", "valid integer"),  # found by fuzzing
        ("/vehicles", {"sort": "colour"}, "sort", "'efficiency', 'distance' or 'vin'"),
        ("/vehicles", {"class": "van\x00"}, "class", "match pattern"),
        ("/vehicles", {"class": "v" * 33}, "class", "at most 32 characters"),
        ("/vehicles", {"class": ""}, "class", "at least 1 character"),
        ("/alerts", {"status": "closed"}, "status", "'open' or 'resolved'"),
        ("/alerts", {"status": "OPEN"}, "status", "'open' or 'resolved'"),
        ("/alerts", {"kind": "flat_tyre"}, "kind", "'engine_overheat'"),
        ("/alerts", {"severity": "urgent"}, "severity", "'info', 'warning' or 'critical'"),
        ("/alerts", {"limit": 100_000}, "limit", MAX),
        ("/fleet/efficiency", {"limit": 10_000}, "limit", MAX),
        ("/routes/recommendations", {"origin": "depot\x00"}, "origin", "match pattern"),
        ("/routes/recommendations", {"destination": "x" * 65}, "destination", "at most 64"),
    ],
)  # fmt: skip
def test_bad_query_parameters_get_a_422_naming_the_parameter_and_the_rule(
    client: TestClient, path: str, params: dict[str, object], field: str, says: str
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", field]
    assert says in error["msg"]


def test_vehicle_merges_both_layers_with_state_and_open_alerts(client: TestClient) -> None:
    body = client.get(f"/vehicles/{VIN_A}").json()
    assert body["served"]["layers"] == ["batch", "speed"]
    assert (body["distance_km"], body["vehicle_class"]) == (pytest.approx(103.0), "compact")
    assert body["l_per_100km"] == pytest.approx(6.3 / 103.0 * 100)
    assert body["state"]["fuel_litres"] == 40.0
    assert [a["kind"] for a in body["open_alerts"]] == ["engine_overheat", "fuel_low"]
    speed_only = client.get(f"/vehicles/{VIN_C}").json()
    assert speed_only["layers"] == ["speed"]
    assert speed_only["vehicle_class"] is None


def test_unknown_and_malformed_vins(client: TestClient) -> None:
    unknown = client.get("/vehicles/1HGCM82633A004352")
    assert unknown.status_code == 404
    assert unknown.json()["detail"].startswith("no vehicle with VIN 1HGCM82633A004352 in the")
    # A trailing newline is not a VIN either (a regex `$` would let it through).
    for bad in ("short", "1HGCM82633A00435O", "1hgcm82633a004352", f"{VIN_A}%0A", "%00" * 17):
        response = client.get(f"/vehicles/{bad}")
        assert response.status_code == 422
        assert "not a VIN" in response.json()["detail"][0]["msg"]


def test_alerts_most_severe_first_and_enums_checked(client: TestClient) -> None:
    body = client.get("/alerts", params={"status": "open"}).json()
    assert body["served"]["layers"] == ["speed"]
    assert [a["severity"] for a in body["items"]] == ["critical", "warning", "info"]
    resolved = client.get("/alerts", params={"status": "resolved"}).json()["items"]
    assert [a["kind"] for a in resolved] == ["battery_low"]
    one = client.get("/alerts", params={"kind": "harsh_driving", "severity": "info"}).json()
    assert [a["vin"] for a in one["items"]] == [VIN_B]
    for params in ({"status": "closed"}, {"kind": "flat_tyre"}, {"severity": "urgent"}):
        assert client.get("/alerts", params=params).status_code == 422


def test_efficiency_leaderboard_and_routes(client: TestClient) -> None:
    board = client.get("/fleet/efficiency").json()
    assert [(v["rank"], v["vin"]) for v in board["vehicles"]] == [(1, VIN_A), (2, VIN_B),
                                                                  (3, VIN_C)]  # fmt: skip
    assert [c["vehicle_class"] for c in board["classes"]] == ["compact", "van", None]
    assert board["served"]["layers"] == ["batch", "speed"]
    routes = client.get("/routes/recommendations",
                        params={"origin": "depot", "destination": "airport"}).json()  # fmt: skip
    assert routes["served"]["layers"] == ["batch"]
    assert [r["recommended"] for r in routes["items"]] == [True, False]


def test_reports_list_and_latest_download(engine: Engine, tmp_path: Path) -> None:
    populate(engine)
    client = _client(engine, tmp_path)
    assert client.get("/reports").json() == {"latest": None, "reports": []}
    none = client.get("/reports/latest")
    assert none.status_code == 404
    assert none.json()["detail"].startswith("no report yet: `python -m cold_path report")
    write_report(engine, tmp_path / "reports" / "first")
    body = client.get("/reports").json()
    assert body["latest"] == "first"
    assert "efficiency.csv" in body["reports"][0]["files"]
    page = client.get("/reports/latest")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csv = client.get("/reports/latest/efficiency.csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("rank,vin")
    unlisted = client.get("/reports/first/serving.db")
    assert unlisted.status_code == 404
    assert "GET /reports lists the reports" in unlisted.json()["detail"]


def test_metrics_count_requests_per_route(client: TestClient) -> None:
    client.get(f"/vehicles/{VIN_A}")
    text = client.get("/metrics").text
    assert 'serving_requests_total{method="GET",route="/vehicles/{vin}",status="200"} 1.0' in text
    assert "serving_request_duration_seconds_bucket" in text


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cluster_reports_kafka_down_instead_of_failing(engine: Engine, tmp_path: Path) -> None:
    populate(engine)
    client = _client(engine, tmp_path, bootstrap=f"127.0.0.1:{_closed_port()}")
    response = client.get("/cluster")
    assert response.status_code == 200
    body = response.json()
    assert body["reachable"] is False
    assert "no Kafka cluster answered" in body["error"]
    assert body["batch"]["watermark_age_s"] > 0


def test_cluster_against_the_broker(engine: Engine, tmp_path: Path, kafka_bootstrap: str) -> None:
    populate(engine)
    body = _client(engine, tmp_path, bootstrap=kafka_bootstrap).get("/cluster").json()
    assert body["reachable"] is True
    assert body["brokers_up"] and not body["brokers_down"]
    assert set(body["lag"]) == {"hot-path", "cold-path"}
    assert body["batch"]["version"] == 1


def test_openapi_documents_every_error_a_route_can_send(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    store_reading = ("/vehicles", "/vehicles/{vin}", "/alerts", "/fleet/efficiency",
                     "/routes/recommendations", "/healthz")  # fmt: skip
    for path in store_reading:
        assert "503" in paths[path]["get"]["responses"], path
    for path in ("/vehicles/{vin}", "/reports/latest", "/reports/latest/{file}"):
        assert "404" in paths[path]["get"]["responses"], path
    for path in ("/vehicles", "/vehicles/{vin}", "/alerts", "/routes/recommendations"):
        assert "422" in paths[path]["get"]["responses"], path
    [vin] = paths["/vehicles/{vin}"]["get"]["parameters"]
    assert vin["schema"]["pattern"] == "^[A-HJ-NPR-Z0-9]{17}$"


def _unreachable_store(kind: str, tmp_path: Path) -> Engine:
    """An engine whose database does not answer: a closed port, or a file in no directory."""
    if kind == "postgresql":
        return create_engine(
            f"postgresql+psycopg://fleet@127.0.0.1:{_closed_port()}/fleet?connect_timeout=2"
        )
    return create_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'serving.db'}")


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_store_that_does_not_answer_is_a_503_with_a_reason(kind: str, tmp_path: Path) -> None:
    client = _client(_unreachable_store(kind, tmp_path), tmp_path)
    for path in ("/vehicles", f"/vehicles/{VIN_A}", "/alerts", "/fleet/efficiency",
                 "/routes/recommendations", "/healthz"):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 503, path
        assert response.headers["retry-after"] == "5"
        assert response.json()["detail"].startswith(f"the serving store ({kind}) does not answer")
    # The health page still answers, with Kafka's state and why the batch is unknown.
    cluster = client.get("/cluster")
    assert cluster.status_code == 200
    assert "does not answer" in cluster.json()["batch"]["error"]


def test_postgres_connections_lost_between_requests_are_replaced(
    postgres: PostgresServer, postgres_url: str, tmp_path: Path
) -> None:
    """A database restart or failover drops pooled connections: the next request still works."""
    engine = connect(postgres_url)
    try:
        populate(engine)
        client = _client(engine, tmp_path)
        assert client.get(f"/vehicles/{VIN_A}").status_code == 200
        postgres.terminate_sessions()
        assert client.get(f"/vehicles/{VIN_A}").status_code == 200
    finally:
        engine.dispose()

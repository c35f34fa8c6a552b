"""The live feed and ``GET /live``: rows written the way the hot path writes them
(`hot_path.speed_store.SpeedStore`) reach a client as Server-Sent Events, a
reconnecting client gets only what it missed, a departed client stops the poller."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, create_engine

from fleet.alerts import AlertKind, Severity
from fleet.config import KafkaSettings
from hot_path.events import AlertEvent, AlertStatus, alert_id
from hot_path.speed_store import SpeedStore
from serving.config import ServingSettings
from serving.live import LiveFeed
from serving.main import create_app
from tests.unit.hot_path.readings import OTHER_VIN, VIN, reading
from tests.unit.serving.rows import VIN_A, VIN_B, VIN_C, populate
from tests.utils.waiting import wait_until


def writer(engine: Engine) -> SpeedStore:
    return SpeedStore(engine, group_id="hot-path", topic="fleet.telemetry", bucket_s=60)


def alert_event(status: AlertStatus = AlertStatus.OPENED, *, vin: str = VIN) -> AlertEvent:
    opened = reading(30).event_time
    return AlertEvent(
        alert_id=alert_id(vin, AlertKind.DTC_ACTIVE, opened.timestamp()),
        vin=vin,
        kind=AlertKind.DTC_ACTIVE,
        status=status,
        severity=Severity.CRITICAL,
        opened_at=opened,
        evidence_time=opened if status is AlertStatus.OPENED else reading(120).event_time,
        detected_at=datetime.now(UTC),
        detail={"codes": "P0301"},
    )


def drive(store: SpeedStore, seconds: range, *, offset: int = 0) -> None:
    """Both test cars one reading a second, then one flush, as a worker does."""
    for i, s in enumerate(seconds):
        for j, vin in enumerate((VIN, OTHER_VIN)):
            ev = reading(s, vin=vin, latitude=48.1 + s / 1000, longitude=11.5 + j / 10)
            store.record(ev, partition=j, offset=offset + i, now=datetime.now(UTC))
    store.flush()


def test_first_poll_is_the_starting_state_then_only_changes(engine: Engine) -> None:
    populate(engine)
    feed = LiveFeed(engine, bucket_s=60)
    assert feed.poll_once() is not None and feed.seq == 1
    snap = feed.snapshot()
    assert [(a["vin"], a["severity"]) for a in snap.alerts] == [
        (VIN_A, "critical"), (VIN_A, "warning"), (VIN_B, "info"),
    ]  # fmt: skip
    assert [v["vin"] for v in snap.vehicles] == [VIN_A, VIN_C]
    assert snap.batch == {"version": 1, "watermark": "2026-03-02T09:00:00Z"}
    # The resolved alert and the unchanged rows are not news on the next poll.
    assert feed.poll_once() is None and feed.seq == 1


def test_an_alert_the_hot_path_writes_is_one_change_and_its_resolution_another(
    engine: Engine,
) -> None:
    feed = LiveFeed(engine, bucket_s=60)
    feed.poll_once()
    store = writer(engine)
    store.alert(alert_event())
    store.flush()
    opened = feed.poll_once()
    assert opened is not None and opened.seq == 2
    [alert] = opened.alerts.values()
    assert (alert["vin"], alert["kind"], alert["status"]) == (VIN, "dtc_active", "open")
    assert alert["detail"] == {"codes": "P0301"}
    assert [a["alert_id"] for a in feed.snapshot().alerts] == [alert["alert_id"]]

    store.alert(alert_event(AlertStatus.RESOLVED))
    store.flush()
    resolved = feed.poll_once()
    assert resolved is not None
    assert [a["status"] for a in resolved.alerts.values()] == ["resolved"]
    assert feed.snapshot().alerts == []
    assert feed.poll_once() is None


def test_car_states_come_batched_one_change_per_poll(engine: Engine) -> None:
    feed = LiveFeed(engine, bucket_s=60)
    feed.poll_once()
    store = writer(engine)
    drive(store, range(0, 5))
    both = feed.poll_once()
    assert both is not None and sorted(both.vehicles) == sorted([VIN, OTHER_VIN])
    car = both.vehicles[VIN]
    assert (car["latitude"], car["speed_kmh"]) == (pytest.approx(48.104), 50.0)
    assert car["event_time"] == reading(4).event_time.isoformat().replace("+00:00", "Z")
    # Only the car that moved is sent again.
    ev = reading(5, latitude=48.2, longitude=11.6)
    store.record(ev, partition=0, offset=5, now=datetime.now(UTC))
    store.flush()
    one = feed.poll_once()
    assert one is not None and list(one.vehicles) == [VIN]
    assert one.vehicles[VIN]["latitude"] == pytest.approx(48.2)


def test_a_resume_folds_what_was_missed_and_an_unknown_id_gets_a_snapshot(
    engine: Engine,
) -> None:
    feed = LiveFeed(engine, bucket_s=60, history=3)
    feed.poll_once()
    store = writer(engine)
    drive(store, range(0, 2))
    feed.poll_once()  # seq 2
    store.alert(alert_event())
    store.flush()
    feed.poll_once()  # seq 3
    drive(store, range(2, 4), offset=2)
    feed.poll_once()  # seq 4
    folded = feed.since(2)
    assert folded is not None and folded.seq == 4
    assert list(folded.alerts) == [alert_event().alert_id]
    assert folded.vehicles[VIN]["event_time"].startswith(reading(3).event_time.isoformat()[:19])
    assert feed.since(4) is not None and not feed.since(4)
    assert feed.since(1) is not None  # history 3 still holds 2..4
    for _ in range(2):
        store.alert(alert_event(vin=OTHER_VIN))
        drive(store, range(4 + _, 5 + _), offset=4 + _)
        feed.poll_once()
    assert feed.since(1) is None  # fell out of the history: the client needs a snapshot
    assert feed.since(feed.seq + 1) is None
    assert feed.resume_point(feed.event_id(4)) == 4
    assert feed.resume_point("cafe0000-4") is None  # another process's id
    assert feed.resume_point("garbage") is None


def test_a_store_that_does_not_answer_is_reported_not_raised(tmp_path: Path) -> None:
    broken = create_engine(f"sqlite:///{tmp_path / 'missing' / 'serving.db'}")
    feed = LiveFeed(broken, bucket_s=60)
    assert feed.poll_once() is None
    assert feed.polled and feed.seq == 0
    assert feed.store["ok"] is False
    assert "does not answer" in feed.store["error"]


# --- over HTTP: a real uvicorn on a free loopback port --------------------------------------


@dataclass
class Event:
    name: str | None = None
    id: str | None = None
    data: Any = None


class SSE:
    """Reads one event stream; ``comments`` counts heartbeat lines."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.iter_lines()
        self.comments = 0
        self.retry: int | None = None

    def next(self, name: str | None = None, timeout: float = 10) -> Event:
        """The next event named ``name`` (default: the next that is not a ``status``)."""
        deadline = time.monotonic() + timeout
        event = Event()
        for line in self.lines:
            assert time.monotonic() < deadline, f"no {name or 'event'} within {timeout} s"
            if line.startswith(":"):
                self.comments += 1
            elif line.startswith("retry:"):
                self.retry = int(line.partition(":")[2])
            elif line.startswith("event:"):
                event.name = line.partition(":")[2].strip()
            elif line.startswith("id:"):
                event.id = line.partition(":")[2].strip()
            elif line.startswith("data:"):
                event.data = json.loads(line.partition(":")[2])
            elif line == "" and event.name is not None:
                if event.name == name or name is None and event.name != "status":
                    return event
                event = Event()
        raise AssertionError("the stream ended")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(engine: Engine) -> Iterator[tuple[str, LiveFeed]]:
    app = create_app(
        ServingSettings(), engine=engine, kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1")
    )
    feed = app.state.live_feed = LiveFeed(engine, bucket_s=60, poll_s=0.2, heartbeat_s=0.5)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off", timeout_graceful_shutdown=2)  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", feed
    finally:
        server.should_exit = True
        thread.join(10)
        feed.close()


def test_the_stream_delivers_changes_resumes_and_stops_with_its_client(
    engine: Engine, served: tuple[str, LiveFeed]
) -> None:
    url, feed = served
    populate(engine)
    store = writer(engine)
    with httpx.Client(base_url=url, timeout=5) as client:
        with client.stream("GET", "/live") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            sse = SSE(response)
            assert sse.next("status").data == {"store": {"ok": True, "error": None}}
            snap = sse.next()
            assert snap.name == "snapshot" and snap.id == feed.event_id(1)
            assert sse.retry == 3000
            assert len(snap.data["alerts"]) == 3

            store.alert(alert_event())
            store.flush()
            news = sse.next("alerts")
            assert news.id == feed.event_id(2)
            assert [a["vin"] for a in news.data["alerts"]] == [VIN]
            quiet = sse.comments
            time.sleep(1.2)  # nothing changes: heartbeats keep the line alive
            drive(store, range(0, 3))
            cars = sse.next("vehicles")
            assert sse.comments > quiet
            assert sorted(c["vin"] for c in cars.data["vehicles"]) == sorted([VIN, OTHER_VIN])
            last_id = cars.id
        # The client left: its listener goes and the poller thread stops.
        wait_until(
            lambda: feed.listeners == 0 and not feed.running, "the poller stopped", 5, every=0.05
        )

        store.alert(alert_event(AlertStatus.RESOLVED))
        drive(store, range(3, 5), offset=3)
        headers = {"Last-Event-ID": str(last_id)}
        with client.stream("GET", "/live", headers=headers) as response:
            sse = SSE(response)
            missed = sse.next()
            assert missed.name == "alerts", "a resuming client gets what it missed, no snapshot"
            assert [a["status"] for a in missed.data["alerts"]] == ["resolved"]
            moved = sse.next()
            assert moved.name == "vehicles" and moved.id == feed.event_id(feed.seq)
            assert {c["vin"] for c in moved.data["vehicles"]} == {VIN, OTHER_VIN}

        with client.stream("GET", "/live", headers={"Last-Event-ID": "cafe0000-2"}) as response:
            again = SSE(response).next("snapshot")
            assert [a["vin"] for a in again.data["alerts"]][0] == VIN_A
            assert all(a["vin"] != VIN for a in again.data["alerts"])


def test_the_page_and_the_network_are_served(served: tuple[str, LiveFeed]) -> None:
    url, _ = served
    with httpx.Client(base_url=url, timeout=5) as client:
        page = client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        for asset in ("/static/dashboard.js", "/static/dashboard.css", "/static/favicon.svg"):
            assert asset in page.text
            assert client.get(asset).status_code == 200, asset
        assert "cdn" not in page.text.lower() and "https://" not in page.text
        net = client.get("/network").json()
        assert {z["name"] for z in net["zones"]} >= {"depot", "airport", "downtown"}
        ids = {r["route_id"] for r in net["routes"]}
        assert "depot:airport:motorway" in ids and len(ids) == len(net["routes"])
        route = next(r for r in net["routes"] if r["route_id"] == "depot:airport:direct")
        depot = next(z for z in net["zones"] if z["name"] == "depot")
        assert route["points"][0] == [depot["latitude"], depot["longitude"]]
        assert "/network" in client.get("/openapi.json").json()["paths"]

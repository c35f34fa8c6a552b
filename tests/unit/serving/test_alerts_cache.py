"""``GET /alerts`` from the per-connection response cache (docs/serving.md, "Caching"): the
same bytes as computed afresh, and never an answer older than the last committed write."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, insert, update

from fleet import store
from fleet.alerts import AlertKind, Severity
from fleet.config import KafkaSettings
from fleet.store import connect
from hot_path.events import AlertEvent, AlertStatus, alert_id
from hot_path.speed_store import SpeedStore
from serving.cache import MAX_ENTRIES, ResponseCache, connection_cache
from serving.config import ServingSettings
from serving.main import create_app
from serving.models import AlertPage, served
from serving.queries.alerts import list_alerts
from serving.queries.view import current_view
from tests.unit.serving.rows import VIN_A, VIN_C, WATERMARK, populate

PARAMS: list[dict[str, Any]] = [
    {},
    {"status": "open"},
    {"status": "resolved"},
    {"status": "open", "severity": "critical"},
    {"kind": "fuel_low"},
    {"status": "open", "limit": 2},
    {"status": "open", "limit": 2, "offset": 2},
    {"limit": 1, "offset": 50},
]


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A populated SQLite store (the cache is SQLite's; PostgreSQL is never cached)."""
    made = connect(url := f"sqlite:///{tmp_path / 'serving.db'}")
    populate(made)
    with made.begin() as conn:  # a detail whose encoding a hand-made JSON would get wrong
        conn.execute(insert(store.speed_alerts), {
            "alert_id": "odd", "vin": VIN_C, "kind": "dtc_active", "severity": "critical",
            "status": "open", "opened_at": WATERMARK, "evidence_time": WATERMARK,
            "detected_at": WATERMARK, "resolved_at": None,
            "detail": json.dumps({"note": "Zylinder 3 überhitzt ✓", "tiny": 1e-07,
                                  "big": 2**70, "ratio": 0.1 + 0.2}),
        })  # fmt: skip
    made.dispose()
    return url


def _app(engine: Engine, tmp_path: Path) -> FastAPI:
    settings = ServingSettings(reports_dir=tmp_path / "reports")
    return create_app(settings, engine=engine, kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"))


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    eng = connect(url)
    yield eng
    eng.dispose()


@pytest.fixture
def one_connection(url: str) -> Iterator[Engine]:
    """An engine whose pool holds one connection: every request and write shares it."""
    eng = create_engine(url, pool_size=1, max_overflow=0)
    yield eng
    eng.dispose()


def _count_pages(engine: Engine) -> list[str]:
    """The alert pages ``engine`` reads from the database (appended as they run)."""
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _page(_conn: Any, _cur: Any, statement: str, *_: Any) -> None:
        if "speed_alerts" in statement and "LIMIT" in statement:  # not the count
            seen.append(statement)

    return seen


def _reference(engine: Engine, bucket_s: int) -> FastAPI:
    """The route as it was before the cache: FastAPI encodes the returned model."""
    ref = FastAPI()

    @ref.get("/alerts", response_model=AlertPage)
    def alerts(
        status: str | None = None,
        kind: AlertKind | None = None,
        severity: Severity | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> AlertPage:
        with engine.connect() as conn:
            view = current_view(conn, bucket_s=bucket_s)
            total, rows = list_alerts(
                conn, status=status, kind=kind, severity=severity, limit=limit, offset=offset
            )
        return AlertPage.model_validate({
            "served": served(view, ["speed"]), "total": total, "limit": limit,
            "offset": offset, "items": rows,
        })  # fmt: skip

    return ref


def _open_event(vin: str, status: AlertStatus, minute: int) -> AlertEvent:
    opened = WATERMARK + timedelta(minutes=10)
    return AlertEvent(
        alert_id=alert_id(vin, AlertKind.OIL_PRESSURE_LOW, opened.timestamp()),
        vin=vin,
        kind=AlertKind.OIL_PRESSURE_LOW,
        status=status,
        severity=Severity.CRITICAL,
        opened_at=opened,
        evidence_time=WATERMARK + timedelta(minutes=minute),
        detected_at=WATERMARK + timedelta(minutes=minute),
        detail={"oil_pressure_kpa": 80.5},
    )


def test_cached_pages_are_the_bytes_the_uncached_route_gives(
    engine: Engine, tmp_path: Path
) -> None:
    app = _app(engine, tmp_path)
    reference = TestClient(_reference(engine, app.state.store.bucket_s))
    pages = _count_pages(engine)
    with TestClient(app) as client:
        for params in PARAMS:
            want = reference.get("/alerts", params=params)
            first, again = (client.get("/alerts", params=params) for _ in range(2))
            for got in (first, again):
                assert got.status_code == want.status_code == 200, (params, got.text)
                assert got.content == want.content, params
                assert got.headers["content-type"] == want.headers["content-type"]
        # One page read per parameter set by the reference and one by the API: its repeats
        # came from the cache.
        assert len(pages) == 2 * len(PARAMS)
        every = client.get("/alerts").json()["items"]
    [odd] = [alert for alert in every if alert["alert_id"] == "odd"]
    assert odd["detail"]["big"] == 2**70


def test_a_write_by_the_hot_path_is_seen_on_the_very_next_request(
    engine: Engine, url: str, tmp_path: Path
) -> None:
    hot = connect(url)  # the hot path's own engine: other connections, as in production
    writer = SpeedStore(hot, group_id="hot-path", topic="fleet.telemetry", bucket_s=60)
    pages = _count_pages(engine)
    try:
        with TestClient(_app(engine, tmp_path)) as client:
            before = client.get("/alerts", params={"status": "open"}).json()
            assert client.get("/alerts", params={"status": "open"}).json() == before
            assert len(pages) == 1  # the repeat came from the cache

            opened = _open_event(VIN_A, AlertStatus.OPENED, 10)
            writer.alert(opened)
            assert writer.flush() == 1
            after = client.get("/alerts", params={"status": "open"}).json()
            assert after["total"] == before["total"] + 1
            assert opened.alert_id in [a["alert_id"] for a in after["items"]]

            writer.alert(_open_event(VIN_A, AlertStatus.RESOLVED, 20))
            writer.flush()
            now_open = client.get("/alerts", params={"status": "open"}).json()
            assert now_open == before
            resolved = client.get("/alerts", params={"status": "resolved"}).json()
            [alert] = [a for a in resolved["items"] if a["alert_id"] == opened.alert_id]
            assert alert["resolved_at"] is not None
    finally:
        hot.dispose()


def test_a_write_on_the_cached_connection_itself_is_seen(
    one_connection: Engine, tmp_path: Path
) -> None:
    # SQLite's data_version counts only other connections' commits: the stamp must also
    # count this connection's own writes (a pool shared with a writer).
    with TestClient(_app(one_connection, tmp_path)) as client:
        before = client.get("/alerts", params={"status": "open"}).json()
        with one_connection.begin() as conn:
            assert connection_cache(conn) is not None  # the very connection that cached it
            conn.execute(
                update(store.speed_alerts)
                .where(store.speed_alerts.c.alert_id == "odd")
                .values(status="resolved", resolved_at=WATERMARK)
            )
        after = client.get("/alerts", params={"status": "open"}).json()
    assert after["total"] == before["total"] - 1
    assert "odd" not in [a["alert_id"] for a in after["items"]]


def test_the_cache_keeps_at_most_max_entries_pages_least_recently_used_out(
    one_connection: Engine, tmp_path: Path
) -> None:
    pages = _count_pages(one_connection)
    with TestClient(_app(one_connection, tmp_path)) as client:
        for offset in range(MAX_ENTRIES + 1):
            assert client.get("/alerts", params={"limit": 1, "offset": offset}).status_code == 200
        with one_connection.connect() as conn:
            cache = connection_cache(conn)
            assert cache is not None and len(cache) == MAX_ENTRIES
        read = len(pages)
        client.get("/alerts", params={"limit": 1, "offset": MAX_ENTRIES})  # newest: kept
        assert len(pages) == read
        client.get("/alerts", params={"limit": 1, "offset": 0})  # oldest: evicted, read again
        assert len(pages) == read + 1


def test_the_lru_is_bounded_by_entries_and_bytes() -> None:
    cache = ResponseCache(object(), max_entries=3, max_bytes=10)
    cache.validate((1, 1, 0))
    for key in "abc":
        cache.put(key, b"xx")
    assert cache.get("a") == b"xx"  # now the most recently used
    cache.put("d", b"xx")
    assert ("a" in cache, "b" in cache, len(cache)) == (True, False, 3)
    cache.put("e", b"xxxx")  # a fourth entry: the least recently used (c) goes
    assert (cache.size, "c" in cache, "a" in cache, "e" in cache) == (8, False, True, True)
    cache.put("f", b"1234567")  # 15 bytes: a, d and e go until 10 fit
    assert (len(cache), cache.size, "f" in cache) == (1, 7, True)
    cache.put("huge", b"x" * 11)  # larger than the whole bound: not kept, nothing evicted
    assert ("huge" in cache, cache.get("f")) == (False, b"1234567")
    cache.validate((2, 1, 0))  # another stamp: every entry goes
    assert (len(cache), cache.size) == (0, 0)

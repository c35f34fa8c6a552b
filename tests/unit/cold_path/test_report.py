"""The fleet report: self-contained HTML and CSV files from the published views."""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import pytest

from cold_path.batch import publish
from cold_path.report import write_report
from fleet import store

T0 = datetime(2026, 1, 5, 7, tzinfo=UTC)


def vehicle(vin: str, rank: int | None, l100: float | None) -> dict:
    return {"vin": vin, "vehicle_class": "small_petrol", "distance_km": 50.0,
            "fuel_used_l": (l100 or 0) / 2, "refuelled_l": 0.0, "refuels": 0,
            "l_per_100km": l100, "rank": rank, "first_event": T0, "last_event": T0}  # fmt: skip


def test_the_report_covers_the_published_views_and_needs_no_network(tmp_path):
    engine = store.connect(f"sqlite:///{tmp_path / 's.db'}")
    publish(
        engine,
        {
            store.vehicle_efficiency: [vehicle("WF1AAAAA0NA000002", 2, 6.0),
                                       vehicle("WF1AAAAA0NA000001", 1, 5.0),
                                       vehicle("WF1AAAAA0NA000003", None, None)],
            store.route_rankings: [
                {"origin": "depot", "destination": "airport", "route": "depot:airport:ring",
                 "trips": 3, "mean_duration_s": 900.0, "mean_fuel_l": 1.2,
                 "mean_distance_km": 20.0, "rank_fuel": 1, "rank_time": 2, "recommended": True}],
        },
        started=T0, watermark=T0, events=10, excluded=0,
    )  # fmt: skip

    page = write_report(engine, tmp_path / "out")

    with (tmp_path / "out" / "efficiency.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["vin"] for r in rows] == ["WF1AAAAA0NA000001", "WF1AAAAA0NA000002",
                                        "WF1AAAAA0NA000003"]  # fmt: skip
    assert {"vin", "l_per_100km"} <= set(rows[0])
    assert rows[0]["l_per_100km"] == "5.0"
    text = page.read_text()
    assert "2026-01-05 07:00:00 UTC" in text  # the watermark it covers
    assert "<svg" in text and "depot:airport:ring" in text
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")  # nothing fetched


def test_no_report_before_the_first_batch(tmp_path):
    engine = store.connect(f"sqlite:///{tmp_path / 's.db'}")
    with pytest.raises(LookupError, match="run `python -m cold_path batch`"):
        write_report(engine, tmp_path / "out")

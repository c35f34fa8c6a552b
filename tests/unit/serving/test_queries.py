from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from cold_path.batch import publish
from fleet import store
from fleet.alerts import AlertKind, Severity
from serving.queries.alerts import _statements, list_alerts
from serving.queries.fleet import leaderboard, recommendations
from serving.queries.vehicles import (
    VehicleSort,
    list_vehicles,
    merged_vehicles,
    one_vehicle,
    vehicle_state,
)
from serving.queries.view import View, current_view
from tests.unit.serving.rows import (
    VIN_A,
    VIN_B,
    VIN_C,
    VIN_D,
    WATERMARK,
    add_buckets,
    add_state,
    efficiency_row,
    populate,
    publish_batch,
    route_row,
)

ALERT = {"vin": VIN_A, "kind": "fuel_low", "severity": "warning", "status": "open",
         "opened_at": WATERMARK, "evidence_time": WATERMARK, "detected_at": WATERMARK}  # fmt: skip


def _view(engine: Engine, bucket_s: int = 60) -> View:
    with engine.connect() as conn:
        return current_view(conn, bucket_s=bucket_s)


def test_view_before_any_batch_takes_the_whole_speed_layer(engine: Engine) -> None:
    add_buckets(engine, VIN_C, [(WATERMARK, 3.0, 0.3)])
    view = _view(engine)
    assert view == View(None, None, None, True)
    with engine.connect() as conn:
        [car] = merged_vehicles(conn, view=view)
    assert (car.vin, car.merged.totals.distance_km, car.merged.layers) == (VIN_C, 3.0, ("speed",))


def test_view_reads_the_published_watermark(engine: Engine) -> None:
    version = publish_batch(engine)
    assert _view(engine) == View(version, WATERMARK, WATERMARK, True)
    unaligned = publish_batch(engine, WATERMARK + timedelta(seconds=5))
    view = _view(engine)
    assert (view.version, view.aligned) == (unaligned, False)
    assert view.speed_from == WATERMARK + timedelta(minutes=1)


def test_merged_vehicles_add_speed_buckets_from_the_watermark_only(engine: Engine) -> None:
    populate(engine)
    with engine.connect() as conn:
        cars = {v.vin: v for v in merged_vehicles(conn, view=_view(engine))}
    assert set(cars) == {VIN_A, VIN_B, VIN_C, VIN_D}
    a = cars[VIN_A].merged
    assert a.totals.distance_km == pytest.approx(103.0)  # 100 batch + 1 + 2 (not the 9 before)
    assert a.totals.fuel_used_l == pytest.approx(6.3)
    assert a.layers == ("batch", "speed")
    assert cars[VIN_B].merged.layers == ("batch",)
    assert cars[VIN_C].merged.layers == ("speed",)
    assert cars[VIN_C].vehicle_class is None
    assert cars[VIN_A].last_seen == WATERMARK + timedelta(minutes=2)


def test_list_vehicles_sorts_filters_and_pages(engine: Engine) -> None:
    populate(engine)
    view = _view(engine)
    with engine.connect() as conn:

        def vins(**kw: object) -> list[str]:
            args = {"vehicle_class": None, "sort": VehicleSort.EFFICIENCY, "limit": 10,
                    "offset": 0, **kw}  # fmt: skip
            return [v.vin for v in list_vehicles(conn, view=view, **args)[1]]  # type: ignore[arg-type]

        # A: 6.1 l/100 km; B: 10; C: 15 (speed only); D under a kilometre: last
        assert vins() == [VIN_A, VIN_B, VIN_C, VIN_D]
        assert vins(sort=VehicleSort.DISTANCE) == [VIN_B, VIN_A, VIN_C, VIN_D]
        assert vins(sort=VehicleSort.VIN) == sorted([VIN_A, VIN_B, VIN_C, VIN_D])
        assert vins(vehicle_class="van") == [VIN_B, VIN_D]
        assert vins(sort=VehicleSort.VIN, limit=2, offset=1) == [VIN_B, VIN_C]
        total, _ = list_vehicles(conn, view=view, vehicle_class=None, sort=VehicleSort.VIN,
                                 limit=1, offset=0)  # fmt: skip
        assert total == 4


def test_vehicle_state_leaves_out_bookkeeping(engine: Engine) -> None:
    populate(engine)
    with engine.connect() as conn:
        state = vehicle_state(conn, vin=VIN_A)
        assert vehicle_state(conn, vin=VIN_B) is None
    assert state is not None
    assert state["fuel_litres"] == 40.0
    assert not {"seq", "partition", "missing_seqs"} & set(state)


def test_alerts_most_severe_first_and_filtered(engine: Engine) -> None:
    populate(engine)
    with engine.connect() as conn:
        total, rows = list_alerts(conn, limit=10)
        assert total == 4
        assert [r["severity"] for r in rows] == ["critical", "warning", "warning", "info"]
        # Same severity: the most recently opened first.
        assert [r["kind"] for r in rows[1:3]] == ["battery_low", "fuel_low"]
        assert rows[0]["detail"] == {"value": 1}
        total, rows = list_alerts(conn, status="open", limit=10)
        assert total == 3
        assert {r["status"] for r in rows} == {"open"}
        _, rows = list_alerts(conn, kind=AlertKind.FUEL_LOW, limit=10)
        assert [r["vin"] for r in rows] == [VIN_A]
        _, rows = list_alerts(conn, severity=Severity.INFO, vin=VIN_B, limit=10)
        assert [r["kind"] for r in rows] == ["harsh_driving"]
        total, rows = list_alerts(conn, limit=1, offset=1)
        assert (total, len(rows)) == (4, 1)


def test_leaderboard_ranks_cars_with_a_figure_and_pools_classes(engine: Engine) -> None:
    populate(engine)
    with engine.connect() as conn:
        cars, classes = leaderboard(conn, view=_view(engine), limit=10)
    assert [c.vin for c in cars] == [VIN_A, VIN_B, VIN_C]  # D has no figure
    by_class = {c.vehicle_class: c for c in classes}
    assert by_class["van"].vehicles == 2
    assert by_class["van"].l_per_100km == pytest.approx(20.1 / 200.5 * 100)
    assert by_class[None].vehicles == 1
    assert [c.vehicle_class for c in classes] == ["compact", "van", None]


def test_recommendations_filter_and_rank(engine: Engine) -> None:
    with engine.connect() as conn:
        assert recommendations(conn, view=_view(engine), origin=None, destination=None) == []
    populate(engine)
    view = _view(engine)
    with engine.connect() as conn:
        rows = recommendations(conn, view=view, origin="depot", destination="airport")
        assert [(r["route"], r["recommended"]) for r in rows] == [("s1>s2", True),
                                                                  ("s1>s3>s2", False)]  # fmt: skip
        assert len(recommendations(conn, view=view, origin=None, destination="depot")) == 1


def test_text_orders_are_the_same_on_every_backend(engine: Engine) -> None:
    """Ties and name orders follow code points (as SQLite does), not the database's locale:
    the test database's en-US collation would put ``airport`` before ``Zoo``."""
    names = ["Zoo", "airport", "b-x", "b_x", "bx", "B"]
    views = {
        store.route_rankings: [route_row(name, "depot", f"via-{name}", 1) for name in names],
    }
    publish(engine, views, started=WATERMARK, watermark=WATERMARK, events=1, excluded=0)
    # Same severity, same time: the alert id decides.
    with engine.begin() as conn:
        conn.execute(insert(store.speed_alerts), [{**ALERT, "alert_id": n} for n in names])
    with engine.connect() as conn:
        routes = recommendations(conn, view=_view(engine), origin=None, destination=None)
        _, alerts = list_alerts(conn, limit=10)
    assert [r["origin"] for r in routes] == sorted(names)
    assert [a["alert_id"] for a in alerts] == sorted(names)


def test_an_alert_whose_detail_is_not_a_json_object_is_served_as_text(engine: Engine) -> None:
    row = {**ALERT, "kind": "dtc_active"}
    with engine.begin() as conn:
        conn.execute(insert(store.speed_alerts), [
            {**row, "alert_id": "a", "detail": '{"code": "P0301"}'},
            {**row, "alert_id": "b", "detail": "[1, 2]"},
            {**row, "alert_id": "c", "detail": "{truncated"},
            {**row, "alert_id": "d", "detail": None},
            {**row, "alert_id": "e", "detail": '{"odometer_mm": 123456789012345678901234567890}'},
        ])  # fmt: skip
    with engine.connect() as conn:
        _, rows = list_alerts(conn, limit=10)
    assert [r["detail"] for r in rows] == [
        {"code": "P0301"}, {"raw": "[1, 2]"}, {"raw": "{truncated"}, {},
        {"odometer_mm": 123456789012345678901234567890},  # exact: orjson would make it a float
    ]  # fmt: skip


def _many_alerts(engine: Engine) -> list[dict[str, object]]:
    """60 alerts: every severity (and a word that is none), ties on the opening time, some
    resolved, two cars."""
    rows = []
    severities = ["info", "warning", "critical", "bogus"]
    for i in range(60):
        opened = WATERMARK + timedelta(minutes=i % 7)  # many share an opening time
        rows.append({**ALERT, "alert_id": f"id-{(i * 37) % 60:02d}", "vin": (VIN_A, VIN_B)[i % 2],
                     "severity": severities[i % 4], "status": "resolved" if i % 5 == 0 else "open",
                     "opened_at": opened})  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(store.speed_alerts), rows)
    return rows


def test_open_alerts_pages_follow_severity_then_time_then_id(engine: Engine) -> None:
    rows = _many_alerts(engine)
    rank = {str(s): s.rank for s in Severity}
    expected = [r["alert_id"] for r in sorted(
        (r for r in rows if r["status"] == "open"),
        key=lambda r: (-rank.get(str(r["severity"]), -1), -r["opened_at"].timestamp(),  # type: ignore[attr-defined]
                       r["alert_id"]),
    )]  # fmt: skip
    with engine.connect() as conn:
        pages = [list_alerts(conn, status="open", limit=7, offset=o) for o in range(0, 56, 7)]
        _, one_car = list_alerts(conn, status="open", vin=VIN_B, limit=1000)
    assert {total for total, _ in pages} == {len(expected)}
    assert [r["alert_id"] for _, page in pages for r in page] == expected
    # One car's alerts (another statement, read by the VIN index): the same order.
    assert [r["alert_id"] for r in one_car] == [
        r for r in expected if next(x for x in rows if x["alert_id"] == r)["vin"] == VIN_B
    ]


def test_open_alerts_page_is_read_in_index_order_on_sqlite(tmp_path: Path) -> None:
    """The page walks `ix_speed_alerts_open_page` and stops after its rows (no sort of every
    open alert); one car's alerts go through the VIN index, not every open alert.
    (Query plans are SQLite's: this one runs on SQLite only.)"""
    engine = store.connect(f"sqlite:///{tmp_path / 'plans.db'}")
    _many_alerts(engine)
    store.connect(str(engine.url)).dispose()  # opening a store again keeps its indexes
    values = {"status": "open", "vin": VIN_A, "limit": 50, "offset": 0}
    plans = []
    with engine.connect() as conn:
        for filters in ((True, False, False, False), (True, False, False, True)):
            compiled = _statements(conn.dialect, filters)[0].compile(conn)
            bound = compiled.construct_params(values)
            params = tuple(bound[name] for name in compiled.positiontup or ())
            steps = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params)
            plans.append(" | ".join(str(step[-1]) for step in steps))
    assert "ix_speed_alerts_open_page" in plans[0] and "TEMP B-TREE" not in plans[0], plans[0]
    assert "ix_speed_alerts_vin" in plans[1], plans[1]
    engine.dispose()


def _publish_with_totals(engine: Engine) -> None:
    """A version with merge totals for VIN_A only (VIN_B and VIN_D fall back to efficiency)."""
    views = {
        store.vehicle_efficiency: [
            efficiency_row(VIN_A, "compact", 100.0, 6.0),
            efficiency_row(VIN_B, "van", 200.0, 20.0),
            efficiency_row(VIN_D, "van", 0.5, 0.1),
        ],
        store.vehicle_totals: [
            {
                "vin": VIN_A,
                "distance_km": 98.5,
                "fuel_used_l": 5.75,
                "readings": 500,
                "through": WATERMARK,
            }
        ],  # fmt: skip
    }
    publish(engine, views, started=WATERMARK, watermark=WATERMARK, events=10, excluded=0)


@pytest.mark.parametrize("batch", ["none", "aligned", "unaligned", "totals"])
def test_one_vehicle_reads_what_merged_vehicles_and_vehicle_state_read(
    engine: Engine, batch: str
) -> None:
    minute = timedelta(minutes=1)
    if batch == "none":  # speed layer only: every bucket counts
        add_buckets(engine, VIN_C, [(WATERMARK - minute, 3.0, 0.45), (WATERMARK, 1.0, 0.1)])
        add_state(engine, VIN_C, WATERMARK + minute)
    else:
        populate(engine)
    if batch == "unaligned":
        publish_batch(engine, WATERMARK + timedelta(seconds=5))
    if batch == "totals":
        _publish_with_totals(engine)
    view = _view(engine)
    answered = []
    with engine.connect() as conn:
        for vin in (VIN_A, VIN_B, VIN_C, VIN_D, "1FLEET0000000000E"):
            car, state = one_vehicle(conn, view=view, vin=vin)
            assert ([car] if car else []) == merged_vehicles(conn, view=view, vins=[vin]), vin
            assert state == vehicle_state(conn, vin=vin), vin
            answered.append(car is not None)
    assert answered == ([False, False, True, False, False] if batch == "none" else
                        [True, True, True, True, False])  # fmt: skip

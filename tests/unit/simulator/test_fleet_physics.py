"""Fleet-level physics: fuel bookkeeping, refuels, VINs, the network's names."""

from __future__ import annotations

import re

import numpy as np

from fleet.telemetry import decode_event
from fleet.vin import check_digit
from simulator.network import Network
from simulator.truth import route_rows, vehicle_rows
from tests.unit.simulator.helpers import records, simulation

SHORT_TEXT = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")


def test_fuel_never_goes_negative_and_refuels_show_in_telemetry() -> None:
    sim = simulation(cars=80, hz=0.05, duration_s=4 * 3600, seed=21)
    last: dict[str, float] = {}
    rising: set[str] = set()
    for _, value in records(sim):
        e = decode_event(value)
        assert e.fuel_litres is not None and e.fuel_litres >= 0
        if e.vin in last and e.fuel_litres > last[e.vin] + 1.0:
            assert e.speed == 0.0 and e.trip_id is None, "cars refuel parked at a station"
            rising.add(e.vin)
        last[e.vin] = e.fuel_litres
    refuelled = {
        vin
        for vin, litres in zip(sim.fleet.vins, sim.driving.refuelled.tolist(), strict=True)
        if litres > 1
    }
    assert rising and rising == refuelled
    d = sim.driving
    # Bookkeeping: what is in the tank now is what was there, minus burnt, plus refuelled.
    initial = d.fuel + d.fuel_used - d.refuelled
    assert (initial <= d.tank + 1e-6).all() and (initial >= 0).all()


def test_truth_distance_and_fuel_agree_with_the_odometer() -> None:
    sim = simulation(cars=10, duration_s=1800)
    first: dict[str, float] = {}
    final: dict[str, float] = {}
    for _, value in records(sim):
        e = decode_event(value)
        first.setdefault(e.vin, e.odometer or 0.0)
        final[e.vin] = e.odometer or 0.0
    for row in vehicle_rows(sim):
        assert abs(final[row["vin"]] - first[row["vin"]] - row["distance_km"]) < 0.02
        if row["l_per_100km"] is not None and row["distance_km"] > 5:
            assert 3.0 < row["l_per_100km"] < 25.0


def test_routes_truth_covers_every_pair_with_three_distinct_routes() -> None:
    sim = simulation(cars=40, hz=0.1, duration_s=3600)
    records(sim)
    rows = route_rows(sim)
    assert len(rows) == 42
    for row in rows:
        lengths = [r["length_km"] for r in row["routes"]]
        assert len(set(lengths)) == 3
    trips = [r for row in rows for r in row["routes"] if r["trips"]]
    assert trips and all(r["mean_travel_time_s"] > 0 and r["mean_fuel_l"] > 0 for r in trips)


def test_vins_are_valid_distinct_and_check_digit_correct() -> None:
    vins = simulation(cars=500, duration_s=1).fleet.vins
    assert len(set(vins)) == 500
    assert all(v[8] == check_digit(v) for v in vins)


def test_network_names_fit_the_contract() -> None:
    net = Network()
    assert all(SHORT_TEXT.match(name) for name in net.seg_names.tolist())
    assert all(SHORT_TEXT.match(r.route_id) for r in net.routes)
    assert (net.seg_len > 100).all() and np.isfinite(net.seg_heading).all()

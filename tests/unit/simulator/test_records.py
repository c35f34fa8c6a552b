"""Every record the simulator emits passes the contract; the broken ones fail it on purpose."""

from __future__ import annotations

from collections import Counter

import pytest

from fleet.errors import ContractError
from fleet.telemetry import decode_event
from simulator.realism import MALFORMED_KINDS, Realism, corrupt
from tests.unit.simulator.helpers import records, simulation


def test_a_large_sample_with_faults_passes_the_contract() -> None:
    # 60 cars for 40 simulated minutes at 0.2 Hz with many faults: ~29k records
    # covering parked and moving cars, trips, lights, refuels and every fault kind.
    sim = simulation(cars=60, hz=0.2, duration_s=2400, fault_rate=3.0, seed=3)
    recs = records(sim)
    assert len(recs) > 25_000
    seen = Counter()
    for key, value in recs:
        event = decode_event(value)
        assert event.key == key
        assert event.event_time.utcoffset() is not None and value.count(b'Z"') == 1
        seen["trip" if event.trip_id else "parked"] += 1
        seen["dtc"] += bool(event.dtcs)
        seen["rate"] += event.fuel_rate is not None
        assert 250 < len(value) < 1400
    assert all(seen[k] > 0 for k in ("trip", "parked", "dtc", "rate")), seen


def test_seq_counts_each_cars_records_in_order() -> None:
    by_vin: dict[str, list[int]] = {}
    for _, value in records(simulation(cars=10, duration_s=120)):
        event = decode_event(value)
        by_vin.setdefault(event.vin, []).append(event.seq)
    assert all(seqs == list(range(len(seqs))) for seqs in by_vin.values())
    assert len(by_vin) == 10


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_each_malformation_breaks_the_contract(kind: str) -> None:
    _, good = records(simulation(cars=1, duration_s=30))[-1]
    with pytest.raises(ContractError):
        decode_event(corrupt(good, kind))


def test_malformed_records_are_counted_and_are_the_only_failures() -> None:
    sim = simulation(cars=20, duration_s=600, realism=Realism(malformed=0.05))
    failures = 0
    for _, value in records(sim):
        try:
            decode_event(value)
        except ContractError:
            failures += 1
    counted = sum(n for k, n in sim.realism.counts.items() if k.startswith("malformed."))
    assert failures == counted > 0


def test_late_and_reordered_records_all_arrive_once() -> None:
    plain = records(simulation(cars=10, duration_s=900))
    sim = simulation(cars=10, duration_s=900, realism=Realism(late=0.02, reorder=0.02))
    shuffled = records(sim)
    assert sorted(plain) == sorted(shuffled) and plain != shuffled
    assert sim.realism.counts["late"] > 0 and sim.realism.counts["reordered"] > 0

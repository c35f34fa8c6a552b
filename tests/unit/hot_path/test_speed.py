"""Which records are news for the speed views, and what each adds."""

from __future__ import annotations

import pytest

from hot_path.speed import Track, Verdict, advance, bucket_start

from .readings import START, reading


def run(*events):  # type: ignore[no-untyped-def]
    track: Track | None = None
    out = []
    for ev in events:
        track, verdict, inc = advance(track, ev)
        out.append((verdict, inc))
    return track, out


def test_in_order_records_add_the_odometer_rise() -> None:
    _, out = run(reading(0, odometer=100.0), reading(1, odometer=100.02))
    assert [v for v, _ in out] == [Verdict.IN_ORDER, Verdict.IN_ORDER]
    assert out[1][1] is not None and out[1][1].distance_km == pytest.approx(0.02)


def test_a_duplicate_never_counts_twice() -> None:
    first = reading(0, odometer=100.0)
    _, out = run(first, reading(1, odometer=100.02), first, reading(1, odometer=100.02))
    assert [v for v, _ in out][2:] == [Verdict.DUPLICATE, Verdict.DUPLICATE]
    assert [inc for _, inc in out][2:] == [None, None]


def test_a_late_record_counts_once_in_its_own_bucket_and_moves_no_distance() -> None:
    late = reading(2, odometer=100.04)
    track, out = run(
        reading(0, odometer=100.0), reading(1, odometer=100.02), reading(3, odometer=100.06),
        late, late,
    )  # fmt: skip
    total = sum(inc.distance_km for _, inc in out if inc is not None)
    assert total == pytest.approx(0.06)  # the odometer's span, whatever the order
    assert [v for v, _ in out][3:] == [Verdict.LATE, Verdict.DUPLICATE]
    assert out[3][1] is not None and out[3][1].records == 1 and out[3][1].distance_km == 0
    assert track is not None and track.missing == ()


def test_buckets_start_on_the_bucket_size() -> None:
    t = START.timestamp() + 75
    assert bucket_start(t, 60) == START.timestamp() + 60

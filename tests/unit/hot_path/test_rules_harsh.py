"""Harsh driving: repeated manoeuvres judged against the car's own habit."""

from __future__ import annotations

from hot_path.config import RuleSettings
from hot_path.rules import Finding
from hot_path.rules_harsh import HarshState, harsh_driving

from .readings import reading

CFG = RuleSettings()


def drive(
    st: HarshState, accels: list[float], t0: float = 0.0, every_s: float = 5.0
) -> tuple[HarshState, list[Finding | None], float]:
    """Readings every ``every_s`` (0.2 Hz by default) with these accelerations, on the move."""
    findings: list[Finding | None] = []
    t = t0
    for a in accels:
        st, f = harsh_driving(st, reading(t, acceleration=a, speed=50.0), t, CFG)
        findings.append(f)
        t += every_s
    return st, findings, t


def habit(accel: float, brake: float, cycles: int) -> list[float]:
    """A car's ordinary driving: speeding up, cruising, slowing down, with a little spread."""
    out: list[float] = []
    for i in range(cycles):
        wobble = 1.0 + 0.05 * ((i % 5) - 2) / 2
        out += [accel * wobble, accel * 0.7, 0.1, -0.1, -brake * wobble, -brake * 0.6, 0.0]
    return out


def active(findings: list[Finding | None]) -> bool:
    return any(f is not None and f.active for f in findings)


def test_a_brisk_driver_is_not_harsh_by_habit() -> None:
    # 2.8 m/s^2 away and 4.2 m/s^2 braking, all day: over the fleet-wide limits, this car's norm.
    st, findings, _ = drive(HarshState(), habit(2.8, 4.2, 60))
    assert not active(findings)
    assert st.accel_ref is not None and 1.9 < st.accel_ref < 2.9
    assert st.brake_ref is not None and 2.5 < st.brake_ref < 4.4


def test_a_calm_car_braking_and_surging_hard_again_and_again_is_harsh() -> None:
    st, findings, t = drive(HarshState(), habit(1.0, 1.5, 30))
    assert not active(findings)
    before = (st.accel_ref, st.brake_ref)
    # Under any fleet-wide limit, but twice and three times its own, every half minute.
    st, findings, t = drive(st, [1.9, 0.4, -4.2, 0.2, 0.3, 0.1] * 4, t)
    assert active(findings)
    assert (st.accel_ref, st.brake_ref) == before  # harsh readings did not teach the norm
    _, findings, _ = drive(st, habit(1.0, 1.5, 60), t)
    assert findings[-1] == Finding(active=False)  # clear again after calm driving


def test_one_hard_stop_is_a_manoeuvre_not_an_episode() -> None:
    st, _, t = drive(HarshState(), habit(1.0, 1.5, 30))
    st, findings, t = drive(st, [0.2, -5.0, 0.0, 0.9, 0.1], t)  # a child on the road
    assert not active(findings)
    # More within minutes make an episode.
    st, findings, t = drive(st, [-4.5, 0.0, -4.8, 0.2, -4.6, 0.0], t)
    assert active(findings)


def test_before_the_car_has_a_norm_only_the_absolute_limits_count() -> None:
    _, findings, _ = drive(HarshState(), [1.0, -2.0] * 3)
    assert not active(findings)
    _, findings, _ = drive(HarshState(), [3.5, -6.0, 3.4, -5.5])
    assert active(findings)


def test_a_firm_stop_under_the_harsh_floor_is_not_harsh_however_gently_the_car_brakes() -> None:
    st, _, t = drive(HarshState(), habit(1.0, 1.2, 30))
    assert st.brake_ref is not None and 3.0 * st.brake_ref < CFG.harsh_brake_floor_mps2
    # Three times its usual braking, but under 0.4 g: brisk, not harsh.
    _, findings, _ = drive(st, [-3.6, 0.0, -3.7, 0.1, -3.8, 0.0] * 3, t)
    assert not active(findings)


def test_a_long_episode_clears_within_half_an_hour_so_the_next_one_is_seen() -> None:
    st, _, t = drive(HarshState(), habit(1.0, 1.5, 30))
    st, findings, t = drive(st, [1.9, 0.4, -4.2, 0.2, 0.3, 0.1] * 20, t)  # ten hard minutes
    assert active(findings)
    st, findings, t = drive(st, habit(1.0, 1.5, 43), t)  # 25 calm minutes
    assert findings[-1] == Finding(active=False)
    _, findings, _ = drive(st, [1.9, 0.4, -4.2, 0.2, 0.3, 0.1] * 4, t)
    assert active(findings)

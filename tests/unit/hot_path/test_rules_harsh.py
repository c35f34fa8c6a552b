"""Harsh driving: pull-aways judged against the car's own."""

from __future__ import annotations

from hot_path.config import RuleSettings
from hot_path.rules import Finding
from hot_path.rules_harsh import HarshState, harsh_driving

from .readings import reading

CFG = RuleSettings()


def launches(st: HarshState, peak: float, count: int, t0: float = 0.0):  # type: ignore[no-untyped-def]
    """``count`` pull-aways from a stop, one a minute: 6 s rising to ``peak``, then cruise."""
    findings: list[Finding | None] = []
    t = t0
    for _ in range(count):
        profile = [0.0, peak * 0.6, peak, peak, peak * 0.9, peak * 0.7, 0.8, 0.2] + [0.0] * 52
        speed = 0.0
        for a in profile:
            st, f = harsh_driving(st, reading(t, acceleration=a, speed=speed), t, CFG)
            findings.append(f)
            speed += a * 3.6
            t += 1.0
    return st, findings, t


def active(findings: list[Finding | None]) -> bool:
    return any(f is not None and f.active for f in findings)


def test_a_brisk_driver_is_not_harsh_by_habit() -> None:
    # 2.6 m/s^2 every launch is over the fleet-wide 2.5 but it is this car's norm.
    st, findings, _ = launches(HarshState(), 2.6, 30)
    assert not active(findings)
    assert st.ref is not None and abs(st.ref - 2.6) < 0.01


def test_a_calm_car_pulling_away_much_harder_than_usual_is_harsh() -> None:
    st, findings, t = launches(HarshState(), 1.0, 10)
    assert not active(findings)
    st, findings, t = launches(st, 1.8, 1, t)  # under any fleet-wide limit, but 1.8x its own
    assert active(findings)
    assert st.ref is not None and st.ref < 1.05  # the harsh launch did not teach the norm
    _, findings, _ = launches(st, 1.0, 15, t)
    assert findings[-1] == Finding(active=False)  # clear again after calm driving


def test_one_spike_in_a_run_is_not_enough() -> None:
    st, _, t = launches(HarshState(), 1.0, 5)
    for a in (0.6, 2.0, 0.7, 0.0):  # one glitched reading
        st, f = harsh_driving(st, reading(t, acceleration=a, speed=5.0), t, CFG)
        assert not (f is not None and f.active)
        t += 1

"""The tyre rule: pressure against a learned, temperature-compensated baseline.

Tyres: the four tyres of a car share the air temperature and the road, so
their pressures rise and fall together (absolute pressure follows absolute
temperature). Each tyre's absolute pressure divided by the median of the
other three cancels that out; a tyre whose ratio falls below its own learned
ratio is losing air faster than temperature explains.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from fleet.alerts import Severity
from fleet.telemetry import TYRES, TelemetryValues
from hot_path.config import RuleSettings
from hot_path.rules import CLEAR, Detail, Finding, Since, sustained

ATMOSPHERE_KPA = 101.3


class TyreState(NamedTuple):
    ratios: tuple[float, ...] | None = None
    """Each tyre's learned ratio to the median of the other three (absolute pressures)."""
    learned_at: float | None = None
    since: Since = None


def _middle(x: float, y: float, z: float) -> float:
    """The median of three, by comparison (exact; sorting three lists was the rule's cost)."""
    if x > y:
        x, y = y, x
    if z >= y:
        return y
    return x if z <= x else z


def _learn(
    base: float, ratio: float, loss: float, alpha: float, jump: float, follow: float
) -> float:
    """A tyre's next baseline ratio: jumps up, follows slowly, or holds while losing."""
    if loss < jump:
        return ratio
    return base + alpha * (ratio - base) if loss < follow else base


def tyre_pressure_low(
    st: TyreState, ev: TelemetryValues, t: float, cfg: RuleSettings
) -> tuple[TyreState, Finding | None]:
    """One tyre below its temperature-compensated baseline, or below the absolute minimum."""
    fl, fr, rl, rr = ev.tyre_front_left, ev.tyre_front_right, ev.tyre_rear_left, ev.tyre_rear_right
    if fl is None or fr is None or rl is None or rr is None:
        return st, None
    # Written out for four tyres: with list comprehensions over zip() this rule was a
    # third of the rules' CPU for a record.
    gauge = (fl, fr, rl, rr)
    a, b, c, d = fl + ATMOSPHERE_KPA, fr + ATMOSPHERE_KPA, rl + ATMOSPHERE_KPA, rr + ATMOSPHERE_KPA
    others = (_middle(b, c, d), _middle(a, c, d), _middle(a, b, d), _middle(a, b, c))
    ratios = (a / others[0], b / others[1], c / others[2], d / others[3])
    if st.ratios is None:
        return TyreState(ratios, t, None), None
    # The baseline follows slow drift (tyres all lose a little air over weeks) but
    # freezes while a tyre is losing, and jumps up when a tyre is re-inflated.
    alpha = 1.0 - math.exp(-max(t - (st.learned_at or t), 0.0) / cfg.tyre_baseline_tau_s)
    jump, follow = -cfg.tyre_loss_kpa / 2, cfg.tyre_loss_kpa / 4
    b0, b1, b2, b3 = st.ratios
    r0, r1, r2, r3 = ratios
    losses = ((b0 - r0) * others[0], (b1 - r1) * others[1], (b2 - r2) * others[2],
              (b3 - r3) * others[3])  # fmt: skip
    learned = (
        _learn(b0, r0, losses[0], alpha, jump, follow),
        _learn(b1, r1, losses[1], alpha, jump, follow),
        _learn(b2, r2, losses[2], alpha, jump, follow),
        _learn(b3, r3, losses[3], alpha, jump, follow),
    )
    worst = lowest = 0
    for i in (1, 2, 3):  # the first of equals, as max() and min() would pick
        if losses[i] > losses[worst]:
            worst = i
        if gauge[i] < gauge[lowest]:
            lowest = i
    flat = gauge[lowest] < cfg.tyre_min_kpa
    bad = losses[worst] >= cfg.tyre_loss_kpa or flat
    since, held = sustained(st.since, t, bad, cfg.tyre_sustain_s)
    state = TyreState(learned, t, since)
    if since is None:
        return state, CLEAR if losses[worst] < cfg.tyre_loss_kpa / 2 else None
    if not held:
        return state, None
    tyre = lowest if flat else worst
    critical = flat or losses[worst] >= cfg.tyre_critical_loss_kpa
    detail: Detail = {
        "tyre": TYRES[tyre],
        "pressure_kpa": gauge[tyre],
        "loss_kpa": round(losses[tyre], 1),
    }
    return state, Finding(True, Severity.CRITICAL if critical else Severity.WARNING, detail)

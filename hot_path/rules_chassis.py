"""The tyre rule: pressure against a learned, temperature-compensated baseline.

Tyres: the four tyres of a car share the air temperature and the road, so
their pressures rise and fall together (absolute pressure follows absolute
temperature). Each tyre's absolute pressure divided by the median of the
other three cancels that out; a tyre whose ratio falls below its own learned
ratio is losing air faster than temperature explains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fleet.alerts import Severity
from fleet.telemetry import TYRES, TelemetryEvent
from hot_path.config import RuleSettings
from hot_path.rules import CLEAR, Detail, Finding, Since, sustained

ATMOSPHERE_KPA = 101.3


@dataclass(frozen=True, slots=True)
class TyreState:
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


def _ratios(absolute: list[float]) -> tuple[list[float], list[float]]:
    a, b, c, d = absolute
    others = [_middle(b, c, d), _middle(a, c, d), _middle(a, b, d), _middle(a, b, c)]
    return [a / others[0], b / others[1], c / others[2], d / others[3]], others


def tyre_pressure_low(
    st: TyreState, ev: TelemetryEvent, t: float, cfg: RuleSettings
) -> tuple[TyreState, Finding | None]:
    """One tyre below its temperature-compensated baseline, or below the absolute minimum."""
    gauge = [getattr(ev, name) for name in TYRES]
    if None in gauge:
        return st, None
    ratios, others = _ratios([p + ATMOSPHERE_KPA for p in gauge])
    if st.ratios is None:
        return TyreState(tuple(ratios), t, None), None
    losses = [(b - r) * o for b, r, o in zip(st.ratios, ratios, others, strict=True)]
    # The baseline follows slow drift (tyres all lose a little air over weeks) but
    # freezes while a tyre is losing, and jumps up when a tyre is re-inflated.
    alpha = 1.0 - math.exp(-max(t - (st.learned_at or t), 0.0) / cfg.tyre_baseline_tau_s)
    jump, follow = -cfg.tyre_loss_kpa / 2, cfg.tyre_loss_kpa / 4
    learned = tuple([
        r if loss < jump else b + alpha * (r - b) if loss < follow else b
        for b, r, loss in zip(st.ratios, ratios, losses, strict=True)
    ])  # fmt: skip
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

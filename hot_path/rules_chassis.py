"""Rules over several signals and a learned baseline: tyre pressure and harsh driving.

Tyres: the four tyres of a car share the air temperature and the road, so
their pressures rise and fall together (absolute pressure follows absolute
temperature). Each tyre's absolute pressure divided by the median of the
other three cancels that out; a tyre whose ratio falls below its own learned
ratio is losing air faster than temperature explains.

Harsh driving: an episode is a run of readings with longitudinal acceleration
beyond the harsh limits; episodes are counted over a distance-decayed window
and compared with an absolute floor and with the car's own long-run rate, so
a driver whose style is brisk is judged against himself.
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


def _ratios(absolute: list[float]) -> tuple[list[float], list[float]]:
    others = [sorted(absolute[:i] + absolute[i + 1 :])[1] for i in range(4)]
    return [a / o for a, o in zip(absolute, others, strict=True)], others


def tyre_pressure_low(
    st: TyreState, ev: TelemetryEvent, t: float, cfg: RuleSettings
) -> tuple[TyreState, Finding | None]:
    """One tyre below its temperature-compensated baseline, or below the absolute minimum."""
    gauge = [getattr(ev, name) for name in TYRES]
    if any(p is None for p in gauge):
        return st, None
    ratios, others = _ratios([p + ATMOSPHERE_KPA for p in gauge])
    if st.ratios is None:
        return TyreState(tuple(ratios), t, None), None
    losses = [(b - r) * o for b, r, o in zip(st.ratios, ratios, others, strict=True)]
    # The baseline follows slow drift (tyres all lose a little air over weeks) but
    # freezes while a tyre is losing, and jumps up when a tyre is re-inflated.
    alpha = 1.0 - math.exp(-max(t - (st.learned_at or t), 0.0) / cfg.tyre_baseline_tau_s)
    learned = tuple(
        r if loss < -cfg.tyre_loss_kpa / 2 else b + alpha * (r - b) if loss < cfg.tyre_loss_kpa / 4
        else b
        for b, r, loss in zip(st.ratios, ratios, losses, strict=True)
    )  # fmt: skip
    worst = max(range(4), key=lambda i: losses[i])
    lowest = min(range(4), key=lambda i: gauge[i])
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


@dataclass(frozen=True, slots=True)
class HarshState:
    in_episode: bool = False
    recent: float = 0.0
    """Episodes, each weighted by exp(-km since it happened / harsh_window_km)."""
    base_episodes: float = 0.0
    base_km: float = 0.0
    odometer: float | None = None


def harsh_threshold(st: HarshState, cfg: RuleSettings) -> float:
    """Episodes in the recent window that count as harsh for this car."""
    prior = cfg.harsh_prior_per_100km / 100.0
    own_rate = (st.base_episodes + prior * cfg.harsh_prior_km) / (st.base_km + cfg.harsh_prior_km)
    return max(cfg.harsh_min_episodes, cfg.harsh_baseline_factor * own_rate * cfg.harsh_window_km)


def harsh_driving(
    st: HarshState, ev: TelemetryEvent, t: float, cfg: RuleSettings
) -> tuple[HarshState, Finding | None]:
    """Harsh acceleration or braking episodes per distance above the car's threshold."""
    accel, odometer = ev.acceleration, ev.odometer
    if accel is None or odometer is None:
        return st, None
    km = 0.0 if st.odometer is None else max(odometer - st.odometer, 0.0)
    recent = st.recent * math.exp(-km / cfg.harsh_window_km)
    keep = math.exp(-km / cfg.harsh_baseline_km)
    base_episodes, base_km = st.base_episodes * keep, st.base_km * keep + km
    harsh = accel >= cfg.harsh_accel_mps2 or accel <= -cfg.harsh_brake_mps2
    if harsh and not st.in_episode:
        # The norm learns from every episode: over its long window a short spell of
        # harsh driving moves it little, and a driver's lasting habit is learned.
        recent += 1.0
        base_episodes += 1.0
    state = HarshState(harsh, recent, base_episodes, base_km, odometer)
    threshold = harsh_threshold(state, cfg)
    if recent >= threshold:
        detail: Detail = {"episodes": round(recent, 2), "threshold": round(threshold, 2)}
        return state, Finding(True, Severity.WARNING, detail)
    return state, CLEAR if recent < threshold / 2 else None

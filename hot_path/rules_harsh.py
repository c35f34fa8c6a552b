"""Harsh driving: pull-aways far harder than the car's own.

Why not count readings beyond a fixed g-force: how hard a car pulls away is
set by its power-to-weight and its driver's habit, and differs two- to
threefold across a fleet, so a fixed limit flags every brisk driver all day
and misses a calm one driving aggressively. For one car and one driver,
though, a pull-away from standstill is very repeatable: it is the one
moment the driver asks the engine for what he habitually asks (nothing
ahead to limit it yet), and its peak acceleration varies by a few percent
from launch to launch. So each car learns the peak of its own pull-aways
(`HarshState.ref`, a running average over launches that were not harsh), and
an acceleration run in which at least ``harsh_min_hot_readings`` readings
exceed ``harsh_launch_factor`` times that peak is a harsh run. Before a car
has shown ``harsh_warmup_launches`` launches only an absolute limit
(``harsh_absolute_mps2``, well above any normal pull-away) counts.

Harsh runs are counted with an exponential decay in event time
(``harsh_decay_s``): one clearly harsh run opens the alert (a launch 1.4x the
car's own norm is far outside its few-percent spread), it resolves once the
decayed count has fallen under ``harsh_clear_level``. Braking is not used:
how hard a car brakes depends on the distance to where it must stop, which
the hot path cannot see, and it spreads too widely to make a reliable norm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fleet.alerts import Severity
from fleet.telemetry import TelemetryEvent
from hot_path.config import RuleSettings
from hot_path.rules import CLEAR, Detail, Finding


@dataclass(frozen=True, slots=True)
class HarshState:
    ref: float | None = None
    """The car's usual pull-away peak acceleration, m/s^2."""
    launches: int = 0
    run_peak: float | None = None
    """Peak of the acceleration run in progress, None outside one."""
    run_from_stop: bool = False
    run_hot: int = 0
    recent: float = 0.0
    """Harsh runs, each weighted by exp(-age / harsh_decay_s)."""
    last_t: float | None = None


def _limit(st: HarshState, cfg: RuleSettings) -> float:
    if st.ref is None or st.launches < cfg.harsh_warmup_launches:
        return cfg.harsh_absolute_mps2
    return min(cfg.harsh_launch_factor * st.ref, cfg.harsh_absolute_mps2)


def harsh_driving(
    st: HarshState, ev: TelemetryEvent, t: float, cfg: RuleSettings
) -> tuple[HarshState, Finding | None]:
    """Pull-aways well beyond the car's own norm, counted with a decay in event time."""
    accel, speed = ev.acceleration, ev.speed
    if accel is None or speed is None:
        return st, None
    dt = 0.0 if st.last_t is None else max(t - st.last_t, 0.0)
    recent = st.recent * math.exp(-dt / cfg.harsh_decay_s)
    ref, launches = st.ref, st.launches
    peak, from_stop, hot = st.run_peak, st.run_from_stop, st.run_hot
    if accel >= cfg.harsh_run_min_mps2:
        if peak is None:  # a run begins
            peak, from_stop, hot = accel, speed <= cfg.harsh_launch_max_kmh, 0
        peak = max(peak, accel)
        hot += accel >= _limit(st, cfg)
        if hot == cfg.harsh_min_hot_readings:
            recent += 1.0  # counted once per run, as soon as it is clearly harsh
    elif peak is not None:  # the run ended
        if from_stop and hot < cfg.harsh_min_hot_readings:
            ref = peak if ref is None else ref + cfg.harsh_ref_alpha * (peak - ref)
            launches += 1
        peak, from_stop, hot = None, False, 0
    state = HarshState(ref, launches, peak, from_stop, hot, recent, t)
    if recent >= 1.0 - 1e-9:
        detail: Detail = {"harsh_runs": round(recent, 2)}
        if ref is not None:
            detail["usual_launch_mps2"] = round(ref, 2)
        return state, Finding(True, Severity.WARNING, detail)
    return state, CLEAR if recent < cfg.harsh_clear_level else None

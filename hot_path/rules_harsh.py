"""Harsh driving: repeated acceleration and braking far beyond the car's own habit.

Why not count readings beyond a fixed g-force: how hard a car accelerates and
brakes is set by its power-to-weight and its driver's habit, and differs two-
to threefold across a fleet, so a fixed limit flags every brisk driver all day
and misses a calm one driving aggressively. So each car learns its own usual
acceleration and its own usual braking: the ``harsh_ref_quantile`` quantile
(the median by default; a stochastic estimate, step ``harsh_ref_step``) of
its readings beyond ``harsh_min_mps2`` of each sign. A reading is harsh
when it accelerates ``harsh_accel_factor`` times, or brakes
``harsh_brake_factor`` times, harder than that, and a braking reading must
also reach ``harsh_brake_floor_mps2`` (0.4 g, where fleet telematics start
calling braking harsh): a driver who mostly coasts to a stop has a low median,
and his ordinary firm stops are not harsh. Until the car has shown
``harsh_warmup_readings`` of a sign, only an absolute limit counts
(``harsh_absolute_accel_mps2`` / ``harsh_absolute_brake_mps2``, beyond any
normal style). Harsh readings never teach the reference, and the reference
moves slowly (``harsh_ref_step``, 1 % a reading for the median), so that
an episode's own readings, most of them above the car's habit without being
harsh, cannot raise it much before the episode is seen: it takes about a
hundred readings of a sign, about half an hour of a car's use at 0.2 Hz, to move it
e-fold, longer than the longest episode.

One harsh reading is a manoeuvre, not an episode: a car brakes hard for a
child on the road. Harsh readings are counted with an exponential decay in
event time (``harsh_window_s``); the alert opens when the decayed count
reaches ``harsh_open_count`` (several harsh manoeuvres within minutes) and
resolves once it has fallen under ``harsh_clear_level``. The count never goes
above ``harsh_open_count``, so an alert resolves about 19 minutes (600 s x
ln 6, plus the lifecycle's minute) after the last harsh reading however long
the episode was, and a second episode half an hour later opens its own. The decay runs on
time, not distance: at 0.2 Hz a reading catches one in two or three harsh
manoeuvres, and an episode on the motorway covers three times the distance of
one in town with the same number of them.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from fleet.alerts import Severity
from fleet.telemetry import TelemetryValues
from hot_path.config import RuleSettings
from hot_path.rules import CLEAR, Detail, Finding


class HarshState(NamedTuple):
    accel_ref: float | None = None
    """The car's usual acceleration (m/s^2): a quantile of its readings that speed up."""
    accel_seen: int = 0
    brake_ref: float | None = None
    """The car's usual braking (m/s^2, positive): a quantile of its braking readings."""
    brake_seen: int = 0
    recent: float = 0.0
    """Harsh readings, each weighted by exp(-age / harsh_window_s)."""
    last_t: float | None = None


def _judge(
    value: float, ref: float | None, seen: int, factor: float, absolute: float, cfg: RuleSettings
) -> tuple[bool, float | None, int]:
    """Whether a reading of one sign is harsh, and the reference it leaves."""
    limit = absolute
    if ref is not None and seen >= cfg.harsh_warmup_readings:
        limit = min(factor * ref, absolute)
    if value >= limit:
        return True, ref, seen
    if ref is None:
        return False, value, 1
    if seen < cfg.harsh_warmup_readings:  # a plain mean until the quantile has data
        return False, ref + (value - ref) / (seen + 1), seen + 1
    # A stochastic quantile: up by q steps above it, down by 1 - q below, so it settles
    # where a share 1 - q of the readings lies above it.
    q, step = cfg.harsh_ref_quantile, cfg.harsh_ref_step * ref
    return False, ref + step * q if value > ref else ref - step * (1.0 - q), seen + 1


def harsh_driving(
    st: HarshState, ev: TelemetryValues, t: float, cfg: RuleSettings
) -> tuple[HarshState, Finding | None]:
    """Harsh readings against the car's own medians, counted with a decay in event time."""
    accel, speed = ev.acceleration, ev.speed
    if accel is None or speed is None:
        return st, None
    dt = 0.0 if st.last_t is None else max(t - st.last_t, 0.0)
    recent = st.recent * math.exp(-dt / cfg.harsh_window_s)
    a_ref, a_seen, b_ref, b_seen = st.accel_ref, st.accel_seen, st.brake_ref, st.brake_seen
    harsh = False
    if accel >= cfg.harsh_min_mps2:
        harsh, a_ref, a_seen = _judge(accel, a_ref, a_seen, cfg.harsh_accel_factor,
                                      cfg.harsh_absolute_accel_mps2, cfg)  # fmt: skip
    elif accel <= -cfg.harsh_min_mps2:
        harsh, b_ref, b_seen = _judge(-accel, b_ref, b_seen, cfg.harsh_brake_factor,
                                      cfg.harsh_absolute_brake_mps2, cfg)  # fmt: skip
        harsh = harsh and -accel >= cfg.harsh_brake_floor_mps2
    # Capped at the opening level: the count says whether an episode is going on, not how
    # long it went on, so an alert resolves a bounded time after the last harsh reading.
    recent = min(recent + harsh, cfg.harsh_open_count)
    state = HarshState(a_ref, a_seen, b_ref, b_seen, recent, t)
    if recent >= cfg.harsh_open_count - 1e-9:
        detail: Detail = {"harsh_readings": round(recent, 2)}
        if a_ref is not None:
            detail["usual_accel_mps2"] = round(a_ref, 2)
        if b_ref is not None:
            detail["usual_brake_mps2"] = round(b_ref, 2)
        return state, Finding(True, Severity.WARNING, detail)
    return state, CLEAR if recent < cfg.harsh_clear_level else None

"""One telemetry record through the hot path, against the agent's tables.

`process_record` is what the Faust agent calls for each record: it decodes the
raw bytes (dead-lettering what the contract refuses), advances the car's state
in ``vehicles``, and on every ``silence_check_every_s`` of a partition's event
time judges that partition's cars against that partition's watermark. The state is
taken as plain mappings of `VehicleState`: unit tests pass dicts, the worker
the record's partition's cars in `hot_path.state.StateCache` (written to the
changelog partition of that partition, which is why only the current
partition's cars are judged).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import datetime

from fleet.alerts import AlertKind
from fleet.deadletter import Rejection
from fleet.errors import ContractError
from fleet.telemetry import TelemetryValues, decode_values
from hot_path.config import RuleSettings
from hot_path.deadletter import DeadLetter, dead_letter, rejection
from hot_path.detector import VehicleState, judge_silence, observe
from hot_path.events import AlertEvent
from hot_path.rules import watermark

Vehicles = MutableMapping[str, VehicleState]
Watermarks = MutableMapping[str, float]
EMPTY_VALUE = Rejection("malformed_json", "<record>", "record has no value")


@dataclass
class Outcome:
    alerts: list[AlertEvent] = field(default_factory=list)
    dead_letter: DeadLetter | None = None
    duplicate: bool = False
    event: TelemetryValues | None = None
    """The decoded record (for the speed views), None for a dead letter."""


def process_record(
    key: bytes | None,
    value: bytes | None,
    *,
    topic: str,
    partition: int,
    offset: int,
    vehicles: Vehicles,
    watermarks: Watermarks,
    now: datetime,
    cfg: RuleSettings,
) -> Outcome:
    """Alerts opened or resolved by this record, or its dead letter."""

    def refuse(raw: bytes, why: Rejection) -> Outcome:
        letter = dead_letter(
            key, raw, why, topic=topic, partition=partition, offset=offset, now=now
        )
        return Outcome(dead_letter=letter)

    if value is None:
        return refuse(b"", EMPTY_VALUE)
    try:
        ev = decode_values(value)
    except ContractError as exc:
        return refuse(value, rejection(exc))
    vin = ev.vin
    state = vehicles.get(vin)
    if state is None:
        state = VehicleState(vin)
    result = observe(state, ev, partition=partition, now=now, cfg=cfg)
    if result is None:
        return Outcome(duplicate=True, event=ev)
    new_state, alerts = result
    vehicles[vin] = new_state
    alerts.extend(_judge_partition(vehicles, watermarks, partition, ev.event_time, now, cfg))
    return Outcome(alerts=alerts, event=ev)


def _judge_partition(
    vehicles: Vehicles,
    watermarks: Watermarks,
    partition: int,
    event_time: datetime,
    now: datetime,
    cfg: RuleSettings,
) -> list[AlertEvent]:
    """Judge this partition's cars against this partition's own clock.

    A car's records all land on its partition, in the order it sent them, so
    the newest event time read from a partition says how far that partition has
    been read: a car of it that said nothing since long before is silent. The
    clock of another partition says nothing about this one, which may be behind
    (a backlog read unevenly, a hand-over, a slow fetch): judging against it
    flagged cars whose records were unread, and skipping the partition until it
    caught up (the guard this replaces) missed real silences whenever the worker
    read partitions unevenly. A paused simulator stops every partition's clock.
    """
    t = event_time.timestamp()
    part = str(partition)
    last = watermarks.get(part)
    if last is not None and t < last + cfg.silence_check_every_s:
        return []
    watermarks[part] = t
    mark = watermark(t, cfg)
    alerts = []
    silent = AlertKind.VEHICLE_SILENT
    for vin, state in list(vehicles.items()):
        last = state.last_time
        if state.partition != partition or last is None or silent in state.alerts:
            continue
        if mark - last < cfg.silent_gap_s:
            continue
        judged, alert = judge_silence(state, mark=mark, now=now, cfg=cfg)
        if alert is not None:
            vehicles[vin] = judged
            alerts.append(alert)
    return alerts

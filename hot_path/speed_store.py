"""The speed-layer views in the serving store, written in batches.

The view writer (`hot_path.view_writer`) calls `SpeedStore.record` for every
telemetry record and `SpeedStore.alert` for every alert event it reads; they
only update in-memory batches (the newest state per car, summed increments
per car and bucket, alert rows, the next offset per topic partition).
`flush` writes a batch in one transaction with SQLAlchemy Core upserts
(SQLite or PostgreSQL), every ``HOT_SPEED_FLUSH_EVERY_S``.

Exactly once: each flush stores, with its rows, the next offset of every
topic partition it covers, and each car's track (frontier and missing seqs)
is its ``speed_vehicle_state`` row. After a crash or a rebalance the writer
reloads both (`load`), starts each partition at its stored offset, skips
whatever is below it and judges the rest against the stored tracks: nothing
counts twice, nothing is lost.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Dialect, Engine, case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from fleet.metrics import Reading
from fleet.store import (
    UtcDateTime,
    connect,
    current_version,
    speed_alerts,
    speed_increments,
    speed_offsets,
    speed_vehicle_state,
)
from fleet.telemetry import TelemetryValues
from hot_path.events import AlertEvent, AlertStatus, from_epoch
from hot_path.speed import Track, Verdict, advance, bucket_start

log = logging.getLogger(__name__)
SUMS = ("distance_km", "fuel_used_l", "driving_s", "harsh_events", "records")  # see record()


class Latest(NamedTuple):
    """A car's newest record in a batch (None: only its missing seqs changed); rows at flush."""

    event: TelemetryValues | None
    track: Track
    partition: int
    now: datetime


@dataclass
class Batch:
    states: dict[str, Latest] = field(default_factory=dict)
    sums: dict[tuple[str, float], list[float]] = field(default_factory=dict)
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    """(topic, partition) -> the next offset, once this batch is written."""

    def __bool__(self) -> bool:
        return bool(self.states or self.sums or self.alerts or self.offsets)

    def add_alert(self, row: dict[str, Any]) -> None:
        old = self.alerts.get(row["alert_id"])
        if old is not None and old["status"] == "resolved":
            return
        if old is not None:
            row = {**row, "detected_at": old["detected_at"]}
        self.alerts[row["alert_id"]] = row

    def merge_into(self, newer: Batch) -> None:
        """Put this (unwritten) batch back under ``newer``, which wins where both have a row."""
        for vin, state in self.states.items():
            newer.states.setdefault(vin, state)
        for key, sums in self.sums.items():
            acc = newer.sums.setdefault(key, [0.0] * len(SUMS))
            for i, v in enumerate(sums):
                acc[i] += v
        for alert_id, row in self.alerts.items():
            newer.alerts.setdefault(alert_id, row)
        for part, off in self.offsets.items():
            newer.offsets[part] = max(off, newer.offsets.get(part, off))


def connect_store(attempts: int = 5) -> Engine:
    """The serving store; retried, as processes starting together race to create the schema."""
    for attempt in range(attempts):
        try:
            return connect()
        except OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


class SpeedStore:
    def __init__(
        self, engine: Engine, *, group_id: str, topic: str, bucket_s: int,
        alerts_topic: str = "fleet.alerts",
    ) -> None:  # fmt: skip
        self.engine, self.group_id, self.topic, self.bucket_s = engine, group_id, topic, bucket_s
        self.alerts_topic = alerts_topic
        self.tracks: dict[str, Track] = {}
        self.next_offsets: dict[tuple[str, int], int] = {}
        """(topic, partition) -> the next offset the store has not seen."""
        self._batch = Batch()
        self._batch_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self.compiled: dict[tuple[str, tuple[str, ...]], _Rows] = {}
        """The upserts, compiled for the engine's dialect on first use (`_Rows`)."""

    def load(self) -> None:
        """Tracks and offsets as the store has them (after start-up or a rebalance)."""
        with self._flush_lock, self.engine.connect() as conn:
            o = speed_offsets.c
            offs = conn.execute(
                select(o.topic, o.partition, o.next_offset).where(o.group_id == self.group_id)
            )
            self.next_offsets = {(row.topic, row.partition): row.next_offset for row in offs}
            c = speed_vehicle_state.c
            rows = conn.execute(
                select(c.vin, c.seq, c.event_time, c.odometer_km, c.fuel_litres, c.speed_kmh,
                       c.acceleration_mps2, c.missing_seqs)
            )  # fmt: skip
            self.tracks = {
                r.vin: Track(
                    r.seq,
                    Reading(
                        r.event_time.timestamp(),
                        r.odometer_km,
                        r.fuel_litres,
                        r.speed_kmh,
                        r.acceleration_mps2,
                    ),
                    tuple(json.loads(r.missing_seqs)),
                )  # fmt: skip
                for r in rows
            }

    def record(
        self, ev: TelemetryValues, *, partition: int, offset: int, now: datetime
    ) -> Verdict | None:
        """Account one decoded record; None if the store already holds it (a replay)."""
        tp = (self.topic, partition)
        if offset < self.next_offsets.get(tp, 0):
            return None
        track, verdict, inc = advance(self.tracks.get(ev.vin), ev)
        with self._batch_lock:
            batch = self._batch
            batch.offsets[tp] = offset + 1
            if track is None or inc is None:
                return verdict
            self.tracks[ev.vin] = track
            # The rows are built when the batch is written, once per car.
            if verdict is Verdict.IN_ORDER:
                batch.states[ev.vin] = Latest(ev, track, partition, now)
            else:
                # Only the missing seqs changed: rewrite the stored frontier with them.
                held = batch.states.get(ev.vin)
                batch.states[ev.vin] = (
                    Latest(None, track, partition, now) if held is None
                    else held._replace(track=track)
                )  # fmt: skip
            key = (ev.vin, bucket_start(ev.event_time.timestamp(), self.bucket_s))
            acc = batch.sums.get(key)
            if acc is None:
                acc = batch.sums[key] = [0.0] * len(SUMS)
            acc[0] += inc.distance_km  # the order of SUMS, spelt out: this runs per record
            acc[1] += inc.fuel_used_l
            acc[2] += inc.driving_s
            acc[3] += inc.harsh_events
            acc[4] += inc.records
        return verdict

    def skip(self, topic: str, partition: int, offset: int) -> None:
        """A record with nothing for the views (a dead letter): only the offset moves on."""
        tp = (topic, partition)
        if offset >= self.next_offsets.get(tp, 0):
            with self._batch_lock:
                self._batch.offsets[tp] = offset + 1

    def alert(self, event: AlertEvent, *, partition: int | None = None, offset: int = 0) -> bool:
        """Account one alert event (from ``alerts_topic`` at ``partition``/``offset`` if given).

        False if the store already holds it (a replay below the stored offset).
        """
        tp = (self.alerts_topic, partition) if partition is not None else None
        if tp is not None and offset < self.next_offsets.get(tp, 0):
            return False
        resolved = event.status is AlertStatus.RESOLVED
        row = {
            "alert_id": event.alert_id,
            "vin": event.vin,
            "kind": str(event.kind),
            "severity": str(event.severity),
            "status": "resolved" if resolved else "open",
            "opened_at": event.opened_at,
            "evidence_time": event.evidence_time,
            "detected_at": event.detected_at,
            "resolved_at": event.evidence_time if resolved else None,
            "detail": json.dumps(event.detail),
        }
        with self._batch_lock:
            self._batch.add_alert(row)
            if tp is not None:
                self._batch.offsets[tp] = offset + 1
        return True

    def flush(self, now: datetime | None = None) -> int:
        """Write what has accumulated, in one transaction; the number of rows written."""
        with self._flush_lock:
            with self._batch_lock:
                batch, self._batch = self._batch, Batch()
            if not batch:
                return 0
            try:
                with self.engine.begin() as conn:
                    written = _write(conn, batch, self, now or datetime.now(UTC))
            except Exception:
                with self._batch_lock:
                    batch.merge_into(self._batch)
                raise
            self.next_offsets.update(batch.offsets)
            return written

    def discard(self) -> None:
        """Forget what is not written yet (partitions lost to another member re-read it)."""
        with self._batch_lock:
            self._batch = Batch()

    def expire(self, margin_s: float) -> int:
        """Delete buckets older than the published batch watermark minus ``margin_s``."""
        published = current_version(self.engine)
        if published is None or published[1] is None:
            return 0
        horizon = published[1] - timedelta(seconds=margin_s)
        with self._flush_lock, self.engine.begin() as conn:
            gone = conn.execute(
                delete(speed_increments).where(speed_increments.c.bucket_start < horizon)
            )
        return gone.rowcount or 0


class _Rows:
    """An executemany statement compiled once for a dialect; rows go to the driver as built.

    SQLAlchemy binds each value of each row of an executemany through its
    parameter bookkeeping and type processors: with a state row and a bucket
    row per record (cars reporting once a second), that was two thirds of the
    writer's flush and a third of its CPU. Here only the columns whose type
    has a processor (the timestamps; the floats on SQLite) are processed, with
    the dialect's own processors, and each distinct timestamp only once.
    """

    def __init__(self, stmt: Any, dialect: Dialect, columns: list[str]) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=columns)
        if compiled.insert_prefetch or compiled.update_prefetch or compiled.escaped_bind_names:
            raise ValueError("_Rows takes statements without Python-side defaults or escaped "
                             f"bind names: {compiled.string}")  # fmt: skip
        self.sql = compiled.string
        self.positional = bool(compiled.positional)
        if self.positional:
            self.names = list(compiled.positiontup or [])
        else:  # the names the SQL uses, each once
            self.names = list(dict.fromkeys(compiled.bind_names.values()))
        binds = compiled.binds
        # Per name: does a row have to give it (a column) or has the bind its own value (a
        # literal of a SET clause); the processor of the type as the dialect implements it,
        # as SQLAlchemy's own execution takes it; whether to process each value once.
        self.slots = [
            (name, binds[name].required, binds[name].effective_value,
             binds[name].type.dialect_impl(dialect).bind_processor(dialect),
             isinstance(binds[name].type, UtcDateTime))
            for name in self.names
        ]  # fmt: skip

    def execute(self, conn: Any, rows: list[dict[str, Any]]) -> None:
        done: dict[tuple[int, Any], Any] = {}  # (slot, timestamp) -> processed value
        out: list[Any] = []
        for row in rows:
            values = []
            for i, (name, required, default, process, once) in enumerate(self.slots):
                value = row[name] if required else row.get(name, default)
                if process is not None and value is not None:
                    if once:
                        key = (i, value)
                        processed = done.get(key)
                        if processed is None:
                            processed = done[key] = process(value)
                        value = processed
                    else:
                        value = process(value)
                values.append(value)
            out.append(
                tuple(values) if self.positional else dict(zip(self.names, values, strict=True))
            )
        conn.exec_driver_sql(self.sql, out)


def _state_row(latest: Latest) -> dict[str, Any]:
    ev, track, partition, now = latest
    assert ev is not None
    return {
        "vin": ev.vin, "event_time": ev.event_time, "seq": ev.seq, "partition": partition,
        "latitude": ev.latitude, "longitude": ev.longitude, "heading": ev.heading,
        "speed_kmh": ev.speed, "acceleration_mps2": ev.acceleration,
        "fuel_level_percent": ev.fuel_level, "fuel_litres": ev.fuel_litres, "range_m": ev.range,
        "odometer_km": ev.odometer, "coolant_temp_c": ev.coolant_temp, "trip_id": ev.trip_id,
        "segment_id": ev.segment_id, "origin": ev.origin, "destination": ev.destination,
        "missing_seqs": _seqs(track.missing), "updated_at": now,
    }  # fmt: skip


def _upsert(name: str, insert: Any, columns: list[str]) -> Any:
    """The writer's upsert statements, by name (``insert`` is the dialect's)."""
    if name == "states":
        stmt = insert(speed_vehicle_state)
        return stmt.on_conflict_do_update(
            index_elements=["vin"],
            set_={k: stmt.excluded[k] for k in columns if k != "vin"},
            where=speed_vehicle_state.c.event_time <= stmt.excluded.event_time,
        )
    if name == "sums":
        stmt = insert(speed_increments)
        t = speed_increments.c
        sets: dict[str, Any] = {name: t[name] + stmt.excluded[name] for name in SUMS}
        sets["updated_at"] = stmt.excluded.updated_at
        return stmt.on_conflict_do_update(index_elements=["vin", "bucket_start"], set_=sets)
    if name == "alerts":
        stmt = insert(speed_alerts)
        a = speed_alerts.c
        done = (a.status == "resolved") | (stmt.excluded.status == "resolved")
        return stmt.on_conflict_do_update(
            index_elements=["alert_id"],
            set_={
                "status": case((done, "resolved"), else_="open"),
                "severity": stmt.excluded.severity,
                "evidence_time": stmt.excluded.evidence_time,
                "resolved_at": func.coalesce(a.resolved_at, stmt.excluded.resolved_at),
            },
        )
    stmt = insert(speed_offsets)
    o = speed_offsets.c
    newer = case((stmt.excluded.next_offset > o.next_offset, stmt.excluded.next_offset),
                 else_=o.next_offset)  # fmt: skip
    return stmt.on_conflict_do_update(
        index_elements=["group_id", "topic", "partition"], set_={"next_offset": newer}
    )


def _run(conn: Any, store: SpeedStore, name: str, rows: list[dict[str, Any]]) -> None:
    """Execute the upsert ``name`` over ``rows`` (compiled on first use, per store)."""
    columns = list(rows[0])
    key = (name, tuple(columns))
    compiled = store.compiled.get(key)
    if compiled is None:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        stmt = _upsert(name, insert, columns)
        compiled = store.compiled[key] = _Rows(stmt, conn.dialect, columns)
    compiled.execute(conn, rows)


def _write(conn: Any, batch: Batch, store: SpeedStore, now: datetime) -> int:
    full = [_state_row(latest) for latest in batch.states.values() if latest.event is not None]
    if full:
        _run(conn, store, "states", full)
    for vin, latest in batch.states.items():
        if latest.event is None:
            conn.execute(
                speed_vehicle_state.update()
                .where(speed_vehicle_state.c.vin == vin)
                .values(missing_seqs=_seqs(latest.track.missing))
            )
    if batch.sums:
        rows = [
            {"vin": vin, "bucket_start": from_epoch(start), "updated_at": now,
             **{name: (int(v) if name in ("harsh_events", "records") else v)
                for name, v in zip(SUMS, sums, strict=True)}}
            for (vin, start), sums in batch.sums.items()
        ]  # fmt: skip
        _run(conn, store, "sums", rows)
    if batch.alerts:
        _run(conn, store, "alerts", list(batch.alerts.values()))
    if batch.offsets:
        _run(conn, store, "offsets",
             [{"group_id": store.group_id, "topic": t, "partition": p, "next_offset": o}
              for (t, p), o in batch.offsets.items()])  # fmt: skip
    return len(batch.states) + len(batch.sums) + len(batch.alerts)


def _seqs(missing: tuple[int, ...]) -> str:
    """A track's missing seqs as the JSON text of ``missing_seqs`` (mostly none)."""
    return json.dumps(missing) if missing else "[]"

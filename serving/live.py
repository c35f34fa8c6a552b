"""The live feed behind ``GET /live``: one poller per API process, any number of listeners.

A thread polls the serving store every ``poll_s`` (the engine is synchronous,
so the event loop never waits on it), compares what it read with what it
knew, and records what changed as one numbered `Change` per poll: alerts that
opened, changed or resolved, cars whose state moved, a new batch version.
The last ``history`` changes are kept, so a client that reconnects with
``Last-Event-ID`` gets the changes it missed folded into one catch-up (each
alert and car once, newest version) instead of everything again. An id the
feed cannot resume from (too old, or from another process: ids carry a token
of this feed) gets a snapshot of the current state, as a first connection does.

The thread runs while someone listens and stops within one poll of the last
listener leaving; listeners are woken through their own event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from fleet.alerts import Severity
from serving.models import Alert
from serving.queries.live import batch_view, changed_alerts, changed_states, newest_detection

log = logging.getLogger(__name__)

RETRY_MS = 3000
"""How long a browser waits before reconnecting (the SSE ``retry:`` field)."""
# Two workers' flushes may commit out of clock order: re-read states this far back.
STATE_OVERLAP = timedelta(seconds=5)
# Alerts detected this long before the newest seen are re-read, so late commits are caught.
DETECT_OVERLAP = timedelta(seconds=60)
_ROUND = {"latitude": 5, "longitude": 5, "heading": 0, "speed_kmh": 1,
          "fuel_level_percent": 1, "coolant_temp_c": 1}  # fmt: skip


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _vehicle(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"vin": row["vin"], "event_time": _iso(row["event_time"])}
    for name, digits in _ROUND.items():
        value = row[name]
        out[name] = None if value is None else round(value, digits)
    out["origin"], out["destination"] = row["origin"], row["destination"]
    return out


def _severity_rank(alert: dict[str, Any]) -> int:
    try:
        return Severity(alert["severity"]).rank
    except ValueError:
        return -1


@dataclass
class Change:
    """What one poll (or several, folded) found new, numbered by the feed."""

    seq: int
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    vehicles: dict[str, dict[str, Any]] = field(default_factory=dict)
    batch: dict[str, Any] | None = None

    def __bool__(self) -> bool:
        return bool(self.alerts or self.vehicles or self.batch is not None)

    def fold(self, newer: Change) -> None:
        self.seq = newer.seq
        self.alerts.update(newer.alerts)
        self.vehicles.update(newer.vehicles)
        if newer.batch is not None:
            self.batch = newer.batch


@dataclass
class Snapshot:
    seq: int
    alerts: list[dict[str, Any]]
    vehicles: list[dict[str, Any]]
    batch: dict[str, Any] | None


class Listener:
    """One stream's wake-up call, set from the poller thread through the stream's loop."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.woken = asyncio.Event()

    def wake(self) -> None:
        try:
            self.loop.call_soon_threadsafe(self.woken.set)
        except RuntimeError:  # the stream's loop is gone; it unsubscribes on its way out
            pass

    async def wait(self, timeout: float) -> bool:
        """True when woken, False after ``timeout`` seconds of quiet."""
        try:
            await asyncio.wait_for(self.woken.wait(), timeout)
        except TimeoutError:
            return False
        self.woken.clear()
        return True


class LiveFeed:
    def __init__(
        self,
        engine: Engine,
        *,
        bucket_s: int,
        poll_s: float = 1.0,
        heartbeat_s: float = 15.0,
        history: int = 300,
    ) -> None:
        self.engine, self.bucket_s, self.poll_s = engine, bucket_s, poll_s
        self.heartbeat_s = heartbeat_s
        self.token = secrets.token_hex(4)
        self.seq = 0  # 0: not polled successfully yet
        self.store: dict[str, Any] = {"ok": True, "error": None}
        self._history: deque[Change] = deque(maxlen=history)
        self._alerts: dict[str, dict[str, Any]] = {}
        self._vehicles: dict[str, dict[str, Any]] = {}
        self._batch: dict[str, Any] | None = None
        self._detected: dict[str, datetime] = {}
        self._state_cursor: datetime | None = None
        self._detect_cursor: datetime | None = None
        self.polled = False  # the first poll was tried, whatever came of it
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._listeners: set[Listener] = set()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # --- polling (the thread; tests call poll_once directly) ---------------------

    def poll_once(self) -> Change | None:
        """Read the store once and record what changed; None if nothing did."""
        with self._poll_lock:
            try:
                return self._poll()
            finally:
                self.polled = True

    def _poll(self) -> Change | None:
        try:
            with self.engine.connect() as conn:
                watched = [k for k, a in self._alerts.items() if a["status"] == "open"]
                if self._detect_cursor is None:
                    self._detect_cursor = newest_detection(conn)
                since = self._detect_cursor - DETECT_OVERLAP if self._detect_cursor else None
                alerts = changed_alerts(conn, detected_since=since, watched=watched)
                after = self._state_cursor - STATE_OVERLAP if self._state_cursor else None
                states = changed_states(conn, updated_since=after)
                view = batch_view(conn, bucket_s=self.bucket_s)
        except SQLAlchemyError as exc:
            self._set_store(False, f"the serving store does not answer: {exc.__class__.__name__}")
            log.warning("live feed: store poll failed: %s", exc)
            return None
        self._set_store(True, None)
        with self._lock:
            change = Change(self.seq + 1)
            self._diff_alerts(alerts, since, change)
            self._diff_vehicles(states, change)
            batch = {"version": view.version, "watermark": _iso(view.watermark)}
            if batch != self._batch:
                self._batch = change.batch = batch
            first = self.seq == 0
            if not change and not first:
                return None
            self.seq = change.seq
            if not first:  # the first poll is the starting state: clients get it as a snapshot
                self._history.append(change)
            return change

    def _diff_alerts(
        self, rows: Iterable[dict[str, Any]], since: datetime | None, change: Change
    ) -> None:
        for row in rows:
            try:
                alert = Alert(**row).model_dump(mode="json")
            except ValidationError as exc:
                log.warning("live feed: skipping alert %s: %s", row.get("alert_id"), exc)
                continue
            alert_id, detected = alert["alert_id"], row["detected_at"]
            if self._alerts.get(alert_id) != alert:
                self._alerts[alert_id] = change.alerts[alert_id] = alert
            self._detected[alert_id] = detected
            if self._detect_cursor is None or detected > self._detect_cursor:
                self._detect_cursor = detected
        if since is not None:
            # Resolved alerts leave the re-read window; forget them so memory stays bounded.
            for alert_id in [
                k
                for k, a in self._alerts.items()
                if a["status"] != "open" and self._detected[k] < since
            ]:
                del self._alerts[alert_id], self._detected[alert_id]

    def _diff_vehicles(self, rows: Iterable[dict[str, Any]], change: Change) -> None:
        for row in rows:
            car = _vehicle(row)
            if self._vehicles.get(car["vin"]) != car:
                self._vehicles[car["vin"]] = change.vehicles[car["vin"]] = car
            if self._state_cursor is None or row["updated_at"] > self._state_cursor:
                self._state_cursor = row["updated_at"]

    def _set_store(self, ok: bool, error: str | None) -> None:
        status = {"ok": ok, "error": error}
        if status != self.store:
            self.store = status
            self._wake()

    # --- what listeners read -----------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Open alerts (most severe, then newest, first) and every car, as of ``seq``."""
        with self._lock:
            alerts = [a for a in self._alerts.values() if a["status"] == "open"]
            vehicles = list(self._vehicles.values())
            seq, batch = self.seq, self._batch
        alerts.sort(key=lambda a: a["opened_at"], reverse=True)
        alerts.sort(key=_severity_rank, reverse=True)
        vehicles.sort(key=lambda v: v["vin"])
        return Snapshot(seq, alerts, vehicles, batch)

    def since(self, seq: int) -> Change | None:
        """Every change after ``seq`` folded into one; None if ``seq`` is out of reach."""
        with self._lock:
            if seq == self.seq:
                return Change(seq)
            if seq > self.seq or not self._history or seq < self._history[0].seq - 1:
                return None
            folded = Change(seq)
            for change in self._history:
                if change.seq > seq:
                    folded.fold(change)
            return folded

    def event_id(self, seq: int) -> str:
        return f"{self.token}-{seq}"

    def resume_point(self, last_event_id: str | None) -> int | None:
        """The seq a client's ``Last-Event-ID`` names, if it is one of this feed's."""
        if not last_event_id:
            return None
        token, _, seq = last_event_id.strip().partition("-")
        if token != self.token or not seq.isdigit():
            return None
        return int(seq)

    # --- listeners and the thread --------------------------------------------------

    def subscribe(self) -> Listener:
        listener = Listener()
        with self._lock:
            self._listeners.add(listener)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="live-feed", daemon=True)
                self._thread.start()
        return listener

    def unsubscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.discard(listener)

    @property
    def listeners(self) -> int:
        with self._lock:
            return len(self._listeners)

    @property
    def running(self) -> bool:
        with self._lock:
            return self._thread is not None

    def _wake(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener.wake()

    def close(self) -> None:
        """Stop the poller (at shutdown); streams still open stop hearing of changes."""
        self._stop.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout=self.poll_s + 5)

    def _run(self) -> None:
        first = not self.polled
        while True:
            try:
                if self.poll_once() is not None or first:
                    self._wake()
            except Exception:  # a bug here must not kill the feed silently: log, keep polling
                log.exception("live feed: poll failed")
            first = False
            self._stop.wait(self.poll_s)
            with self._lock:  # decided under the lock `subscribe` takes: no listener is orphaned
                if not self._listeners or self._stop.is_set():
                    self._thread = None
                    return


# --- Server-Sent Events ------------------------------------------------------------


def frame(event: str, data: Any, *, event_id: str | None = None) -> str:
    """One SSE message; compact JSON never holds a newline, so ``data`` is one line."""
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id else "")
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n"


def change_frames(feed: LiveFeed, change: Change) -> list[str]:
    """A change as ``batch``, ``alerts`` and ``vehicles`` messages; the last carries the id.

    A client cut off between them resumes from the previous id and gets the
    whole change again, which it applies idempotently (by alert id and VIN).
    """
    parts: list[tuple[str, Any]] = []
    if change.batch is not None:
        parts.append(("batch", change.batch))
    if change.alerts:
        parts.append(("alerts", {"alerts": list(change.alerts.values())}))
    if change.vehicles:
        parts.append(("vehicles", {"vehicles": list(change.vehicles.values())}))
    last = len(parts) - 1
    return [
        frame(name, data, event_id=feed.event_id(change.seq) if i == last else None)
        for i, (name, data) in enumerate(parts)
    ]


def snapshot_frame(feed: LiveFeed) -> tuple[int, str]:
    snap = feed.snapshot()
    data = {"alerts": snap.alerts, "vehicles": snap.vehicles, "batch": snap.batch}
    return snap.seq, frame("snapshot", data, event_id=feed.event_id(snap.seq))


async def stream(feed: LiveFeed, *, last_event_id: str | None) -> AsyncIterator[str]:
    """The SSE text of one client: a snapshot or catch-up, then each change as it comes.

    A ``status`` message says whether the store answers (sent first and on
    every change); a comment line goes out after ``feed.heartbeat_s`` of quiet so
    proxies keep the connection and a dead client is noticed.
    """
    listener = feed.subscribe()
    try:
        yield f"retry: {RETRY_MS}\n\n"
        store: dict[str, Any] | None = None
        cursor = feed.resume_point(last_event_id)
        while True:
            if feed.polled and feed.store != store:
                store = dict(feed.store)
                yield frame("status", {"store": store})
            if feed.seq > 0:
                if cursor is None or (change := feed.since(cursor)) is None:
                    cursor, text = snapshot_frame(feed)
                    yield text
                elif change.seq > cursor:
                    for text in change_frames(feed, change):
                        yield text
                    cursor = change.seq
            if not await listener.wait(feed.heartbeat_s):
                yield ": heartbeat\n\n"
    finally:
        feed.unsubscribe(listener)

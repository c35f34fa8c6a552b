"""Serving latency: ``GET /vehicles/{vin}`` and ``GET /alerts?status=open`` on a 10,000-car store.

`seed_store` fills a scratch SQLite store the way the platform does: two batch
versions published with `cold_path.batch.publish`, speed-layer buckets in
`fleet.store.speed_increments`, the newest readings and the alert history
through the hot path's own `SpeedStore`. The real API (``serving.main:create_app``)
and a bare FastAPI app with one constant endpoint then run side by side under
the same uvicorn settings (one worker, loopback, free ports), and a load
generator of our own (asyncio on uvloop, raw HTTP/1.1 keep-alive sockets)
drives each target at a constant open-loop rate, then closed-loop flat out.

Open loop means each request has a scheduled send time, and its latency is
counted from that time, not from when a connection became free: a server
that falls behind shows it in the percentiles (no coordinated omission).
The generator is a Python process on the same two cores, so its own ceiling
is measured too, against a raw asyncio server that answers a canned response.
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import uvloop
from fastapi import FastAPI
from sqlalchemy import Engine, func, select

from fleet import store
from fleet.alerts import AlertKind, Severity
from fleet.telemetry import new_event
from hot_path.events import AlertEvent, AlertStatus, alert_id
from hot_path.speed_store import SpeedStore
from simulator.faults import DEFAULT_RATE, KIND_WEIGHTS
from simulator.vehicles import CLASSES, make_fleet

CONNECTIONS = 32
"""Keep-alive connections the generator uses: more requests in flight than the API's database
pool holds (SQLAlchemy's default 5 + 10), which the API must bear: it bounds the requests
working on the store (2 at once on SQLite) and queues the rest in its event loop
(docs/serving.md, "Concurrency")."""
_STUCK_S = 60.0  # longer than the pool's 30 s wait: a stalled API answers 503 before this
BUCKET_S = 60  # the platform default: HOT_SPEED_BUCKET_S = SERVING_SPEED_BUCKET_S = 60
_CRITICAL_SHARE = 0.3  # of the alerts of kinds that have a critical level


# --- the store ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    """What `seed_store` wrote (the figures the benchmark's title claims)."""

    vins: list[str]
    version: int
    watermark: datetime
    batch_rows: int
    buckets: int
    states: int
    open_alerts: int
    resolved_alerts: int


def seed_store(
    engine: Engine,
    *,
    cars: int = 10_000,
    seed: int = 7,
    now: datetime | None = None,
    speed_minutes: int = 80,
    minutes_after_watermark: int = 20,
    alert_days: float = 7.0,
    fault_rate: float = DEFAULT_RATE,
    mean_alert_hours: float = 2.0,
) -> Seeded:
    """A store as a fleet of ``cars`` leaves it after ``alert_days`` of running.

    Batch: two published versions (the batch keeps the previous one for
    readers in flight), the current with a watermark ``minutes_after_watermark``
    before ``now``. Speed: a bucket per car and minute over the last
    ``speed_minutes`` (the hot path keeps buckets an hour past the watermark
    before expiring them), then each car's two newest readings through
    `SpeedStore.record`. Alerts: faults at the simulator's rate per car and
    hour over ``alert_days``, each open for an exponential time of mean
    ``mean_alert_hours`` (so about ``rate x cars x mean`` are open), written
    with `SpeedStore.alert`.
    """
    from cold_path.batch import publish  # imports pyspark's Python side: only when seeding

    rng = np.random.default_rng(seed)
    now = now or datetime.now(UTC)
    minute = int(now.timestamp()) // BUCKET_S * BUCKET_S
    watermark = datetime.fromtimestamp(minute - minutes_after_watermark * BUCKET_S, UTC)
    fleet = make_fleet(cars, rng)
    vins, classes = fleet.vins, fleet.classes.tolist()
    # l/100 km by class (small petrol ~5.5 .. van ~9), each car a little off its class.
    base = np.array([5.5, 7.0, 8.5, 9.0])[fleet.classes] * rng.normal(1.0, 0.08, cars)
    km = rng.lognormal(math.log(800.0), 0.6, cars)

    version = 0
    for run, share in ((0, 0.97), (1, 1.0)):  # the previous version covered a little less
        mark = watermark - timedelta(minutes=15 * (1 - run))
        efficiency, totals = [], []
        through = mark - timedelta(seconds=1)
        for v, c, d, lp in zip(vins, classes, (km * share).tolist(), base.tolist(), strict=True):
            efficiency.append(_efficiency_row(v, CLASSES[c].name, d, d * lp / 100, mark))
            totals.append({"vin": v, "distance_km": d, "fuel_used_l": d * lp / 100,
                           "readings": int(d * 120), "through": through})  # fmt: skip
        views = {store.vehicle_efficiency: efficiency, store.vehicle_totals: totals}
        version = publish(engine, views, started=mark, watermark=mark, events=cars * 3600,
                          excluded=0)  # fmt: skip

    _seed_buckets(engine, rng, vins, base, minute, speed_minutes)
    speed = SpeedStore(engine, group_id="hot-path", topic="fleet.telemetry", bucket_s=BUCKET_S)
    for i, (vin, odo) in enumerate(zip(vins, (km * 3).tolist(), strict=True)):
        for seq, ago in ((1000, 75.0), (1001, 15.0)):
            ev = new_event(
                vin=vin, seq=seq, event_time=now - timedelta(seconds=ago),
                odometer=odo + (seq - 1000) * 0.5, fuel_litres=30.0 - (seq - 1000) * 0.04,
                speed=30.0, acceleration=0.0, latitude=48.1 + i * 1e-5, longitude=11.5,
                heading=90.0, fuel_level=50.0, range=400_000.0, coolant_temp=90.0,
            )  # fmt: skip
            speed.record(ev, partition=i % 12, offset=i * 2 + seq - 1000, now=now)
    speed.flush(now)

    opened, resolved = _seed_alerts(speed, rng, vins, now, alert_days, fault_rate,
                                    mean_alert_hours)  # fmt: skip
    speed.flush(now)
    with engine.connect() as conn:  # the newest readings opened the current minute's buckets
        buckets = conn.execute(select(func.count()).select_from(store.speed_increments))
        return Seeded(
            vins, version, watermark, 4 * cars, buckets.scalar_one(), cars, opened, resolved
        )


def _efficiency_row(
    vin: str, cls: str, km: float, litres: float, watermark: datetime
) -> dict[str, Any]:
    return {
        "vin": vin, "vehicle_class": cls, "distance_km": km, "fuel_used_l": litres,
        "refuelled_l": litres * 0.9, "refuels": int(litres // 40), "rank": None,
        "l_per_100km": litres / km * 100 if km >= 1 else None,
        "first_event": watermark - timedelta(days=7), "last_event": watermark,
    }  # fmt: skip


def _seed_buckets(
    engine: Engine,
    rng: np.random.Generator,
    vins: list[str],
    l_per_100km: np.ndarray,
    minute: int,
    minutes: int,
) -> int:
    """One row per car and minute, driving about 60 % of the time, as the hot path leaves them.

    Written with the DB-API's executemany and the column types' own bind
    processors (the same stored values as SQLAlchemy Core writes, at a
    fraction of its per-parameter cost: 800,000 rows take seconds, not half a minute).
    """
    table = store.speed_increments
    to_db = table.c.bucket_start.type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
    if to_db is None:
        raise RuntimeError(f"no bind processor for timestamps on {engine.dialect.name}")
    times = [datetime.fromtimestamp(minute - m * BUCKET_S, UTC) for m in range(minutes, 0, -1)]
    starts, updated = [to_db(t) for t in times], to_db(datetime.fromtimestamp(minute, UTC))
    cols = ("vin", "bucket_start", "distance_km", "fuel_used_l", "driving_s", "harsh_events",
            "records", "updated_at")  # fmt: skip
    sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    with engine.begin() as conn:
        # In key order: SQLite appends to the primary-key B-tree instead of splitting pages.
        for vin, lp in sorted(zip(vins, l_per_100km.tolist(), strict=True)):
            driving = rng.random(minutes) < 0.6
            km = np.where(driving, rng.uniform(0.2, 1.5, minutes), 0.0).tolist()
            conn.exec_driver_sql(sql, [
                (vin, start, d, d * lp / 100, 60.0 if d else 0.0, 0, 60, updated)
                for start, d in zip(starts, km, strict=True)
            ])  # fmt: skip
    return len(vins) * minutes


def _seed_alerts(
    speed: SpeedStore,
    rng: np.random.Generator,
    vins: list[str],
    now: datetime,
    days: float,
    rate: float,
    mean_hours: float,
) -> tuple[int, int]:
    kinds = list(KIND_WEIGHTS)
    weights = np.array([KIND_WEIGHTS[k] for k in kinds])
    count = int(rng.poisson(rate * len(vins) * days * 24))
    cars = rng.integers(len(vins), size=count).tolist()
    picked = rng.choice(len(kinds), size=count, p=weights / weights.sum()).tolist()
    ages = rng.uniform(0, days * 86_400, count).tolist()
    lasting = rng.exponential(mean_hours * 3600, count).tolist()
    critical = (rng.random(count) < _CRITICAL_SHARE).tolist()
    opened_n = 0
    for car, k, age, last, crit in zip(cars, picked, ages, lasting, critical, strict=True):
        kind = kinds[k]
        opened = now - timedelta(seconds=age)
        severity = _severity(kind, crit)
        args = {"alert_id": alert_id(vins[car], kind, opened.timestamp()), "vin": vins[car],
                "kind": kind, "severity": severity, "opened_at": opened,
                "detail": {"value": round(age % 100, 1)}}  # fmt: skip
        speed.alert(AlertEvent(status=AlertStatus.OPENED, evidence_time=opened,
                               detected_at=opened + timedelta(seconds=2), **args))  # fmt: skip
        if age > last:
            ended = opened + timedelta(seconds=last)
            speed.alert(AlertEvent(status=AlertStatus.RESOLVED, evidence_time=ended,
                                   detected_at=ended + timedelta(seconds=2), **args))  # fmt: skip
        else:
            opened_n += 1
    return opened_n, count - opened_n


def _severity(kind: AlertKind, critical: bool) -> Severity:
    # As the hot-path rules grade them: a few kinds are always one level.
    if kind is AlertKind.OIL_PRESSURE_LOW:
        return Severity.CRITICAL
    if kind in (AlertKind.VEHICLE_SILENT, AlertKind.HARSH_DRIVING):
        return Severity.WARNING
    return Severity.CRITICAL if critical else Severity.WARNING


# --- the servers ----------------------------------------------------------------------------


def bare_app() -> FastAPI:
    """The reference: FastAPI with one endpoint that returns a constant."""
    app = FastAPI()

    @app.get("/bare")
    def bare() -> dict[str, str]:
        return {"status": "ok"}

    return app


_CANNED = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n"
    b'{"status":"ok"}'
)


class _CannedProtocol(asyncio.Protocol):
    """Answers every request (a blank line ends it) with the same bytes."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport  # uvloop's transport is not an asyncio.Transport
        self.pending = b""

    def data_received(self, data: bytes) -> None:
        self.pending += data
        answers = self.pending.count(b"\r\n\r\n")
        if answers:
            self.pending = self.pending.rsplit(b"\r\n\r\n", 1)[1]
            self.transport.write(_CANNED * answers)


def serve_canned(port: int) -> None:
    """The generator's ceiling: a server that does nearly nothing per request (blocks)."""

    async def run() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_CannedProtocol, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    uvloop.run(run())


def serve_profiled(app: str, port: int, out: Path) -> None:
    """Run ``app`` as `uvicorn_command` does, under cProfile in every thread (sync routes and
    dependencies run in anyio's worker threads); write the merged stats to ``out`` on exit."""
    import cProfile
    import pstats
    import threading

    import uvicorn

    profiles: list[cProfile.Profile] = []

    def start(*_: object) -> None:  # first event in a new thread: hand over to cProfile
        profile = cProfile.Profile(time.thread_time)
        profiles.append(profile)
        profile.enable()

    # uvicorn re-raises the SIGTERM it stopped on; a handler of our own lets `finally` run.
    signal.signal(signal.SIGTERM, lambda *_: None)
    threading.setprofile(start)
    main = cProfile.Profile(time.thread_time)
    profiles.append(main)
    main.enable()
    try:
        uvicorn.run(app, factory=True, host="127.0.0.1", port=port, workers=1, loop=LOOP,
                    http=HTTP, log_level="warning", access_log=False)  # fmt: skip
    finally:
        main.disable()
        stats = pstats.Stats(main)
        for profile in profiles[1:]:
            profile.disable()
            stats.add(profile)
        stats.dump_stats(out)


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]

    def cpu_s(self) -> float:
        times = psutil.Process(self.proc.pid).cpu_times()
        return float(times.user + times.system)


LOOP, HTTP = "uvloop", "httptools"
"""What ``python -m serving`` runs uvicorn with (serving/__main__.py)."""


def uvicorn_command(app: str, port: int) -> list[str]:
    """The same uvicorn settings for the API and the bare app: one worker, uvloop, httptools,
    no access log, as ``python -m serving`` runs."""
    return [sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1",
            "--port", str(port), "--workers", "1", "--loop", LOOP, "--http", HTTP,
            "--log-level", "warning", "--no-access-log"]  # fmt: skip


@contextmanager
def running(
    name: str, command: list[str], env: dict[str, str], log: Path, probe: str
) -> Iterator[Server]:
    """Start ``command`` (on port ``env['BENCH_PORT']``); yield once ``probe`` answers 200."""
    port = int(env["BENCH_PORT"])
    with log.open("ab") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while _status(port, probe) != 200:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start; its log ends: {_tail(log, 10)}")
            time.sleep(0.1)
        yield Server(name, port, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _status(port: int, path: str) -> int | None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(_request_bytes(path))
            head = sock.recv(64)
        return int(head.split(b" ", 2)[1])
    except (OSError, IndexError, ValueError):
        return None


_TAKEN = {1883, 8000, 8001, 8003, 9092, 9093, 9094}  # the platform's own services


def free_port() -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _TAKEN:
            return port


# --- the load generator ---------------------------------------------------------------------


def percentile(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile of ``ordered`` (sorted ascending).

    The smallest sample with at least ``q`` % of the samples at or below it: p99
    of 1,000 samples is the 990th smallest, an observed value, never interpolated.
    """
    if not ordered:
        raise ValueError("no samples")
    if not 0 < q <= 100:
        raise ValueError(f"percentile must be in (0, 100], not {q}")
    rank = math.ceil(q * len(ordered) / 100)
    return ordered[rank - 1]


@dataclass
class Run:
    """One target under one load: latencies (seconds, sorted) of the requests answered 200."""

    target: str
    mode: str  # "open" (constant rate) or "closed" (flat out)
    offered: float | None  # requests/s asked for (open loop)
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0  # another status, or the connection failed
    why: dict[str, int] = field(default_factory=dict)  # errors by status code or exception
    timeouts: int = 0  # not answered within the timeout of its scheduled time
    generator_cpu_s: float = 0.0
    server_cpu_s: float = 0.0

    @property
    def rate(self) -> float:
        """Requests answered 200 per second of the run."""
        return len(self.latencies) / self.seconds

    def failed(self, exc: BaseException) -> None:
        """A request that got no answer: a timeout, or an error counted by its kind."""
        if isinstance(exc, TimeoutError):
            self.timeouts += 1
        else:
            self.error(type(exc).__name__)

    def error(self, why: str) -> None:
        self.errors += 1
        self.why[why] = self.why.get(why, 0) + 1

    def p(self, q: float) -> float:
        """Percentile ``q`` in seconds; a request that timed out counts as infinitely slow."""
        if not self.latencies and not self.timeouts:
            return math.nan
        return percentile([*self.latencies, *[math.inf] * self.timeouts], q)


def _request_bytes(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nuser-agent: fleet-bench\r\n\r\n".encode()


class _Conn:
    """One keep-alive HTTP/1.1 connection; `get` returns the status, reads the whole body."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> _Conn:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def get(self, request: bytes) -> int:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = dict(line.lower().split(b": ", 1) for line in lines[1:] if b": " in line)
        if b"content-length" in headers:
            await self.reader.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding") == b"chunked":
            while size := int((await self.reader.readuntil(b"\r\n")).strip(), 16):
                await self.reader.readexactly(size + 2)
            await self.reader.readuntil(b"\r\n")
        else:
            raise ValueError("a response without a length on a keep-alive connection")
        return status

    def close(self) -> None:
        self.writer.close()


async def open_loop(
    port: int, requests: Sequence[bytes], *, rate: float, seconds: float,
    connections: int = CONNECTIONS, timeout: float = 2.0,
) -> Run:  # fmt: skip
    """Send ``requests`` (cycled) at ``rate`` per second for ``seconds``, on a pool of
    keep-alive connections; each latency counts from the request's scheduled time, and a
    request that finds no free connection within ``timeout`` of it is a timeout."""
    pool: asyncio.Queue[_Conn] = asyncio.Queue()
    for conn in await asyncio.gather(*(_Conn.open(port) for _ in range(connections))):
        pool.put_nowait(conn)
    run = Run("", "open", rate, seconds)
    now = time.perf_counter  # uvloop's loop.time() ticks in whole milliseconds

    async def one(request: bytes, due: float) -> None:
        # Only the wait for a free connection times out: a request once sent is waited for
        # (up to `_STUCK_S`), since giving up on it would leave it running in the server
        # while the next one arrives, more requests in flight than connections.
        try:
            conn = await asyncio.wait_for(pool.get(), due + timeout - now())
        except TimeoutError:
            run.timeouts += 1
            return
        try:
            status = await asyncio.wait_for(conn.get(request), _STUCK_S)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            run.failed(exc)
            conn.close()
            pool.put_nowait(await _Conn.open(port))
            return
        pool.put_nowait(conn)
        if status == 200:
            run.latencies.append(now() - due)
        else:
            run.error(f"HTTP {status}")

    total = int(rate * seconds)
    tasks = set()
    cpu, start = time.process_time(), now()
    for i in range(total):
        due = start + i / rate
        if (wait := due - now()) > 0:
            await asyncio.sleep(wait)
        task = asyncio.create_task(one(requests[i % len(requests)], due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    run.seconds = now() - start
    run.generator_cpu_s = time.process_time() - cpu
    while not pool.empty():
        pool.get_nowait().close()
    run.latencies.sort()
    return run


async def closed_loop(
    port: int,
    requests: Sequence[bytes],
    *,
    concurrency: int = CONNECTIONS,
    seconds: float,
    timeout: float = _STUCK_S,
) -> Run:
    """``concurrency`` connections each sending the next request as soon as the last is answered."""
    conns = await asyncio.gather(*(_Conn.open(port) for _ in range(concurrency)))
    run = Run("", "closed", None, seconds)
    now = time.perf_counter  # uvloop's loop.time() ticks in whole milliseconds
    cpu, start = time.process_time(), now()
    end = start + seconds

    async def worker(k: int, conn: _Conn) -> None:
        i = k
        while (sent := now()) < end:
            try:
                status = await asyncio.wait_for(conn.get(requests[i % len(requests)]), timeout)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                run.failed(exc)
                conn.close()
                conn = await _Conn.open(port)
                continue
            if status == 200:
                run.latencies.append(now() - sent)
            else:
                run.error(f"HTTP {status}")
            i += concurrency
        conn.close()

    await asyncio.gather(*(worker(k, c) for k, c in enumerate(conns)))
    run.seconds = now() - start
    run.generator_cpu_s = time.process_time() - cpu
    run.latencies.sort()
    return run


# --- the benchmark --------------------------------------------------------------------------

CANNED, BARE = "canned reply (generator ceiling)", "bare FastAPI constant"
VEHICLE, ALERTS = "GET /vehicles/{vin}", "GET /alerts?status=open"


@dataclass
class Result:
    """The best open-loop and closed-loop run of one target over the rounds."""

    target: str
    open: Run
    closed: Run
    others_cores: float  # CPU other processes used meanwhile (the machine is shared)


@dataclass
class ServingBench:
    seeded: Seeded
    results: dict[str, Result]
    rate: float
    concurrency: int
    http: str  # uvicorn's HTTP implementation
    load: tuple[float, float]  # 1-minute load average before and after

    def ratio(self, target: str) -> tuple[float, float]:
        """p99 at the offered rate and closed-loop requests/s, relative to the bare endpoint."""
        mine, bare = self.results[target], self.results[BARE]
        return mine.open.p(99) / bare.open.p(99), mine.closed.rate / bare.closed.rate

    def rows(self, target_p99_ms: float = 20.0) -> list[tuple[str, ...]]:
        """One row of figures per target, as `COLUMNS` names them."""
        out: list[tuple[str, ...]] = []
        for name, r in self.results.items():
            o, c = r.open, r.closed
            ratios = self.ratio(name) if name != CANNED else (math.nan, math.nan)
            met = "-" if name in (CANNED, BARE) else (
                "yes" if o.p(99) * 1000 <= target_p99_ms and not o.errors else "no")  # fmt: skip
            out.append((
                name, f"{o.rate:,.0f}", _ms(o.p(50)), _ms(o.p(99)), f"{o.errors}/{o.timeouts}",
                f"{o.server_cpu_s / o.seconds:.2f}", f"{c.rate:,.0f}", _ms(c.p(99)),
                f"{c.server_cpu_s / c.seconds:.2f}", f"{c.generator_cpu_s / c.seconds:.2f}",
                _ratio(ratios[0], ".1f"), _ratio(ratios[1], ".2f"), met, f"{r.others_cores:.1f}",
            ))  # fmt: skip
        return out


COLUMNS = ("target", "req/s", "p50 ms", "p99 ms", "errors/timeouts", "server cores", "max req/s",
           "p99 ms at max", "server cores at max", "generator cores at max", "p99 / bare",
           "max / bare", "p99 <= 20 ms", "others' cores")  # fmt: skip


def _ms(seconds: float) -> str:
    if math.isinf(seconds):
        return "timeout"
    ms = seconds * 1000
    return f"{ms:.2f}" if ms < 10 else f"{ms:,.0f}"


def _ratio(value: float, spec: str) -> str:
    return "-" if math.isnan(value) or math.isinf(value) else format(value, spec)


def bench_serving(
    workdir: Path,
    *,
    cars: int = 10_000,
    rate: float = 500.0,
    seconds: float = 6.0,
    closed_seconds: float = 3.0,
    concurrency: int = CONNECTIONS,
    rounds: int = 1,
    profile: Path | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> ServingBench:
    """Seed a store in ``workdir``, start the servers, measure each target ``rounds`` times.

    ``profile``: run the API under cProfile (every thread, CPU time) and write the stats
    there; the profiler slows the API several times, so its figures are not the API's.
    """
    db = workdir / "serving.db"
    progress(f"seeding a {cars:,}-car store in {db}")
    engine = store.connect(f"sqlite:///{db}")
    try:
        seeded = seed_store(engine, cars=cars)
    finally:
        engine.dispose()
    load_before = os.getloadavg()[0]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SERVING_", "DATABASE_", "KAFKA_", "PYTHON"))}  # fmt: skip
    env.update(
        DATABASE_URL=f"sqlite:///{db}",
        DATA_DIR=str(workdir),
        KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1",
        PYTHONPATH=str(Path(__file__).parents[1]),
    )
    ports = {name: free_port() for name in ("api", "bare", "canned")}
    shuffled = random.Random(1).sample(seeded.vins, len(seeded.vins))
    requests = {
        CANNED: [_request_bytes("/")],
        BARE: [_request_bytes("/bare")],
        VEHICLE: [_request_bytes(f"/vehicles/{vin}") for vin in shuffled],
        ALERTS: [_request_bytes("/alerts?status=open")],
    }
    canned_cmd = [
        sys.executable,
        "-c",
        f"from bench.serving import serve_canned; serve_canned({ports['canned']})",
    ]
    with (
        running("the canned server", canned_cmd, {**env, "BENCH_PORT": str(ports["canned"])},
                workdir / "canned.log", "/") as canned,
        running("the bare app", uvicorn_command("bench.serving:bare_app", ports["bare"]),
                {**env, "BENCH_PORT": str(ports["bare"])}, workdir / "bare.log", "/bare") as bare,
        running("the API", _api_command(ports["api"], profile),
                {**env, "BENCH_PORT": str(ports["api"])}, workdir / "api.log", "/healthz") as api,
    ):  # fmt: skip
        _check_answers(api.port, seeded)
        servers = {CANNED: canned, BARE: bare, VEHICLE: api, ALERTS: api}
        results: dict[str, Result] = {}
        for r in range(rounds):
            for name, server in servers.items():
                progress(f"round {r + 1}/{rounds}: {name}")
                got = _measure(name, server, requests[name], rate, seconds, closed_seconds,
                               concurrency)  # fmt: skip
                results[name] = _best(results.get(name), got)
                for run in (got.open, got.closed):
                    if run.why:
                        progress(f"  {name}, {run.mode} loop: errors {run.why}; the server's "
                                 f"log ends: {_tail(workdir / 'api.log')}")  # fmt: skip
    http = HTTP
    return ServingBench(seeded, results, rate, concurrency, http,
                        (load_before, os.getloadavg()[0]))  # fmt: skip


def _api_command(port: int, profile: Path | None) -> list[str]:
    if profile is None:
        return uvicorn_command("serving.main:create_app", port)
    call = f"serve_profiled('serving.main:create_app', {port}, Path({str(profile.resolve())!r}))"
    return [
        sys.executable,
        "-c",
        f"from pathlib import Path; from bench.serving import serve_profiled; {call}",
    ]


def _measure(
    name: str, server: Server, requests: Sequence[bytes], rate: float, seconds: float,
    closed_seconds: float, concurrency: int,
) -> Result:  # fmt: skip
    def timed(make: Callable[[], Any]) -> tuple[Run, float]:
        busy, cpu = _busy_s(), server.cpu_s()
        run: Run = uvloop.run(make())
        run.target, run.server_cpu_s = name, server.cpu_s() - cpu
        others = _busy_s() - busy - run.server_cpu_s - run.generator_cpu_s
        return run, max(0.0, others) / run.seconds

    uvloop.run(closed_loop(server.port, requests, concurrency=concurrency, seconds=1.0))  # warm up
    opened, others_open = timed(
        lambda: open_loop(server.port, requests, rate=rate, seconds=seconds)
    )
    closed, others_closed = timed(
        lambda: closed_loop(server.port, requests, concurrency=concurrency, seconds=closed_seconds)
    )
    return Result(name, opened, closed, max(others_open, others_closed))


def _best(old: Result | None, new: Result) -> Result:
    """Per target, the open-loop run with the fewest failures, then the lowest p99, and the
    fastest closed-loop run."""
    if old is None:
        return new

    def worse(r: Run) -> tuple[int, float]:
        return r.errors + r.timeouts, r.p(99)

    opened = new.open if worse(new.open) < worse(old.open) else old.open
    closed = new.closed if new.closed.rate > old.closed.rate else old.closed
    return Result(new.target, opened, closed, max(old.others_cores, new.others_cores))


def _tail(log: Path, lines: int = 3) -> str:
    text = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
    return " | ".join(text[-lines:]) or "(empty)"


def _busy_s() -> float:
    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))


def _check_answers(port: int, seeded: Seeded) -> None:
    """The API answers what the seeding claims, before any load: fail early and say why."""
    import httpx

    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        car = client.get(f"/vehicles/{seeded.vins[0]}").json()
        if car.get("layers") != ["batch", "speed"]:
            raise RuntimeError(f"GET /vehicles/{{vin}} did not merge both layers: {car}")
        page = client.get("/alerts", params={"status": "open"}).json()
        if page.get("total") != seeded.open_alerts:
            raise RuntimeError(f"/alerts?status=open has {page.get('total')} alerts, "
                               f"the store {seeded.open_alerts}")  # fmt: skip
        listed = client.get("/vehicles", params={"limit": 1}).json()
        if listed.get("total") != len(seeded.vins):
            raise RuntimeError(f"GET /vehicles counts {listed.get('total')} cars, "
                               f"not {len(seeded.vins)}")  # fmt: skip

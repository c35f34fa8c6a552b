"""``python -m infra demo`` (``make demo``): the whole platform on this machine in one command.

Starts Kafka (or reuses the one running), the topics, the API, the hot-path
worker, the archiver and the simulator, in that order, each once the one
before answers; then runs the batch and the report on a schedule and watches
every process. Ctrl-C (or SIGTERM) stops all it started, the simulator
first and Kafka last. With ``DEMO_SECONDS`` it stops by itself and checks the
platform end to end through the API (``infra.demo_check``). docs/demo.md.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

import httpx
from confluent_kafka.admin import AdminClient
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from sqlalchemy import func, select

from cold_path.config import ColdPathSettings
from fleet import store
from fleet.config import KafkaSettings, PlatformSettings
from fleet.topics import TELEMETRY, ensure_topics, platform_topics
from hot_path.config import HotPathSettings
from infra import cluster, demo_check, demo_watch
from infra.config import InfraSettings
from infra.demo_batch import BatchSchedule
from infra.demo_config import DemoSettings
from infra.demo_procs import ComponentDied, Proc, exit_text
from infra.errors import InfraError
from infra.node import is_ours, tail_file
from infra.ports import ensure_port_free
from serving.config import ServingSettings

Ready = Callable[[], str | None]
"""A readiness probe: a line saying what it saw once ready, None before."""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM while the demo was starting."""


class Demo:
    def __init__(self, settings: DemoSettings, brokers: int | None, console: Console) -> None:
        self.s = settings
        self.brokers = brokers
        self.out = console
        self.data_dir = PlatformSettings().data_dir.resolve()
        self.logs = settings.logs().resolve()
        self.serving = ServingSettings()
        self.hot = HotPathSettings()
        self.cold = ColdPathSettings()
        self.api_url = f"http://{self.serving.host}:{self.serving.port}"
        port = self.hot.metrics_port
        self.metrics_url = f"http://{self.hot.metrics_host}:{port}/metrics" if port else None
        self.stop_reason: str | None = None
        self.signals = 0
        self.in_startup = True
        self.kafka_started = False
        self.managed_kafka = False
        """Kafka runs from ``DATA_DIR/kafka`` (started now or before): its nodes are watched."""
        self.nodes_checked = 0.0
        self.nodes_dead_seen = 0
        self.bootstrap = ""
        self.admin: AdminClient | None = None
        self.telemetry_partitions = 0
        self.procs: dict[str, Proc] = {}
        self.finished: set[str] = set()
        self.schedule = BatchSchedule(
            settings, logs=self.logs, reports=self.serving.reports(), env=self._child_env,
            archived=self._archived_any, out=console,
        )  # fmt: skip
        self.sim_start = datetime.now(UTC)
        self.up_at = 0.0
        self.stats: dict[str, str] = {}
        self.records_before = 0
        self.files_before = 0

    # ---------------------------------------------------------------- signals

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals += 1
        self.stop_reason = self.stop_reason or signal.Signals(signum).name
        if self.in_startup and self.signals == 1:
            raise Interrupted()

    def _check_stop(self) -> None:
        if self.stop_reason and self.in_startup:
            raise Interrupted()

    # ---------------------------------------------------------------- main

    def run(self) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        verdict: demo_check.Verdict | None = None
        rc = 0
        try:
            self._preflight()
            self._start_all()
            self.in_startup = False
            self._print_up()
            self._supervise()
            if self.s.seconds is not None:
                if self.stop_reason:
                    rc = 130  # a bounded run cut short checked nothing: not a pass
                else:
                    verdict = self._check()
                    rc = 0 if verdict.ok else 1
        except Interrupted:
            self.out.print(f"\n[yellow]{self.stop_reason}: stopping during start-up[/]")
            rc = 130 if self.s.seconds is not None else 0
        except ComponentDied as dead:
            self._report_death(dead)
            rc = 1
        except InfraError as exc:
            self.out.print(f"[bold red]error:[/] {escape(exc.cause)}")
            if exc.details:
                self.out.print(exc.details, markup=False, highlight=False)
            self.out.print(f"[bold]next:[/] {escape(exc.next_step)}")
            rc = 1 if self.procs else 2
        finally:
            self.in_startup = False
            left = self._shutdown()
        if left:
            self.out.print(f"[bold red]error:[/] still running after the stop: {', '.join(left)}")
            rc = rc or 1
        if verdict is not None:
            self._print_verdict(verdict)
        return rc

    # ---------------------------------------------------------------- start-up

    def _preflight(self) -> None:
        self.out.print(f"[bold]fleet demo[/]: data in {self.data_dir}, logs in {self.logs}")
        ensure_port_free(
            self.serving.port,
            "stop what holds it, or choose another port: SERVING_PORT=8080 make demo",
        )
        if self.metrics_url:
            ensure_port_free(
                self.hot.metrics_port,
                "stop what holds it, or choose another: HOT_METRICS_PORT=9003 make demo "
                "(0 turns the worker's metrics off)",
            )
        if self.hot.web_enabled and "HOT_WEB_ENABLED" in os.environ:
            ensure_port_free(self.hot.web_port, "set HOT_WEB_PORT=N, or HOT_WEB_ENABLED=false")
        self.logs.mkdir(parents=True, exist_ok=True)

    def _start_all(self) -> None:
        began = time.monotonic()
        self._kafka()
        self._topics()
        self.sim_start = self._first_event_time()
        env = self._child_env()
        self._launch(
            Proc("api", ["serving"], self.logs / "api.log",
                 "a port clash shows in the log as 'address already in use': set SERVING_PORT; "
                 "run `python -m serving` alone to see it start"),
            env, lambda: "GET /healthz answers 200" if demo_watch.http_ok(
                self.api_url + "/healthz") else None,
        )  # fmt: skip
        self._launch(
            Proc("hot-path", ["hot_path", "worker"], self.logs / "hot-path.log",
                 "run `python -m hot_path worker` alone to see it fail; "
                 "`python -m infra kafka status` shows the group hot-path"),
            env, self._worker_ready,
        )  # fmt: skip
        self.files_before = demo_watch.parquet_files(self.cold.master()) or 0
        self._launch(
            Proc("archiver", ["cold_path", "archive"], self.logs / "archiver.log",
                 "run `python -m cold_path archive` alone to see it fail"),
            env, self._archiver_ready,
        )  # fmt: skip
        assert self.admin is not None
        self.records_before = (
            demo_watch.end_offsets(self.admin, TELEMETRY, self.telemetry_partitions) or 0
        )
        sim = Proc(
            "simulator", self._simulator_args(), self.logs / "simulator.log",
            "run the simulator alone with the same flags (the first line of its log)",
            stop_signal=signal.SIGINT, exited_ok_is_fine=True,
        )  # fmt: skip
        self._launch(sim, env, self._records_flowing)
        if self.metrics_url:
            self._wait("hot-path", "first records through the hot path", self._worker_flowing)
        self.up_at = time.monotonic()
        self.out.print(f"  everything up in {self.up_at - began:.0f}s")

    def _kafka(self) -> None:
        kafka = KafkaSettings()
        if kafka.bootstrap_servers:
            self.bootstrap = kafka.bootstrap_servers
            self.out.print(
                f"  [green]✓[/] kafka      using KAFKA_BOOTSTRAP_SERVERS={self.bootstrap} "
                "(not started by the demo; it stays running)"
            )
        else:
            record = cluster.load(self.data_dir)
            running = bool(record and cluster.live_nodes(record))
            if not running:
                self._check_kafka_ports(record.port_base if record else None)
            self.out.print(
                "  [cyan]…[/] kafka      "
                + ("found running; completing it" if running else "starting")
                + f" (node logs in {self.data_dir / 'kafka'})"
            )
            self.kafka_started = not running  # before: an interrupted start is stopped too
            result = self._cluster_up()
            self.managed_kafka = True
            self.bootstrap = result.record.bootstrap_servers
            how = (
                "started; the demo stops it at the end"
                if self.kafka_started
                else "was already running (make kafka-up); the demo leaves it running"
            )
            self.out.print(
                f"  [green]✓[/] kafka      {len(result.record.nodes)} broker(s) at "
                f"{self.bootstrap}: {how}"
            )
        self.admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 2})
        if demo_watch.brokers_up(self.admin, timeout=10) == 0:
            raise InfraError(
                f"no Kafka broker answers at {self.bootstrap}",
                "check it with `python -m infra kafka status`",
            )

    def _cluster_up(self) -> cluster.UpResult:
        with self.out.status("starting Kafka...") as spinner:
            try:
                return cluster.up(
                    self.data_dir, self.brokers, progress=lambda m: spinner.update(escape(m))
                )
            except InfraError as exc:
                # Under heavy load infra's process check has been seen to miss a JVM
                # that went on to start fine: if it runs now, wait for it once more.
                record = cluster.load(self.data_dir)
                if "exited during start-up" not in exc.cause or not (
                    record and len(cluster.live_nodes(record)) == len(record.nodes)
                ):
                    raise
                self.out.print("  kafka      a node looked gone during start-up but runs; waiting")
                return cluster.up(self.data_dir, self.brokers)

    def _check_kafka_ports(self, recorded_base: int | None) -> None:
        base = recorded_base or InfraSettings().port_base
        for i in range(self.brokers or 1):
            for port in (base + i, base + 100 + i):
                ensure_port_free(
                    port,
                    "stop what holds it, or give Kafka other ports: INFRA_PORT_BASE=19092 make demo"
                    + (" (after `python -m infra kafka down --wipe`)" if recorded_base else ""),
                )

    def _topics(self) -> None:
        assert self.admin is not None
        live = demo_watch.brokers_up(self.admin)
        record = cluster.load(self.data_dir)
        size = record.brokers if record and record.bootstrap_servers == self.bootstrap else live
        changes = ensure_topics(self.admin, platform_topics(), brokers=size)
        self.telemetry_partitions = demo_watch.partitions(self.admin, TELEMETRY)
        made = demo_watch.precreate_changelogs(
            self.admin, self.hot.app_id, self.telemetry_partitions, size
        )
        self.out.print(
            f"  [green]✓[/] topics     fleet.telemetry ({self.telemetry_partitions} partitions), "
            f"fleet.alerts, fleet.telemetry.dlq"
            + (f"; {len(changes) + len(made)} created or changed" if changes or made else "")
        )

    def _first_event_time(self) -> datetime:
        """Now, or just after the newest event the store already holds (an earlier demo ran
        ahead of the clock at DEMO_SPEEDUP): event time must move forward, or the hot path
        takes the new readings for old ones and the batch refuses to go back."""
        now = datetime.now(UTC).replace(microsecond=0)
        engine = store.connect()
        try:
            with engine.connect() as conn:
                newest = conn.execute(select(func.max(store.speed_vehicle_state.c.event_time)))
                seen = newest.scalar()
            published = store.current_version(engine)
        finally:
            engine.dispose()
        candidates = [t for t in (seen, published[1] if published else None) if t is not None]
        if candidates:
            latest = max(t if t.tzinfo else t.replace(tzinfo=UTC) for t in candidates)
            if latest + timedelta(minutes=1) > now:
                start = (latest + timedelta(minutes=1)).replace(microsecond=0)
                self.out.print(
                    f"  event time starts at {start:%Y-%m-%dT%H:%M:%SZ}, after the newest event "
                    "an earlier run left in the store"
                )
                return start
        return now

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DATA_DIR"] = str(self.data_dir)
        env["KAFKA_BOOTSTRAP_SERVERS"] = self.bootstrap
        env["PYTHONUNBUFFERED"] = "1"
        # Faust's own web server is not what the demo shows; its metrics port is.
        env.setdefault("HOT_WEB_ENABLED", "false")
        return env

    def _simulator_args(self) -> list[str]:
        s = self.s
        args = [
            "simulator", "--cars", str(s.cars), "--hz", str(s.hz), "--speedup", str(s.speedup),
            "--duration", str(int(s.sim_hours * 3600)), "--fault-rate", str(s.fault_rate),
            "--start", self.sim_start.isoformat().replace("+00:00", "Z"),
            "--truth-out", str(self.s.truth()), "--no-progress",
        ]  # fmt: skip
        if s.seed is not None:
            args += ["--seed", str(s.seed)]
        return args

    def _launch(self, proc: Proc, env: dict[str, str], ready: Ready) -> None:
        self.out.print(
            f"  [cyan]…[/] {proc.name:<10} starting `{escape(proc.command)}` (log {proc.log})",
            highlight=False,
        )
        self.procs[proc.name] = proc  # first: a Ctrl-C during the start still stops it
        proc.start(env)
        self._wait(proc.name, "ready", ready)

    def _wait(self, name: str, what: str, ready: Ready) -> None:
        began = time.monotonic()
        deadline = began + self.s.ready_timeout_s
        with self.out.status(f"waiting for {name}: {what}..."):
            while True:
                self._check_stop()
                self._check_alive()
                detail = ready()
                if detail:
                    self.out.print(
                        f"  [green]✓[/] {name:<10} {what} in {time.monotonic() - began:.1f}s: "
                        f"{detail}",
                        highlight=False,
                    )
                    return
                if time.monotonic() > deadline:
                    proc = self.procs.get(name)
                    raise ComponentDied(
                        name,
                        f"was not {what} within {self.s.ready_timeout_s:.0f}s",
                        proc.log if proc else None,
                        proc.tail() if proc else "",
                        "read its log; on a busy machine raise DEMO_READY_TIMEOUT_S",
                    )
                time.sleep(0.5)

    def _worker_ready(self) -> str | None:
        assert self.admin is not None
        if self.metrics_url and demo_watch.metrics(self.metrics_url) is None:
            return None
        members = demo_watch.group_members(self.admin, self.hot.app_id)
        if not members:
            return None
        where = f"; metrics on {self.metrics_url}" if self.metrics_url else ""
        return f"group {self.hot.app_id} holds the telemetry partitions{where}"

    def _archiver_ready(self) -> str | None:
        assert self.admin is not None
        if not demo_watch.group_members(self.admin, self.cold.group_id):
            return None
        return f"group {self.cold.group_id} holds the telemetry partitions"

    def _records_flowing(self) -> str | None:
        assert self.admin is not None
        now = demo_watch.end_offsets(self.admin, TELEMETRY, self.telemetry_partitions)
        if now is None or now <= self.records_before:
            return None
        return (
            f"{now - self.records_before} records in {TELEMETRY}; {self.s.cars} cars at "
            f"{self.s.hz:g} Hz, {self.s.speedup:g}x speed from {self.sim_start:%Y-%m-%d %H:%M:%SZ}"
        )

    def _worker_flowing(self) -> str | None:
        assert self.metrics_url is not None
        samples = demo_watch.metrics(self.metrics_url) or {}
        done = samples.get("hot_path_events_total:processed", 0)
        return f"{done:.0f} records processed" if done else None

    def _print_up(self) -> None:
        self.out.print()
        self.out.print(f"[bold green]dashboard:[/] [link]{self.api_url}/[/link]", highlight=False)
        self.out.print(f"  API docs {self.api_url}/docs · alerts {self.api_url}/alerts?status=open")
        self.out.print(f"  logs in {self.logs}:", highlight=False)
        for proc in self.procs.values():
            self.out.print(
                f"    {proc.name:<10} {proc.log.name}  (pid {proc.pid})", highlight=False
            )
        for name in ("batch", "report"):
            self.out.print(f"    {name:<10} {name}.log", highlight=False)
        if self.managed_kafka:
            self.out.print(f"    kafka      {self.data_dir / 'kafka'}/node-N/server.log")
        self.out.print(f"  simulator truth (faults.jsonl) in {self.s.truth()}")
        if self.s.seconds is None:
            self.out.print("[bold]Ctrl-C stops everything the demo started.[/]")
        else:
            self.out.print(
                f"[bold]running {self.s.seconds:.0f}s, then checking the platform end to end[/]"
            )
        self.out.print()

    # ---------------------------------------------------------------- running

    def _supervise(self) -> None:
        deadline = None if self.s.seconds is None else self.up_at + self.s.seconds
        self._refresh_stats()
        live = Live(self._table(), console=self.out, refresh_per_second=1, transient=True)
        last_line = last_stats = time.monotonic()
        told_waiting = False
        with live if self.out.is_terminal else nullcontext():
            while not self.stop_reason:
                now = time.monotonic()
                self._check_alive()
                self.schedule.tick(now)
                if now - last_stats >= 3:
                    self._refresh_stats()
                    last_stats = now
                if self.out.is_terminal:
                    live.update(self._table())
                elif now - last_line >= 30:
                    self.out.print(self._status_line(), highlight=False)
                    last_line = now
                if deadline is not None and now >= deadline:
                    if self.schedule.reports_written or now >= deadline + self.s.check_wait_s:
                        return
                    if not told_waiting:
                        told_waiting = True
                        self.out.print(
                            "  waiting for the first batch run and report to finish "
                            f"(up to {self.s.check_wait_s:.0f}s)"
                        )
                time.sleep(0.5)
        self.out.print(f"\n[yellow]{self.stop_reason}: stopping[/]")

    def _check_alive(self) -> None:
        for proc in list(self.procs.values()):
            rc = proc.returncode()
            if rc is None or proc.stopping or proc.name in self.finished:
                continue
            if rc == 0 and proc.exited_ok_is_fine:
                self.finished.add(proc.name)
                self.out.print(f"  {proc.name} finished its run (exit 0); the rest keeps running")
                continue
            hint = proc.hint
            if rc == -signal.SIGKILL:
                hint = "something outside the demo killed it (the kernel's OOM killer? see dmesg); "
                hint += proc.hint
            raise ComponentDied(proc.name, exit_text(rc), proc.log, proc.tail(), hint)
        if not self.managed_kafka or time.monotonic() - self.nodes_checked < 1.0:
            return
        self.nodes_checked = time.monotonic()
        record = cluster.load(self.data_dir)
        if record and record.bootstrap_servers == self.bootstrap:
            dead = [n for n in record.nodes if not is_ours(n)]
            fatal = dead and (len(dead) > len(record.nodes) // 2 or len(record.nodes) == 1)
            # Three looks a second apart: one failed process lookup is not a dead broker.
            self.nodes_dead_seen = self.nodes_dead_seen + 1 if fatal else 0
            if dead and self.nodes_dead_seen >= 3:
                node = dead[0]
                raise ComponentDied(
                    f"kafka node {node.node_id}", "is not running", Path(node.log_file),
                    tail_file(Path(node.log_file)),
                    "`python -m infra kafka up` restarts it; then `make demo` again",
                )  # fmt: skip

    def _archived_any(self) -> bool:
        """Whether the archiver has written a file in this run: a batch over an earlier
        run's files alone would publish a watermark behind this run's first event."""
        files = demo_watch.parquet_files(self.cold.master())
        if files is None:  # remote storage: the archiver's word for it
            return "archived " in self.procs["archiver"].new_output()
        return files > self.files_before

    def _refresh_stats(self) -> None:
        assert self.admin is not None
        st = self.stats
        total = demo_watch.end_offsets(self.admin, TELEMETRY, self.telemetry_partitions)
        if total is not None:
            st["simulator"] = f"{total - self.records_before:,} records sent"
        if self.metrics_url:
            m = demo_watch.metrics(self.metrics_url) or {}
            st["hot-path"] = (
                f"{m.get('hot_path_events_total:processed', 0):,.0f} processed, "
                f"lag {m.get('hot_path_lag_records', 0):,.0f} records, "
                f"{m.get('hot_path_alerts_total:opened', 0):,.0f} alerts opened"
            )
        files = demo_watch.parquet_files(self.cold.master())
        if files is not None:
            st["archiver"] = f"{files:,} Parquet files in {self.cold.master()}"
        try:
            body = httpx.get(f"{self.api_url}/alerts?status=open&limit=1", timeout=2).json()
            st["api"] = f"{self.api_url}/ · {body['total']} open alerts"
        except Exception:
            st["api"] = f"{self.api_url}/ (not answering)"
        st["batch"] = self.schedule.status()

    def _table(self) -> Table:
        table = Table("component", "pid", "state", title="fleet demo", title_justify="left")
        for name in ("simulator", "hot-path", "archiver", "batch", "api"):
            proc = self.schedule.batch if name == "batch" else self.procs.get(name)
            pid = str(proc.pid) if proc and proc.running() else "-"
            table.add_row(name, pid, escape(self.stats.get(name, "")))
        left = ""
        if self.s.seconds is not None:
            left = f" · {max(0, self.up_at + self.s.seconds - time.monotonic()):.0f}s left"
        table.caption = f"Ctrl-C stops everything{left}"
        return table

    def _status_line(self) -> str:
        t = time.monotonic() - self.up_at
        parts = [f"{k}: {v}" for k, v in self.stats.items()]
        return f"  [{t:.0f}s] " + " · ".join(parts)

    # ---------------------------------------------------------------- the check

    def _check(self) -> demo_check.Verdict:
        verdict = demo_check.Verdict()
        self.out.print("[bold]checking the platform end to end[/]")
        alive = [p.name for p in self.procs.values() if p.running()]
        sim = self.procs["simulator"]
        self.out.print(f"  stopping the simulator: {sim.stop(self.s.stop_grace_s)}")
        self._settle()
        try:
            self._check_alive()
        except ComponentDied as dead:
            verdict.problems.append(f"{dead.name} {dead.why} (log {dead.log})")
        try:
            answers = demo_check.fetch_all(self.api_url)
        except Exception as exc:
            verdict.problems.append(f"the API at {self.api_url} did not answer the check: {exc}")
            return verdict
        truth = self.s.truth()
        faults = demo_check.read_jsonl(truth / "faults.jsonl")
        vins = {v["vin"] for v in demo_check.read_jsonl(truth / "vehicles.jsonl")}
        demo_check.judge_alerts(answers["alerts"], faults, vins, verdict)
        last = self.schedule.runs[-1] if self.schedule.runs else None
        now = time.monotonic()
        every = self.s.batch_every_s + (last.seconds if last else 0) + 30
        bound = self.s.speedup * (every + self.cold.roll_max_age_s + 30) + (
            self.cold.watermark_lag_s + self.cold.watermark_align_s
        )
        facts = demo_check.BatchFacts(
            version=last.version if last else None,
            finished_ago_s=now - last.finished if last else None,
            run_seconds=last.seconds if last else None,
            staleness_bound_s=bound,
        )
        demo_check.judge_batch(
            answers["cluster"], answers["vehicles"], facts, self.sim_start, verdict
        )
        demo_check.judge_leaderboard(answers["efficiency"], verdict)
        demo_check.judge_reports(answers["reports"], verdict)
        verdict.seen.append(
            f"processes: {', '.join(alive)} running when the run ended"
            + ("; kafka broker(s) up" if self.admin and demo_watch.brokers_up(self.admin) else "")
        )
        return verdict

    def _settle(self, timeout: float = 30.0) -> None:
        """Let the hot path finish the records already in Kafka before judging its alerts."""
        if not self.metrics_url:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = demo_watch.metrics(self.metrics_url) or {}
            if m.get("hot_path_lag_records", 1) == 0:
                return
            time.sleep(1)

    def _print_verdict(self, verdict: demo_check.Verdict) -> None:
        for line in verdict.seen:
            self.out.print(f"  {escape(line)}", highlight=False)
        if verdict.ok:
            self.out.print("[bold green]check passed[/]: the platform worked end to end")
            return
        self.out.print("[bold red]check FAILED[/]:")
        for problem in verdict.problems:
            self.out.print(f"  - {escape(problem)}", highlight=False)
        self.out.print(f"[bold]next:[/] read the logs in {self.logs}")

    # ---------------------------------------------------------------- stopping

    def _report_death(self, dead: ComponentDied) -> None:
        self.out.print(f"\n[bold red]error:[/] {escape(dead.name)} {escape(dead.why)}")
        if dead.log:
            self.out.print(f"last lines of {dead.log}:")
            self.out.print(dead.tail or "(empty)", markup=False, highlight=False)
        self.out.print(f"[bold]next:[/] read {dead.log}; {escape(dead.next_step)}")

    def _shutdown(self) -> list[str]:
        """Stop everything started, in order; the names of any process left behind."""
        order = [self.procs.get("simulator"), *self.schedule.running()]
        order += [self.procs.get(n) for n in ("archiver", "hot-path", "api")]
        started = [p for p in order if p is not None and p.popen is not None]
        if started or self.kafka_started:
            self.out.print("stopping:")
        grace = self.s.stop_grace_s if self.signals < 2 else 2.0
        for proc in started:
            self.out.print(f"  {proc.name:<10} {proc.stop(grace)}")
        left = [p.name for p in started if p.group_alive()]
        if self.kafka_started:
            stopped = cluster.down(self.data_dir)
            self.out.print(f"  kafka      stopped node(s) {stopped} (the demo started it)")
        elif self.bootstrap and self.procs:
            self.out.print(
                f"  kafka      left running at {self.bootstrap} (not started by the demo)"
            )
        return left


def run_demo(brokers: int | None, seconds: float | None) -> int:
    # --seconds wins over DEMO_SECONDS, through the same validation.
    settings = DemoSettings() if seconds is None else DemoSettings(seconds=seconds)
    # soft_wrap: a log file or a pipe gets whole lines, not lines cut at 80 columns.
    console = Console(highlight=False, soft_wrap=True)
    return Demo(settings, brokers, console).run()

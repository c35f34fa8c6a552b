"""``python -m simulator``: load settings, build the simulation and transport, run, report."""

from __future__ import annotations

import logging
import secrets
import signal
import sys
import threading
from types import FrameType

from rich.console import Console
from rich.logging import RichHandler

from fleet.config import PlatformSettings
from fleet.errors import FleetError
from simulator.cli import parser, settings_from
from simulator.config import SimSettings
from simulator.errors import SimulatorError
from simulator.generator import Simulation
from simulator.realism import Realism
from simulator.report import run_record, summary_table
from simulator.runner import run
from simulator.transport import FileTransport, KafkaTransport, Transport
from simulator.truth import write_truth


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    err = Console(stderr=True)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False)],
    )
    try:
        settings = settings_from(args)
    except SimulatorError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 2
    seed = settings.seed if settings.seed is not None else secrets.randbits(63)
    sim = Simulation(
        cars=settings.cars,
        hz=settings.hz,
        duration_s=settings.duration,
        start=settings.start_time(),
        seed=seed,
        fault_rate=settings.fault_rate,
        realism=Realism(
            late=settings.late_rate,
            duplicate=settings.duplicate_rate,
            reorder=settings.reorder_rate,
            malformed=settings.malformed_rate,
        ),
    )
    try:
        transport = _transport(settings, sim.fleet.vins)
    except (SimulatorError, FleetError) as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 2
    stop = transport.stop if isinstance(transport, KafkaTransport) else threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        result = run(
            sim,
            transport,
            speedup=settings.speedup,
            stop=stop,
            flush_timeout=settings.flush_timeout,
            console=err if settings.progress else None,
        )
    except FleetError as exc:  # the gateway or Mosquitto went away mid-run
        err.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 1
    if settings.truth_out is not None:
        write_truth(settings.truth_out, sim, run_record(settings, seed, sim, result))
    Console().print(summary_table(settings, result))
    if not result.ok:
        err.print(
            f"[red]error:[/] {result.sent - result.acked} of {result.sent} records were not "
            "acknowledged",
            highlight=False,
        )
        return 1
    return 0


def _check_gateway(url: str, timeout: float) -> None:
    import httpx

    try:
        httpx.get(f"{url}/healthz", timeout=timeout).raise_for_status()
    except httpx.HTTPError as exc:
        raise SimulatorError(
            f"the ingest gateway at {url} is not reachable ({exc}); "
            "start it with `python -m ingest`"
        ) from None


def _transport(settings: SimSettings, vins: list[str]) -> Transport:
    if settings.output is not None:
        return FileTransport(settings.output)
    if settings.to == "kafka":
        kafka = KafkaTransport(settings.topic)
        kafka.check(settings.connect_timeout)
        return kafka
    # As cars without a Kafka client: each car gets its own credential, as
    # `python -m ingest credential issue` would give it.
    from ingest.client import HttpTransport, MqttTransport, issue_credentials

    if settings.to == "http":
        _check_gateway(settings.gateway_url, settings.connect_timeout)
    tokens = issue_credentials(vins, PlatformSettings().data_dir)
    if settings.to == "http":
        return HttpTransport(settings.gateway_url, tokens)
    mqtt = MqttTransport(tokens, host=settings.mqtt_host, port=settings.mqtt_port)
    try:
        mqtt.connect(vins)
    except OSError as exc:
        raise SimulatorError(
            f"Mosquitto at {settings.mqtt_host}:{settings.mqtt_port} is not reachable ({exc}); "
            "start it with `python -m infra mqtt up`"
        ) from None
    return mqtt


if __name__ == "__main__":
    sys.exit(main())

"""``python -m ingest``: the HTTP gateway, the MQTT bridge and vehicle credentials."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from types import FrameType

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fleet.config import KafkaSettings
from fleet.errors import FleetError
from ingest.config import IngestSettings
from ingest.credentials import CredentialStore, sync_mosquitto

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ingest", description=__doc__)
    cmds = parser.add_subparsers(dest="command")
    cmds.add_parser("serve", help="the HTTP gateway (the default command)")
    cmds.add_parser("mqtt-bridge", help="Mosquitto's vehicles/+/telemetry into Kafka")
    cred = cmds.add_parser("credential", help="issue, revoke and list vehicle credentials")
    ops = cred.add_subparsers(dest="op", required=True)
    issue = ops.add_parser("issue", help="a new token for a VIN (replaces its earlier one)")
    issue.add_argument("--vin", required=True)
    revoke = ops.add_parser("revoke", help="revoke the VIN's live credential")
    revoke.add_argument("--vin", required=True)
    ops.add_parser("list", help="credentials with their state (never the tokens)")
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    settings = IngestSettings()
    try:
        if args.command == "credential":
            return credential(args, settings)
        if args.command == "mqtt-bridge":
            return bridge(settings)
        return serve(settings)
    except FleetError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        return 1
    except KeyboardInterrupt:
        return 130


def serve(settings: IngestSettings) -> int:
    import uvicorn

    from ingest.gateway import create_app

    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
    return 0


def bridge(settings: IngestSettings) -> int:
    from prometheus_client import start_http_server

    from ingest.bridge import Bridge, broker_address
    from ingest.metrics import IngestMetrics

    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    metrics = IngestMetrics()
    if settings.bridge_metrics_port:
        start_http_server(settings.bridge_metrics_port, "127.0.0.1", registry=metrics.registry)
    conf = KafkaSettings().producer_config(**{"delivery.timeout.ms": settings.delivery_timeout_ms})
    Bridge(settings, conf, metrics).run(broker_address(settings), stop)
    return 0


def credential(args: argparse.Namespace, settings: IngestSettings) -> int:
    store = CredentialStore(settings.credentials_file)
    if args.op == "issue":
        token = store.issue(args.vin)
        # The only place a token is ever shown; stdout alone, so scripts can capture it.
        out.print(token, markup=False, highlight=False)
        _sync(store, settings)
    elif args.op == "revoke":
        n = store.revoke(args.vin)
        err.print(f"revoked {n} credential(s) of {args.vin}")
        _sync(store, settings)
    else:
        table = Table("vin", "fingerprint", "issued", "revoked")
        for c in store.list():
            table.add_row(c.vin, c.fingerprint, c.issued_at, c.revoked_at or "-")
        out.print(table)
    return 0


def _sync(store: CredentialStore, settings: IngestSettings) -> None:
    reloaded = sync_mosquitto(store, settings.data_dir)
    err.print(
        "Mosquitto reloaded its users" if reloaded
        else "Mosquitto is not running; its users take effect at `python -m infra mqtt up`"
    )  # fmt: skip

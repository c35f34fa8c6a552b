"""``python -m infra``: the local Kafka cluster from a terminal."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fleet.config import KafkaSettings, PlatformSettings
from fleet.errors import FleetError
from fleet.topics import ensure_topics, platform_topics
from infra import cluster, jars, mqtt, status
from infra.config import InfraSettings
from infra.errors import InfraError
from infra.node import is_ours, kill_node

out = Console()
err = Console(stderr=True, soft_wrap=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infra", description=__doc__)
    services = parser.add_subparsers(dest="service", required=True)
    kafka = services.add_parser("kafka", help="a local Apache Kafka cluster in KRaft mode")
    cmds = kafka.add_subparsers(dest="command", required=True)

    up = cmds.add_parser("up", help="start the cluster (or the nodes of it that are down)")
    up.add_argument(
        "--brokers", type=int, choices=(1, 3), default=None,
        help="1 or 3; default: the recorded cluster's size, else 1",
    )  # fmt: skip
    up.add_argument(
        "--port-base", type=_port_base, default=None,
        help="first broker port (default 9092; controllers listen 100 above)",
    )  # fmt: skip
    up.add_argument("--no-topics", action="store_true", help="skip provisioning the topics")

    down = cmds.add_parser("down", help="stop the processes `up` started, and only those")
    down.add_argument("--wipe", action="store_true", help="also delete the cluster's data")

    st = cmds.add_parser("status", help="brokers, controller, topics, ISR, consumer-group lag")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    st.add_argument("--internal", action="store_true", help="include Kafka's internal topics")

    cmds.add_parser("topics", help="create or update the platform's topics (idempotent)")
    cmds.add_parser("jars", help="fetch the Kafka jars from Maven Central (idempotent)")

    kill = cmds.add_parser("kill", help="SIGKILL one node, to watch the cluster fail over")
    kill.add_argument("--node", type=int, required=True)

    broker = services.add_parser("mqtt", help="a local Mosquitto for the MQTT ingest path")
    mqtt_cmds = broker.add_subparsers(dest="command", required=True)
    mqtt_cmds.add_parser("up", help="start Mosquitto on 127.0.0.1 (INFRA_MQTT_PORT, 1883)")
    mqtt_cmds.add_parser("down", help="stop the Mosquitto `up` started, and only that one")
    mqtt_st = mqtt_cmds.add_parser("status", help="whether it runs, where, how many vehicle users")
    mqtt_st.add_argument("--json", action="store_true", help="machine-readable output")

    demo = services.add_parser(
        "demo",
        help="the whole platform in one command, until Ctrl-C (make demo; docs/demo.md)",
        description="Kafka, topics, simulator, hot path, archiver, scheduled batch and report, "
        "and the API with the dashboard, supervised; DEMO_* settings (docs/demo.md).",
    )
    demo.add_argument(
        "--brokers", type=int, choices=(1, 3), default=None,
        help="Kafka brokers to start (default: the recorded cluster's size, else 1)",
    )  # fmt: skip
    demo.add_argument(
        "--seconds", type=float, default=None, metavar="N",
        help="run N seconds once up, then check end to end and stop (DEMO_SECONDS)",
    )  # fmt: skip
    return parser


def _port_base(text: str) -> int:
    value = int(text)
    if not 1024 <= value <= 65_000:
        raise argparse.ArgumentTypeError("must lie between 1024 and 65000")
    return value


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except InfraError as exc:
        err.print(f"[bold red]error:[/] {escape(exc.cause)}")
        if exc.details:
            err.print(exc.details, markup=False, highlight=False)
        err.print(f"[bold]next:[/] {escape(exc.next_step)}")
        return 1
    except FleetError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        return 1
    except KafkaException as exc:
        err.print(f"[bold red]error:[/] Kafka did not answer: {escape(exc.args[0].str())}")
        err.print("[bold]next:[/] check the cluster with `python -m infra kafka status`")
        return 1
    except ValidationError as exc:
        problem = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in problem["loc"])
        err.print(f"[bold red]error:[/] setting {escape(where)}: {escape(problem['msg'])}")
        err.print("[bold]next:[/] fix it in the environment (INFRA_*, KAFKA_*, TOPIC_*) or .env")
        return 1
    except OSError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")
        err.print("[bold]next:[/] check the path and its permissions, then run this again")
        return 1
    except KeyboardInterrupt:
        return 130


def _run(args: argparse.Namespace) -> int:
    if args.service == "demo":
        from infra.demo import run_demo  # the demo imports every stage's settings

        return run_demo(args.brokers, args.seconds)
    data_dir = PlatformSettings().data_dir
    if args.service == "mqtt":
        return _run_mqtt(args, data_dir)
    settings = InfraSettings()
    if args.command == "up":
        with err.status("starting Kafka...") as spinner:
            result = cluster.up(
                data_dir, args.brokers, settings=settings, port_base=args.port_base,
                provision=not args.no_topics, progress=lambda m: spinner.update(m),
            )  # fmt: skip
        if result.started:
            err.print(
                f"Kafka {result.record.kafka_version}: {len(result.record.nodes)} broker(s) "
                f"registered in {result.seconds:.1f}s"
            )
        else:
            err.print("Kafka is already running; nothing started")
        for change in result.topic_changes:
            err.print(f"  topic {change}")
        out.print(f"bootstrap servers: {result.record.bootstrap_servers}", highlight=False)
    elif args.command == "down":
        stopped = cluster.down(data_dir, wipe=args.wipe, settings=settings)
        what = f"stopped node(s) {stopped}" if stopped else "no Kafka process of ours was running"
        out.print(what + ("; data wiped" if args.wipe else ""))
    elif args.command == "status":
        info = status.collect(KafkaSettings(), cluster.load(data_dir), internal=args.internal)
        if args.json:
            sys.stdout.write(json.dumps(info, indent=2) + "\n")
        else:
            render(info)
        return 0 if not info["brokers_down"] else 3
    elif args.command == "topics":
        kafka = KafkaSettings()
        admin = AdminClient(kafka.admin_config())
        live = len(admin.list_topics(timeout=10).brokers)
        record = cluster.load(data_dir)
        # The cluster's size, not the brokers alive now: a topic made while one
        # broker is down must still get three replicas.
        brokers = (
            record.brokers if record and record.bootstrap_servers == kafka.bootstrap() else live
        )
        changes = ensure_topics(admin, platform_topics(), brokers=brokers)
        out.print("\n".join(changes) if changes else "topics already as declared; nothing changed")
    elif args.command == "jars":
        with err.status("resolving the Kafka jars from Maven Central..."):
            libs = jars.resolve_jars(settings)
        out.print(f"Kafka {jars.kafka_version()} jars in {libs}")
    elif args.command == "kill":
        record = cluster.load(data_dir)
        node = next((n for n in record.nodes if n.node_id == args.node), None) if record else None
        if node is None or not is_ours(node):
            raise InfraError(
                f"node {args.node} of the local cluster is not running",
                "see `python -m infra kafka status`",
            )
        kill_node(node)
        out.print(f"node {args.node} killed; `python -m infra kafka up` restarts it")
    return 0


def _run_mqtt(args: argparse.Namespace, data_dir: Path) -> int:
    if args.command == "up":
        record, started = mqtt.up(data_dir)
        what = "Mosquitto started" if started else "Mosquitto is already running; nothing started"
        err.print(f"{what} (pid {record.pid}, log {record.log})")
        out.print(f"mqtt: 127.0.0.1:{record.port}", highlight=False)
    elif args.command == "down":
        pid = mqtt.down(data_dir)
        out.print(f"stopped Mosquitto (pid {pid})" if pid else "no Mosquitto of ours was running")
    else:
        info = mqtt.status(data_dir)
        if args.json:
            sys.stdout.write(json.dumps(info, indent=2) + "\n")
        elif info["running"]:
            out.print(f"Mosquitto up at {info['address']} (pid {info['pid']}), "
                      f"{info['vehicle_users']} vehicle user(s)", highlight=False)  # fmt: skip
        else:
            out.print("Mosquitto is not running; start it with `python -m infra mqtt up`")
        return 0 if info["running"] else 3
    return 0


def render(info: dict[str, Any]) -> None:
    out.print(f"[bold]bootstrap[/] {info['bootstrap_servers']}   cluster id {info['cluster_id']}")
    brokers = Table("broker", "address", "state", "process", title="Brokers", title_justify="left")
    for b in info["brokers"]:
        role = " (controller)" if b["id"] == info["controller"] else ""
        state = "[green]up[/]" if b["up"] else "[red]down[/]"
        brokers.add_row(str(b["id"]), b["address"], state + role, str(b["process"] or "-"))
    out.print(brokers)
    topics = Table(
        "topic", "partition", "leader", "replicas", "in-sync", title="Topics", title_justify="left"
    )
    for t in info["topics"]:
        for p in t["partitions"]:
            isr = ",".join(map(str, p["isr"]))
            leader = "none" if p["leader"] is None else str(p["leader"])
            replicas = ",".join(map(str, p["replicas"]))
            isr_cell = f"[yellow]{isr}[/]" if p["under_replicated"] else isr
            topics.add_row(t["name"], str(p["partition"]), leader, replicas, isr_cell)
    out.print(topics)
    groups = Table("group", "state", "members", "topic", "partition", "committed", "end", "lag",
                   title="Consumer groups", title_justify="left")  # fmt: skip
    for g in info["consumer_groups"]:
        if not g["partitions"]:
            groups.add_row(g["group"], g["state"], str(g["members"]), "-", "-", "-", "-", "-")
        for p in g["partitions"]:
            groups.add_row(
                g["group"], g["state"], str(g["members"]), p["topic"], str(p["partition"]),
                str(p["committed"]), str(p["end"]), str(p["lag"]),
            )  # fmt: skip
    out.print(groups)

"""``python -m bench``: the platform's benchmarks, a table each.

Simulator: generation alone (physics, faults, JSON, written to /dev/null),
then, on a scratch broker started for the run, Kafka's own
ProducerPerformance, a bare confluent-kafka loop and the full simulator, with
the same records, partitions and producer settings (acks=all, idempotence,
linger.ms=5, batch.size=256 KiB, the same compression). The contenders take
turns for ``--rounds`` rounds and each keeps its best round, because the
machine is shared and one round is noisy.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.broker import create_topic, scratch_broker
from bench.ingest import bench_ingest
from bench.producers import (
    Measurement,
    Settings,
    bare_loop,
    generation_only,
    java_tool,
    sample_records,
    simulator_to_kafka,
)

PARTITIONS = 12


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--cars", type=int, default=2000, help="simulated fleet size (1 Hz)")
    p.add_argument("--seconds", type=float, default=250, help="simulated seconds per run")
    p.add_argument("--rounds", type=int, default=2, help="turns each producer takes")
    p.add_argument("--compression", default="lz4", choices=["none", "lz4", "zstd", "snappy"])
    p.add_argument("--no-kafka", action="store_true", help="simulator generation only")
    p.add_argument(
        "--only", choices=("simulator", "ingest"), default=None, help="run one benchmark only"
    )
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    console = Console()
    status = 0
    if args.only in (None, "simulator"):
        status |= _simulator(args, console)
    if args.only in (None, "ingest") and not args.no_kafka:
        _ingest(console)
    return status


def _ingest(console: Console) -> None:
    """HTTP gateway (batches of 100) and MQTT bridge against a direct producer, same records."""
    console.print("[bold]Ingest benchmark[/]")
    records = sample_records(50, 20_000)
    with tempfile.TemporaryDirectory() as tmp, scratch_broker() as bootstrap:
        result = bench_ingest(bootstrap, records, workdir=Path(tmp))
    table = Table(
        title=f"Ingest: {result.cars} cars, {len(records):,} records, HTTP batches of "
        f"{result.batch_size} from {result.http_concurrency} cars at once, MQTT QoS 1"
    )
    for col in ("path", "records/s", "vs direct", "ingest CPU cores"):
        table.add_column(col, justify="left" if col == "path" else "right")
    for row in result.rows():
        table.add_row(*row)
    console.print(table)


def _simulator(args: argparse.Namespace, console: Console) -> int:
    settings = Settings(compression=args.compression)
    best: dict[str, Measurement] = {}

    def keep(m: Measurement) -> None:
        if m.name not in best or m.rate > best[m.name].rate:
            best[m.name] = m
        console.print(f"  {m.name}: {m.rate:,.0f} records/s")

    console.print("[bold]Simulator benchmark[/]")
    for _ in range(args.rounds):
        keep(generation_only(args.cars, args.seconds))
    gen = best["simulator, generation only"]
    count = gen.records
    if not args.no_kafka:
        sample = sample_records(args.cars, 20_000)
        with tempfile.TemporaryDirectory() as tmp, scratch_broker() as bootstrap:
            payloads = Path(tmp) / "payloads.txt"
            payloads.write_bytes(b"\n".join(v for _, v in sample))
            for r in range(args.rounds):
                topic = create_topic(bootstrap, f"bench.java.{r}", PARTITIONS)
                keep(java_tool(bootstrap, topic, count, settings, payloads=payloads))
                topic = create_topic(bootstrap, f"bench.sim.{r}", PARTITIONS)
                keep(simulator_to_kafka(bootstrap, topic, args.cars, args.seconds, settings))
                topic = create_topic(bootstrap, f"bench.bare.{r}", PARTITIONS)
                keep(bare_loop(bootstrap, topic, count, sample, settings))
            topic = create_topic(bootstrap, "bench.java300", PARTITIONS)
            keep(java_tool(bootstrap, topic, count, settings, size=300))
    console.print(_table(args, settings, gen, best))
    lost = [m.name for m in best.values() if m.acked != m.records]
    if lost:
        console.print(f"[red]unacknowledged records in: {', '.join(lost)}")
        return 1
    return 0


def _table(
    args: argparse.Namespace, settings: Settings, gen: Measurement, best: dict[str, Measurement]
) -> Table:
    size = gen.bytes / gen.records
    table = Table(
        title=f"Simulator: {args.cars} cars at 1 Hz, mean record {size:.0f} B, {PARTITIONS} "
        f"partitions, acks=all, idempotent, linger.ms={settings.linger_ms}, "
        f"batch.size={settings.batch_size}, compression={settings.compression}; "
        f"best of {args.rounds}"
    )
    for col in ("producer", "records", "acked", "seconds", "records/s", "MB/s", "vs Java"):
        table.add_column(col, justify="left" if col == "producer" else "right", overflow="fold")
    java = next((m for n, m in best.items() if "Java), same" in n), None)
    for m in best.values():
        ratio = f"{m.rate / java.rate:.2f}" if java and m is not gen else "-"
        table.add_row(m.name, f"{m.records:,}", f"{m.acked:,}", f"{m.seconds:.1f}",
                      f"{m.rate:,.0f}", f"{m.mb_per_s:.1f}", ratio)  # fmt: skip
    return table


if __name__ == "__main__":
    sys.exit(main())

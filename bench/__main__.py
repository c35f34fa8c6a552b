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
        "--only", choices=("simulator", "ingest", "cold", "hot", "serving"), default=None,
        help="run one benchmark only",
    )  # fmt: skip
    p.add_argument("--cold-copies", type=int, default=10, help="1 M-event copies in the big run")
    p.add_argument("--serving-cars", type=int, default=10_000, help="fleet in the serving store")
    p.add_argument("--serving-rounds", type=int, default=2, help="turns each serving target takes")
    p.add_argument("--serving-rate", type=float, default=500, help="open-loop requests/s")
    p.add_argument("--serving-profile", type=Path, default=None,
                   help="run the API under cProfile, write its stats to this file")  # fmt: skip
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    console = Console(width=max(120, Console().width))  # tables of figures, not wrapped
    status = 0
    if args.only in (None, "simulator"):
        status |= _simulator(args, console)
    if args.only in (None, "ingest") and not args.no_kafka:
        _ingest(console)
    if args.only in (None, "cold"):
        _cold(console, args.cold_copies, kafka=not args.no_kafka)
    if args.only in (None, "serving"):
        _serving(console, args)
    if args.only in (None, "hot") and not args.no_kafka:
        _hot(console)
    return status


def _hot(console: Console) -> None:
    from bench.hot_path import bench_hot_path

    console.print("[bold]Hot-path benchmark[/]")
    # Both loops side by side: HOT_LOOP's default is chosen on these rows (docs/hot_path.md).
    result = bench_hot_path(loops=("aio", "uvloop"), progress=lambda m: console.print(f"  {m}"))
    table = Table(title=f"Hot path: {result.records:,} records of 2,000 cars, side by side on "
                  "one scratch broker (docs/hot_path.md, Benchmarks)")  # fmt: skip
    for col in ("contender", "records/s", "ratio"):
        table.add_column(col, justify="left" if col == "contender" else "right")
    for row in result.rows():
        table.add_row(*[str(x) for x in row])
    console.print(table)


def _serving(console: Console, args: argparse.Namespace) -> None:
    """The API's two busiest endpoints beside a bare FastAPI one, at 500 requests/s and flat out."""
    from bench.serving import COLUMNS, bench_serving

    console.print("[bold]Serving benchmark[/]")
    with tempfile.TemporaryDirectory(prefix="fleet-bench-serving-") as tmp:
        result = bench_serving(Path(tmp), cars=args.serving_cars, rounds=args.serving_rounds,
                               rate=args.serving_rate, profile=args.serving_profile,
                               progress=lambda m: console.print(f"  {m}"))  # fmt: skip
    s = result.seeded
    table = Table(
        title=f"Serving: {len(s.vins):,} cars ({s.batch_rows:,} batch rows in 2 versions, "
        f"{s.buckets:,} speed buckets, {s.open_alerts:,} open and {s.resolved_alerts:,} resolved "
        f"alerts), SQLite; uvicorn, 1 worker, {result.http}; open loop at {result.rate:.0f} "
        f"requests/s, closed loop with {result.concurrency} connections; best of "
        f"{args.serving_rounds}"
    )
    for col in COLUMNS:
        table.add_column(col, justify="left" if col == "target" else "right", overflow="fold")
    for row in result.rows():
        table.add_row(*row)
    Console(width=max(170, console.width)).print(table)  # 14 columns
    console.print(f"load average (1 min) {result.load[0]:.1f} before, {result.load[1]:.1f} after; "
                  "others' cores: CPU other processes used during the run")  # fmt: skip


def _cold(console: Console, copies: int, *, kafka: bool) -> None:
    """Spark's fuel-efficiency job against DuckDB at 1 M and copies x 1 M events; the archiver."""
    from bench import cold_path as cold
    from cold_path.config import ColdPathSettings

    console.print("[bold]Cold-path benchmark[/]")
    settings = ColdPathSettings(spark_master="local[*]", spark_shuffle_partitions=8,
                                spark_driver_memory="2g")  # fmt: skip
    table = Table(title="Cold path: fuel efficiency per vehicle, Spark local[*] vs DuckDB "
                  "(2 threads), same Parquet files")  # fmt: skip
    for col in ("events", "vehicles", "Spark s", "Spark events/s", "DuckDB s",
                "DuckDB events/s", "Spark / DuckDB time", "max |diff| l/100km"):  # fmt: skip
        table.add_column(col, justify="right")
    with tempfile.TemporaryDirectory(prefix="fleet-bench-cold-") as tmp:
        small, big = Path(tmp) / "1m", Path(tmp) / "big"
        built = cold.build_master(small, cars=1000, seconds=1000)
        cold.replicate(small, big, copies)
        startup = cold.spark_startup(settings)
        for master in (small, big):
            run = cold.compare(master, settings)
            table.add_row(f"{run.events:,}", f"{run.vehicles:,}", f"{run.spark_s:.1f}",
                          f"{run.events / run.spark_s:,.0f}", f"{run.duckdb_s:.1f}",
                          f"{run.events / run.duckdb_s:,.0f}", f"{run.spark_s / run.duckdb_s:.1f}",
                          f"{run.max_difference:.2e}")  # fmt: skip
            console.print(f"  {run.events:,} events: Spark {run.spark_s:.1f} s, "
                          f"DuckDB {run.duckdb_s:.1f} s")  # fmt: skip
        console.print(table)
        console.print(f"SparkSession start-up: {startup:.1f} s; the 1 M dataset: {built:,} events")
        if kafka:
            records = cold.sample_for_archiver(200_000)
            with scratch_broker() as bootstrap:
                topic = create_topic(bootstrap, "bench.archive", PARTITIONS)
                cold.produce(bootstrap, topic, records)
                arch = cold.archiver_vs_bare_consumer(bootstrap, topic, len(records),
                                                      Path(tmp) / "archive")  # fmt: skip
            console.print(
                f"Archiver: {arch.archiver_rate:,.0f} records/s against a bare consumer's "
                f"{arch.bare_rate:,.0f} ({arch.archiver_rate / arch.bare_rate:.2f}x), "
                f"{arch.records:,} records"
            )


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

"""Cold-path benchmark: the Spark fuel-efficiency job against DuckDB on the same Parquet files.

A master dataset of 1 M events is built from the simulator (records parsed by
pyarrow's JSON reader, laid out exactly as the archiver writes them); the
10 M dataset is the same fleet ten times over, each copy with VINs and offsets
of its own. On each, side by side: SparkSession start-up, the Spark batch's
fuel-efficiency aggregation (`cold_path.efficiency.vehicle_efficiency` over
`cold_path.extract`), and the same aggregation written in DuckDB SQL, whose
results must agree with Spark's. DuckDB is the single-machine reference.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
import pyarrow.parquet as pq

from bench.producers import fleet_simulation
from cold_path.config import ColdPathSettings
from cold_path.dataset import SCHEMA, FileName
from cold_path.efficiency import vehicle_efficiency
from cold_path.extract import extract
from cold_path.spark import session
from fleet.metrics import FUEL_RISE_EPSILON_LITRES, REFUEL_MIN_LITRES
from fleet.telemetry import VSS_PATHS

PARTITIONS = 12
SMOOTHING = 5


@dataclass(frozen=True)
class ColdRun:
    events: int
    vehicles: int
    spark_s: float
    duckdb_s: float
    max_difference: float
    """Largest |l/100 km| difference between the two engines' answers."""


def _table(values: list[bytes], partition: int, first_offset: int) -> pa.Table:
    parsed = pj.read_json(io.BytesIO(b"\n".join(values)))
    n = parsed.num_rows
    columns: dict[str, pa.Array] = {
        "topic": pa.array(["fleet.telemetry"] * n),
        "partition": pa.array([partition] * n, pa.int32()),
        "offset": pa.array(range(first_offset, first_offset + n), pa.int64()),
        "kafka_timestamp": pa.nulls(n, pa.timestamp("ms", tz="UTC")),
        "key": pa.nulls(n, pa.binary()),
        "raw": pa.array(values, pa.binary()),
        "valid": pa.array([True] * n),
        "error_reason": pa.nulls(n, pa.string()),
        "error_field": pa.nulls(n, pa.string()),
    }
    wire = dict(VSS_PATHS)  # the other columns have the same name on the wire
    for field in SCHEMA:
        if field.name in columns:
            continue
        source = wire.get(field.name, field.name)
        if source not in parsed.column_names:
            columns[field.name] = pa.nulls(n, field.type)
        else:  # ISO-8601 text with a Z casts straight to an aware timestamp
            columns[field.name] = parsed[source].cast(field.type)
    return pa.table(columns, schema=SCHEMA)


def build_master(master: Path, cars: int, seconds: float) -> int:
    """The simulator's records for ``cars`` over ``seconds``, as archived Parquet files."""
    day = master / "event_date=2026-01-05"
    day.mkdir(parents=True, exist_ok=True)
    values: list[bytes] = []
    written = 0

    def flush() -> None:
        nonlocal written
        partition = written // 100_000 % PARTITIONS
        table = _table(values, partition, written)
        name = FileName(
            "fleet.telemetry", partition, written, written + table.num_rows - 1
        ).render()
        pq.write_table(table, day / name, compression="zstd")
        written += table.num_rows
        values.clear()

    for batch in fleet_simulation(cars, seconds):
        values.extend(v for _, v in batch.records)
        if len(values) >= 100_000:
            flush()
    if values:
        flush()
    return written


def replicate(source: Path, target: Path, copies: int) -> int:
    """``copies`` copies of ``source``'s fleet, each with its own VINs and offsets."""
    day = target / "event_date=2026-01-05"
    day.mkdir(parents=True, exist_ok=True)
    files = sorted(source.glob("event_date=*/*.parquet"))
    span = sum(pq.read_metadata(f).num_rows for f in files)
    total = 0
    for k in range(copies):
        for f in files:
            table = pq.read_table(f)
            vins = pc.utf8_replace_slice(table["vin"], start=14, stop=16, replacement=f"{k:02d}")
            table = table.set_column(SCHEMA.get_field_index("vin"), "vin", vins)
            offsets = pc.add(table["offset"], k * span)
            table = table.set_column(SCHEMA.get_field_index("offset"), "offset", offsets)
            name = FileName.parse(f.name)
            assert name is not None
            out = FileName(name.topic, name.partition, name.first + k * span, name.last + k * span)
            pq.write_table(table, day / out.render(), compression="zstd")
            total += table.num_rows
    return total


DUCKDB_EFFICIENCY = """
WITH ev AS (
  SELECT vin, seq, event_time, odometer, fuel_litres
  FROM read_parquet('{glob}')
  WHERE valid
  QUALIFY row_number() OVER (PARTITION BY vin, seq ORDER BY "partition", "offset") = 1
),
steps AS (
  SELECT *, fuel_litres - lag(fuel_litres) OVER w AS step
  FROM ev WHERE fuel_litres IS NOT NULL WINDOW w AS (PARTITION BY vin ORDER BY event_time, seq)
),
ups AS (SELECT *, coalesce(step > {eps}, false) AS up FROM steps),
starts AS (
  SELECT *, up AND NOT coalesce(lag(up) OVER w, false) AS run_start
  FROM ups WINDOW w AS (PARTITION BY vin ORDER BY event_time, seq)
),
runs AS (
  SELECT *, sum(run_start::INT) OVER (
           PARTITION BY vin ORDER BY event_time, seq ROWS UNBOUNDED PRECEDING) AS run
  FROM starts
),
totals AS (SELECT *, sum(step) OVER (PARTITION BY vin, run, up) AS run_total FROM runs),
stretched AS (
  SELECT *, sum((up AND run_total > {refuel})::INT) OVER (
           PARTITION BY vin ORDER BY event_time, seq ROWS UNBOUNDED PRECEDING) AS stretch
  FROM totals
),
ranked AS (
  SELECT *, row_number() OVER (PARTITION BY vin, stretch ORDER BY event_time, seq) AS a,
            row_number() OVER (PARTITION BY vin, stretch ORDER BY event_time DESC, seq DESC) AS d
  FROM stretched
),
ends AS (
  SELECT vin, stretch, count(*) AS n,
         avg(fuel_litres) FILTER (a <= {k}) AS sm, avg(fuel_litres) FILTER (d <= {k}) AS em,
         max(fuel_litres) FILTER (a = 1) AS f, max(fuel_litres) FILTER (d = 1) AS l
  FROM ranked GROUP BY vin, stretch
),
used AS (
  SELECT vin, greatest(
    coalesce(sm + (CASE WHEN n > {k} THEN (sm - em) / (n - {k}) END) * {half}, f)
    - coalesce(em - (CASE WHEN n > {k} THEN (sm - em) / (n - {k}) END) * {half}, l), 0) AS used
  FROM ends
),
fuel AS (SELECT vin, sum(used) AS fuel_used_l FROM used GROUP BY vin),
spans AS (SELECT vin, max(odometer) - min(odometer) AS distance_km FROM ev GROUP BY vin)
SELECT vin, distance_km, fuel_used_l,
       CASE WHEN distance_km >= 1 THEN fuel_used_l / distance_km * 100 END AS l_per_100km
FROM spans JOIN fuel USING (vin)
"""


def duckdb_efficiency(master: Path) -> dict[str, float | None]:
    sql = DUCKDB_EFFICIENCY.format(
        glob=f"{master}/event_date=*/*.parquet", eps=FUEL_RISE_EPSILON_LITRES,
        refuel=REFUEL_MIN_LITRES, k=SMOOTHING, half=(SMOOTHING - 1) / 2,
    )  # fmt: skip
    with duckdb.connect() as con:
        con.execute("SET threads TO 2")
        return {vin: l100 for vin, _, _, l100 in con.execute(sql).fetchall()}


def spark_startup(settings: ColdPathSettings) -> float:
    began = time.perf_counter()
    spark = session(settings)
    spark.range(1).count()
    seconds = time.perf_counter() - began
    spark.stop()
    return seconds


def compare(master: Path, settings: ColdPathSettings) -> ColdRun:
    spark = session(settings)
    spark.sparkContext.setLogLevel("ERROR")
    try:
        began = time.perf_counter()
        data = extract(spark, master)
        rows = vehicle_efficiency(data.events, smoothing=SMOOTHING).collect()
        spark_s = time.perf_counter() - began
        events = data.events.count()
    finally:
        spark.stop()
    began = time.perf_counter()
    reference = duckdb_efficiency(master)
    duckdb_s = time.perf_counter() - began
    spark_answer = {r.vin: r.l_per_100km for r in rows}
    diffs = [abs((spark_answer[v] or 0.0) - (reference.get(v) or 0.0)) for v in spark_answer]
    if set(spark_answer) != set(reference):
        raise AssertionError("Spark and DuckDB saw different vehicles")
    return ColdRun(events, len(rows), spark_s, duckdb_s, max(diffs, default=0.0))


@dataclass(frozen=True)
class ArchiveRun:
    records: int
    bare_rate: float
    archiver_rate: float


def archiver_vs_bare_consumer(
    bootstrap: str, topic: str, records: int, workdir: Path
) -> ArchiveRun:
    """Records/s of the archiver (parse, Parquet, fsync, commit) against a consumer that
    only reads, from the same topic, each as a fresh group from the start."""
    from confluent_kafka import Consumer

    from cold_path.archive import Archiver
    from fleet.config import KafkaSettings

    kafka = KafkaSettings(bootstrap_servers=bootstrap)
    consumer = Consumer(kafka.consumer_config("bench-bare", **{"enable.auto.commit": False}))
    consumer.subscribe([topic])
    seen, began = 0, time.perf_counter()
    first: float | None = None
    while seen < records and time.perf_counter() - began < 300:
        batch = consumer.consume(num_messages=1000, timeout=0.5)
        if batch and first is None:
            first = time.perf_counter()
        seen += sum(1 for m in batch if m.error() is None)
    bare_s = time.perf_counter() - (first or began)
    consumer.close()

    settings = ColdPathSettings(topic=topic, group_id="bench-archiver", master_dir=workdir)
    archiver = Archiver(settings, kafka)
    began = time.perf_counter()
    stats = archiver.run(idle_exit_s=2)
    archive_s = time.perf_counter() - began - 2  # less the idle wait that ends it
    return ArchiveRun(records, seen / bare_s, stats.records / archive_s)


def sample_for_archiver(count: int) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    for batch in fleet_simulation(1000, 3600):
        out.extend(batch.records)
        if len(out) >= count:
            return out[:count]
    return out


def produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    from confluent_kafka import Producer

    from fleet.config import KafkaSettings

    producer = Producer(KafkaSettings(bootstrap_servers=bootstrap).producer_config())
    for key, value in records:
        while True:
            try:
                producer.produce(topic, value=value, key=key)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    if producer.flush(120):
        raise RuntimeError("records left unacknowledged")

"""Extract: the master dataset's readable files, as a DataFrame of valid, de-duplicated events."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema
from pyspark.sql.window import Window

from cold_path.dataset import SCHEMA, Master, MasterLike, readable_files


@dataclass(frozen=True)
class Extracted:
    events: DataFrame
    invalid: int
    """Records in the dataset that failed the contract (kept raw, left out of the views)."""
    files: list[str]
    excluded: list[tuple[str, str]]
    """Files that could not be read, with the reason: reported, never read as data."""


def extract(spark: SparkSession, master: MasterLike) -> Extracted:
    """Read the dataset at ``master`` (a path or an fsspec URL) through Hadoop's filesystems.

    The files are listed and their footers checked through fsspec; Spark gets
    each good file's Hadoop URI (``file://``, ``s3a://``, ``gs://``), so the
    JVM needs that filesystem on its classpath (``s3a`` needs hadoop-aws).
    """
    m = Master.at(master)
    base = m.hadoop_uri()  # a filesystem Spark cannot read fails here, before any work
    files, bad = readable_files(m)
    excluded = [(m.display(path), reason) for path, reason in bad]
    shown = [m.display(path) for path in files]
    if not files:
        empty = spark.createDataFrame([], schema=from_arrow_schema(SCHEMA))
        return Extracted(valid_events(empty), 0, [], excluded)
    uris = [m.hadoop_uri(path) for path in files]
    raw = spark.read.option("basePath", base).parquet(*uris)
    invalid = raw.where(~F.col("valid")).count()
    return Extracted(valid_events(raw), invalid, shown, excluded)


def valid_events(raw: DataFrame) -> DataFrame:
    """Records that passed the contract, each identity ``(vin, seq)`` once.

    A record can be in Kafka twice (an MQTT redelivery, an HTTP retry); the
    copy with the lowest offset is kept so the choice is reproducible.
    """
    return (
        raw.where(F.col("valid"))
        .withColumn(
            "_copy",
            F.row_number().over(Window.partitionBy("vin", "seq").orderBy("partition", "offset")),
        )
        .where(F.col("_copy") == 1)
        .drop("_copy", "raw", "key", "valid", "error_reason", "error_field")
    )

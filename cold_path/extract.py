"""Extract: the master dataset's readable files, as a DataFrame of valid, de-duplicated events."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema
from pyspark.sql.window import Window

from cold_path.dataset import SCHEMA, data_files

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Extracted:
    events: DataFrame
    invalid: int
    """Records in the dataset that failed the contract (kept raw, left out of the views)."""
    files: list[str]
    excluded: list[tuple[str, str]]
    """Files that could not be read, with the reason: reported, never read as data."""


def readable_files(master: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """Split the dataset's files into those with an intact footer and schema, and the rest."""
    good, bad = [], []
    for path, _ in data_files(master):
        try:
            schema = pq.read_schema(path)
            if not schema.equals(SCHEMA, check_metadata=False):
                raise ValueError("schema differs from the master dataset's")
            pq.ParquetFile(path).metadata  # noqa: B018 - reading the footer is the check
        except Exception as exc:  # pyarrow raises several types for damaged files
            log.error("excluding %s: %s", path, exc)
            bad.append((str(path), str(exc)))
            continue
        good.append(str(path))
    return good, bad


def extract(spark: SparkSession, master: Path) -> Extracted:
    files, excluded = readable_files(master)
    if not files:
        empty = spark.createDataFrame([], schema=from_arrow_schema(SCHEMA))
        return Extracted(valid_events(empty), 0, [], excluded)
    raw = spark.read.option("basePath", str(master)).parquet(*files)
    invalid = raw.where(~F.col("valid")).count()
    return Extracted(valid_events(raw), invalid, files, excluded)


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

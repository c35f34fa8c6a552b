"""The one place a SparkSession is built: master URL and sizes come from settings."""

from __future__ import annotations

from pyspark.sql import SparkSession

from cold_path.config import ColdPathSettings


def session(settings: ColdPathSettings, app: str = "fleet-cold-path") -> SparkSession:
    return (
        SparkSession.builder.master(settings.spark_master)
        .appName(app)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(settings.spark_shuffle_partitions))
        .config("spark.driver.memory", settings.spark_driver_memory)
        .config("spark.executor.memory", settings.spark_executor_memory)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")  # logs, not progress bars
        .config("spark.sql.parquet.mergeSchema", "false")
        .getOrCreate()
    )

"""The batch watermark: the slowest partition's newest event, less the lag, on a bucket boundary."""

from __future__ import annotations

from datetime import UTC, datetime

from pyspark.sql import Row

from cold_path.batch import watermark


def test_the_slowest_partition_sets_the_watermark_on_a_bucket_boundary(spark):
    events = spark.createDataFrame([
        Row(partition=0, event_time=datetime(2026, 1, 5, 7, 9, 50, tzinfo=UTC)),
        Row(partition=1, event_time=datetime(2026, 1, 5, 7, 12, 3, tzinfo=UTC)),
        Row(partition=1, event_time=datetime(2026, 1, 5, 7, 5, 0, tzinfo=UTC)),
    ])  # fmt: skip

    assert watermark(events, lag_s=0, align_s=1) == datetime(2026, 1, 5, 7, 9, 50, tzinfo=UTC)
    assert watermark(events, lag_s=0) == datetime(2026, 1, 5, 7, 9, tzinfo=UTC)
    assert watermark(events, lag_s=60) == datetime(2026, 1, 5, 7, 8, tzinfo=UTC)
    assert watermark(events.limit(0), lag_s=0) is None

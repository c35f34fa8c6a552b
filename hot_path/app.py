"""The hot path's Faust application; topics, tables and agents live in their own modules."""

from __future__ import annotations

from collections.abc import Iterable

import faust
from mode import ServiceT

from fleet.config import KafkaSettings, TopicSettings
from hot_path.config import HotPathSettings

settings = HotPathSettings()


def broker_urls(bootstrap: str) -> list[str]:
    """``host:port,host:port`` as Faust wants it: one ``kafka://`` URL per broker."""
    return [f"kafka://{server.strip()}" for server in bootstrap.split(",") if server.strip()]


class HotPathApp(faust.App):
    def on_init_dependencies(self) -> Iterable[ServiceT]:
        dependencies = super().on_init_dependencies()
        if not settings.faust_monitor and self.monitor in self.sensors:
            # Faust adds its Monitor to the sensors it calls four times a record; it stays
            # the app's `monitor` (the consumer records end offsets and commits in it).
            self.sensors.remove(self.monitor)
        return dependencies


app = HotPathApp(
    settings.app_id,
    broker=broker_urls(KafkaSettings().bootstrap()),
    store=settings.store,
    datadir=str(settings.state_dir()),
    autodiscover=False,
    origin="hot_path",
    # Tables are co-partitioned with fleet.telemetry, so they have its partition count.
    topic_partitions=TopicSettings().telemetry_partitions,
    # The worker's start-up sets the cluster's factor (hot_path.__main__); 1 until then.
    topic_replication_factor=settings.replication_factor or 1,
    consumer_auto_offset_reset="earliest",
    # Unbounded (Faust's default), a fetch of a second's records is handed on whole and the
    # next one waits until it is through: under load records came in bursts a second apart.
    broker_max_poll_records=settings.max_poll_records,
    producer_acks=-1,
    # A changelog record per input record: unbatched, each is a socket write of its own
    # (profiled: the worker's largest cost). 10 ms of linger batches them.
    producer_linger=settings.producer_linger_s,
    broker_session_timeout=settings.session_timeout_s,
    broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 4),
    web_enabled=settings.web_enabled,
    web_bind=settings.web_host,
    web_host=settings.web_host,
    web_port=settings.web_port,
)

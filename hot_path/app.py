"""The hot path's Faust application; topics, tables and agents live in their own modules."""

from __future__ import annotations

from time import monotonic
from typing import Any

import faust
from faust.sensors import Monitor
from faust.types import TP, EventT, StreamT
from faust.types.tuples import Message

from fleet.config import KafkaSettings, TopicSettings
from hot_path.config import HotPathSettings
from hot_path.delivery import use_inline_delivery
from hot_path.fetching import use_seek_fence

settings = HotPathSettings()


def broker_urls(bootstrap: str) -> list[str]:
    """``host:port,host:port`` as Faust wants it: one ``kafka://`` URL per broker."""
    return [f"kafka://{server.strip()}" for server in bootstrap.split(",") if server.strip()]


class StreamClock(Monitor):
    """Faust's Monitor kept to what Faust itself reads from it, for the worker.

    Faust calls its sensors four times a record, and its Monitor reads the clock and
    updates a dozen counters each time for the web server's /stats: 2.3 us a record
    (docs/hot_path.md, "Eighth round"). Faust's own check for a stream that stopped
    processing reads only when each partition last fed a stream; that is kept, the
    rest (/stats) is not fed. ``HOT_FAUST_MONITOR=true`` brings Faust's Monitor back.
    """

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        return None

    def on_stream_event_in(
        self, tp: TP, offset: int, stream: StreamT, event: EventT
    ) -> dict[str, Any] | None:
        self.stream_inbound_time[tp] = monotonic()
        return None

    def on_stream_event_out(
        self, tp: TP, offset: int, stream: StreamT, event: EventT, state: Any = None
    ) -> None:
        return None

    def on_message_out(self, tp: TP, offset: int, message: Message) -> None:
        return None


app = faust.App(
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
    Monitor=Monitor if settings.faust_monitor else StreamClock,
)
if settings.inline_delivery:
    use_inline_delivery(app, held_topics=[settings.telemetry_topic])
else:
    use_seek_fence(app)

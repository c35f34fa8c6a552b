"""Command line of the hot path: build the worker's settings and hand over to Faust."""

from __future__ import annotations

import logging
import os
import sys
import time

from confluent_kafka.admin import AdminClient

from fleet.config import KafkaSettings
from fleet.errors import ConfigError
from fleet.topics import replication_factor
from hot_path.config import HotPathSettings
from hot_path.runtime import tune_gc

log = logging.getLogger(__name__)
USAGE = (
    "usage: python -m hot_path worker [faust worker options] | views | score --truth DIR"
    " | check --records FILE --truth DIR"
)


def cluster_brokers(settings: KafkaSettings, timeout_s: float = 30.0) -> int:
    """How many brokers the cluster has; retries until ``timeout_s``, then raises."""
    admin = AdminClient(settings.admin_config())
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return len(admin.list_topics(timeout=5).brokers)
        except Exception as exc:  # librdkafka raises KafkaException with many causes
            if time.monotonic() > deadline:
                raise ConfigError(f"no Kafka at {settings.bootstrap()}: {exc}") from exc
            time.sleep(1.0)


def worker(args: list[str]) -> int:
    # Faust picks its event loop when it is first imported (FAUST_LOOP, or -L in argv):
    # set it before, or ``--loop`` below comes too late and the loop stays asyncio's.
    # HOT_LOOP decides: a FAUST_LOOP (or F_LOOP) left in the environment does not.
    os.environ["FAUST_LOOP"] = HotPathSettings().loop
    from hot_path import agents, views  # noqa: F401  (registers the agent and its tables)
    from hot_path.app import app, settings

    views.install()

    settings.state_dir().parent.mkdir(parents=True, exist_ok=True)
    if settings.replication_factor is None:
        brokers = cluster_brokers(KafkaSettings())
        app.conf.topic_replication_factor = replication_factor(brokers)
    tune_gc(settings.gc_threshold)
    # Faust's worker command sets web_enabled from its own flag (default on): pass ours.
    web = "--with-web" if settings.web_enabled else "--without-web"
    loop = ["--loop", settings.loop] if settings.loop != "aio" else []
    sys.argv = ["hot_path", *loop, "worker", "--loglevel", settings.log_level, web, *args]
    app.main()
    return 0  # app.main() exits the process itself


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["worker"]:
        return worker(args[1:])
    if args[:1] == ["views"]:
        from hot_path.view_writer import serve

        return serve()
    if args[:1] == ["score"]:
        from hot_path.score import main as score

        return score(args[1:])
    if args[:1] == ["check"]:
        from hot_path.score import check_main

        return check_main(args[1:])
    sys.stderr.write(USAGE + "\n")
    return 2

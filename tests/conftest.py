"""Session fixtures: one real Kafka broker for the whole run, and per-test topics and groups.

Where the broker comes from:
- ``KAFKA_BOOTSTRAP_SERVERS`` set: that cluster;
- ``KAFKA_TEST_BACKEND=testcontainers``: a Kafka container (needs a Docker engine);
- otherwise: a one-broker KRaft cluster started through ``infra`` in a temporary
  data directory, on free ports, stopped and wiped at the end.
If none can be had the run fails with the reason; it never skips.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from pyspark.sql import SparkSession

from fleet.config import KafkaSettings
from infra import cluster
from infra.errors import InfraError
from infra.ports import free_port_base
from tests.utils.kafka import create_topic, unique
from tests.utils.postgres import PostgresServer, PostgresUnavailable, start_for_tests

TESTCONTAINERS_IMAGE = os.environ.get("KAFKA_TEST_IMAGE", "confluentinc/cp-kafka:8.0.0")


def _local_broker(data_dir: Path) -> Iterator[str]:
    try:
        try:
            result = cluster.up(data_dir, 1, port_base=free_port_base(1))
        except InfraError as exc:
            pytest.fail(
                f"could not start a Kafka broker for the tests: {exc.cause}\n{exc.details}\n"
                f"next: {exc.next_step}",
                pytrace=False,
            )
        yield result.record.bootstrap_servers
    finally:
        # Whatever happened, no broker of this run outlives it.
        cluster.down(data_dir, wipe=True)


def _container_broker() -> Iterator[str]:
    try:
        from testcontainers.community.kafka import KafkaContainer
    except ImportError:  # testcontainers before 4.13
        from testcontainers.kafka import KafkaContainer
    try:
        container = KafkaContainer(TESTCONTAINERS_IMAGE).with_kraft()
        container.start()
    except Exception as exc:  # docker's errors are many and untyped
        pytest.fail(
            f"KAFKA_TEST_BACKEND=testcontainers but no Kafka container could start: {exc}\n"
            "next: start a Docker engine, or unset KAFKA_TEST_BACKEND to use a local broker",
            pytrace=False,
        )
    try:
        yield container.get_bootstrap_server()
    finally:
        container.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of a real Kafka cluster for this test session."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        admin = AdminClient({"bootstrap.servers": external, "log_level": 2})
        try:
            admin.list_topics(timeout=10)
        except Exception as exc:
            pytest.fail(f"KAFKA_BOOTSTRAP_SERVERS={external} did not answer: {exc}", pytrace=False)
        yield external
    elif os.environ.get("KAFKA_TEST_BACKEND") == "testcontainers":
        yield from _container_broker()
    else:
        yield from _local_broker(tmp_path_factory.mktemp("kafka-data"))


@pytest.fixture(scope="session")
def kafka_settings(kafka_bootstrap: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=kafka_bootstrap, client_id="fleet-tests")


@pytest.fixture(scope="session")
def admin(kafka_settings: KafkaSettings) -> AdminClient:
    return AdminClient(kafka_settings.admin_config())


@pytest.fixture
def new_topic(admin: AdminClient) -> Callable[..., str]:
    """Factory: ``new_topic(partitions, config=...)`` makes a uuid-named topic for this test."""

    def make(partitions: int = 12, *, config: dict[str, str] | None = None) -> str:
        return create_topic(admin, partitions, config=config)

    return make


@pytest.fixture
def group_id() -> Callable[[str], str]:
    """Factory: a uuid consumer-group id with a readable prefix."""
    return lambda prefix="group": unique(prefix)


@pytest.fixture
def producer(kafka_settings: KafkaSettings) -> Iterator[Producer]:
    """The platform's producer configuration, pointed at the test broker."""
    p = Producer(kafka_settings.producer_config())
    yield p
    p.flush(10)


@pytest.fixture
def make_consumer(kafka_settings: KafkaSettings) -> Iterator[Callable[..., Consumer]]:
    """Factory of the platform's consumers; each is closed after the test."""
    made: list[Consumer] = []

    def make(group: str, **overrides: object) -> Consumer:
        c = Consumer(kafka_settings.consumer_config(group, **overrides))
        made.append(c)
        return c

    yield make
    for c in made:
        try:
            c.close()
        except RuntimeError:  # already closed by the test
            pass


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Integration tests need the broker; everything under tests/integration is marked.
    for item in items:
        if "integration" in Path(str(item.fspath)).parts:
            item.add_marker(pytest.mark.kafka)


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One small local session for every transform test: one core, two shuffle partitions."""
    session = (
        SparkSession.builder.master("local[1]")
        .appName("fleet-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "512m")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


# --- The serving store on SQLite and on a real PostgreSQL --------------------


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for this session (Debian's binaries, tests/utils/postgres.py).

    ``FLEET_TEST_POSTGRES_URL`` uses an existing server instead. No server: the run fails
    and says to run ``make setup``; it never skips.
    """
    try:
        server = start_for_tests()
    except PostgresUnavailable as exc:
        pytest.fail(f"no PostgreSQL for the tests: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> Iterator[str]:
    """A fresh, empty store on the session's PostgreSQL (its own schema), dropped after the test."""
    url = postgres.new_store_url()
    yield url
    postgres.drop_store_url(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The serving store's URL, once per backend: a SQLite file, then a PostgreSQL database.

    PostgreSQL is started only when a test asks for it (``-k sqlite`` never starts it).
    """
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'serving.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url

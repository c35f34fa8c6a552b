"""The serving store: the tables the cold path (batch views) and the hot path
(speed views) write and the serving layer reads. SQLAlchemy 2 Core; SQLite
under ``DATA_DIR`` by default, PostgreSQL (or anything SQLAlchemy speaks) by
``DATABASE_URL``.

Batch views are versioned. A batch run writes its rows under a new version
and then, in one transaction, points ``batch_current`` at it: readers see the
old version or the new one, never half of one. Each version carries its
watermark, the event time up to which it is complete.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    case,
    create_engine,
    event,
    literal_column,
    make_url,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateIndex
from sqlalchemy.sql.elements import ColumnElement, Grouping

from fleet.alerts import Severity
from fleet.config import PlatformSettings

metadata = MetaData()


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, also on SQLite (which keeps no time zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: give a time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


batch_runs = Table(
    "batch_runs",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=True),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime()),
    Column("watermark", UtcDateTime()),
    Column("events", BigInteger, nullable=False, default=0),
    Column("invalid_records", BigInteger, nullable=False, default=0),
    Column("excluded_files", Integer, nullable=False, default=0),
)

batch_current = Table(
    "batch_current",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1: one row, one pointer
    Column("version", Integer, ForeignKey("batch_runs.version"), nullable=False),
)

vehicle_efficiency = Table(
    "batch_vehicle_efficiency",
    metadata,
    Column("version", Integer, ForeignKey("batch_runs.version"), primary_key=True),
    Column("vin", String(17), primary_key=True),
    Column("vehicle_class", String(32)),
    Column("distance_km", Float, nullable=False),
    Column("fuel_used_l", Float, nullable=False),
    Column("refuelled_l", Float, nullable=False),
    Column("refuels", Integer, nullable=False),
    Column("l_per_100km", Float),
    Column("rank", Integer),
    Column("first_event", UtcDateTime()),
    Column("last_event", UtcDateTime()),
)

# The batch's half of the Lambda merge, per vehicle: `fleet.metrics.increment`
# summed over the car's readings in event-time order, up to the car's last
# reading before the watermark that reached the speed layer in order (``through``;
# cold_path.totals says why). Not the efficiency view's smoothed figures: these
# are what serving adds the speed layer's buckets to.
vehicle_totals = Table(
    "batch_vehicle_totals",
    metadata,
    Column("version", Integer, ForeignKey("batch_runs.version"), primary_key=True),
    Column("vin", String(17), primary_key=True),
    Column("distance_km", Float, nullable=False),
    Column("fuel_used_l", Float, nullable=False),
    Column("readings", Integer, nullable=False),
    Column("through", UtcDateTime()),
)

trip_efficiency = Table(
    "batch_trip_efficiency",
    metadata,
    Column("version", Integer, ForeignKey("batch_runs.version"), primary_key=True),
    Column("vin", String(17), primary_key=True),
    Column("trip_id", String(64), primary_key=True),
    Column("origin", String(64)),
    Column("destination", String(64)),
    Column("distance_km", Float, nullable=False),
    Column("fuel_used_l", Float, nullable=False),
    Column("duration_s", Float, nullable=False),
    Column("l_per_100km", Float),
)


class_efficiency = Table(
    "batch_class_efficiency",
    metadata,
    Column("version", Integer, ForeignKey("batch_runs.version"), primary_key=True),
    Column("vehicle_class", String(32), primary_key=True),
    Column("vehicles", Integer, nullable=False),
    Column("distance_km", Float, nullable=False),
    Column("fuel_used_l", Float, nullable=False),
    Column("l_per_100km", Float),
)

route_rankings = Table(
    "batch_route_rankings",
    metadata,
    Column("version", Integer, ForeignKey("batch_runs.version"), primary_key=True),
    Column("origin", String(64), primary_key=True),
    Column("destination", String(64), primary_key=True),
    Column("route", Text, primary_key=True),  # unbounded: PostgreSQL enforces lengths
    Column("trips", Integer, nullable=False),
    Column("mean_duration_s", Float, nullable=False),
    Column("mean_fuel_l", Float, nullable=False),
    Column("mean_distance_km", Float, nullable=False),
    Column("rank_fuel", Integer, nullable=False),
    Column("rank_time", Integer, nullable=False),
    Column("recommended", Boolean, nullable=False),
)

segment_hour_stats = Table(
    "batch_segment_hour_stats",
    metadata,
    Column("version", Integer, ForeignKey("batch_runs.version"), primary_key=True),
    Column("segment_id", String(64), primary_key=True),
    Column("hour", Integer, primary_key=True),
    Column("samples", Integer, nullable=False),
    Column("mean_speed_kmh", Float),
    Column("p50_speed_kmh", Float),
    Column("p90_speed_kmh", Float),
    Column("passes", Integer),
    Column("p50_time_s", Float),
    Column("p90_time_s", Float),
)


# --- Speed layer -------------------------------------------------------------
# Written by the hot-path workers (hot_path.speed_store), read by serving for
# ``batch(<= watermark) + speed(> watermark)``. Every row a worker writes in
# one flush lands in one transaction together with the Kafka offset it
# reached (``speed_offsets``), so the view is exactly once across restarts.

speed_vehicle_state = Table(
    "speed_vehicle_state",
    metadata,
    Column("vin", String(17), primary_key=True),
    Column("event_time", UtcDateTime(), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("heading", Float),
    Column("speed_kmh", Float),
    Column("acceleration_mps2", Float),
    Column("fuel_level_percent", Float),
    Column("fuel_litres", Float),
    Column("range_m", Float),
    Column("odometer_km", Float),
    Column("coolant_temp_c", Float),
    Column("trip_id", String(64)),
    Column("segment_id", String(64)),
    Column("origin", String(64)),
    Column("destination", String(64)),
    # Seqs below ``seq`` not seen yet (JSON list): a late record is new only if listed.
    Column("missing_seqs", String, nullable=False, default="[]"),
    Column("updated_at", UtcDateTime(), nullable=False),
)

speed_increments = Table(
    "speed_increments",
    metadata,
    Column("vin", String(17), primary_key=True),
    Column("bucket_start", UtcDateTime(), primary_key=True),
    Column("distance_km", Float, nullable=False, default=0.0),
    Column("fuel_used_l", Float, nullable=False, default=0.0),
    Column("driving_s", Float, nullable=False, default=0.0),
    Column("harsh_events", Integer, nullable=False, default=0),
    Column("records", Integer, nullable=False, default=0),
    Column("updated_at", UtcDateTime(), nullable=False),
)

speed_alerts = Table(
    "speed_alerts",
    metadata,
    Column("alert_id", String(128), primary_key=True),
    Column("vin", String(17), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("status", String(16), nullable=False),  # open | resolved
    Column("opened_at", UtcDateTime(), nullable=False),
    Column("evidence_time", UtcDateTime(), nullable=False),
    Column("detected_at", UtcDateTime(), nullable=False),
    Column("resolved_at", UtcDateTime()),
    Column("detail", String),  # JSON
)
# How urgent an alert is (`fleet.alerts.Severity.rank`; -1 for a word that is not a severity),
# with the words and ranks written into the SQL rather than bound: an index on the expression
# serves an ORDER BY only when the query's expression is the same one.
SEVERITY_RANK: ColumnElement[int] = case(
    *((speed_alerts.c.severity == literal_column(f"'{s}'"), literal_column(str(s.rank)))
      for s in Severity),
    else_=literal_column("-1"),
)  # fmt: skip
# `GET /alerts?status=open`: resolved alerts pile up (a 10,000-car fleet resolves ~80,000 a
# week) while open ones stay few; without an index, counting and sorting the open ones scans
# the whole table (docs/benchmarks.md, "Serving"). This one covers the count and is in the
# page's order (most severe, then most recently opened, then by id: `alert_id` descending
# here, as the index is read backwards), so a page reads its rows only, with no sort.
Index(
    "ix_speed_alerts_open_page",
    speed_alerts.c.status,
    Grouping(SEVERITY_RANK),  # in parentheses, as PostgreSQL wants an expression
    speed_alerts.c.opened_at,
    speed_alerts.c.alert_id.desc(),
)

speed_offsets = Table(
    "speed_offsets",
    metadata,
    Column("group_id", String(128), primary_key=True),
    Column("topic", String(249), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("next_offset", BigInteger, nullable=False),
)


eco_scores = Table(
    "batch_eco_scores",
    metadata,
    Column("version", Integer, ForeignKey("batch_runs.version"), primary_key=True),
    Column("vin", String(17), primary_key=True),
    Column("distance_km", Float, nullable=False),
    Column("harsh_events", Integer, nullable=False),
    Column("harsh_per_100km", Float, nullable=False),
    Column("speeding_share", Float, nullable=False),
    Column("idling_share", Float, nullable=False),
    Column("eco_score", Float, nullable=False),
)


health_summary = Table(
    "batch_health_summary",
    metadata,
    Column("version", Integer, ForeignKey("batch_runs.version"), primary_key=True),
    Column("vin", String(17), primary_key=True),
    Column("dtcs", Text, nullable=False),
    Column("max_coolant_c", Float),
    Column("min_oil_kpa", Float),
    Column("min_tyre_kpa", Float),
    Column("min_battery_rest_v", Float),
    Column("overheat_min", Float, nullable=False),
    Column("oil_low_min", Float, nullable=False),
    Column("fuel_low_min", Float, nullable=False),
    Column("battery_low_min", Float, nullable=False),
)


class StoreSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")

    def url(self) -> str:
        if self.database_url:
            return self.database_url
        path = PlatformSettings().data_dir / "serving.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"


def connect(url: str | None = None) -> Engine:
    """An engine with the schema created; SQLite in WAL mode so readers never block the writer.

    On a database server, pooled connections are checked before use (``pool_pre_ping``):
    after a database restart or failover a request gets a fresh connection instead of an
    error. Not on SQLite: a file does not go away under an open connection, and the check
    would cost a statement per checkout (docs/benchmarks.md, "Serving").
    """
    url = url or StoreSettings().url()
    engine = create_engine(url, pool_pre_ping=make_url(url).get_backend_name() != "sqlite")
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

    metadata.create_all(engine)
    # create_all skips the indexes of tables that exist: add those a newer release defines.
    # IF NOT EXISTS, not `checkfirst`: reflection does not see expression indexes.
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            for index in table.indexes:
                conn.execute(CreateIndex(index, if_not_exists=True))
    return engine


def current_version(engine: Engine) -> tuple[int, datetime | None] | None:
    """The published batch version and its watermark, or None before the first run."""
    query = (
        select(batch_runs.c.version, batch_runs.c.watermark)
        .join(batch_current, batch_current.c.version == batch_runs.c.version)
        .where(batch_current.c.id == 1)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return (row.version, row.watermark) if row else None


def bytewise(expr: ColumnElement[str], dialect: Dialect) -> ColumnElement[str]:
    """``expr`` ordered by code point on every backend, as SQLite and Python order text.

    PostgreSQL orders by the database's collation (en-US puts ``airport`` before ``Zoo``);
    ``COLLATE "C"`` makes lists and tie-breaks the same on every backend.
    """
    return expr.collate("C") if dialect.name == "postgresql" else expr

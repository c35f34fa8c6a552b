"""``python -m cold_path report --out DIR``: the fleet report, from the published batch views.

One self-contained HTML file (charts as inline SVG, no network needed) and a
CSV file per view. Reads the serving store only: no Spark.
"""

from __future__ import annotations

import csv
import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, func, select

from fleet import store


@dataclass(frozen=True)
class View:
    file: str
    title: str
    table: Table
    columns: tuple[str, ...]
    order: tuple[str, ...]


VIEWS = (
    View("efficiency.csv", "Fuel efficiency leaderboard", store.vehicle_efficiency,
         ("rank", "vin", "vehicle_class", "l_per_100km", "distance_km", "fuel_used_l",
          "refuelled_l", "refuels"), ("rank", "vin")),
    View("class_efficiency.csv", "Efficiency per vehicle class", store.class_efficiency,
         ("vehicle_class", "vehicles", "l_per_100km", "distance_km", "fuel_used_l"),
         ("l_per_100km",)),
    View("route_recommendations.csv", "Route rankings per origin and destination",
         store.route_rankings,
         ("origin", "destination", "route", "recommended", "rank_fuel", "rank_time", "trips",
          "mean_fuel_l", "mean_duration_s", "mean_distance_km"),
         ("origin", "destination", "rank_fuel")),
    View("eco_scores.csv", "Driver eco-scores", store.eco_scores,
         ("vin", "eco_score", "harsh_per_100km", "speeding_share", "idling_share",
          "harsh_events", "distance_km"), ("eco_score", "vin")),
    View("health.csv", "Vehicle health", store.health_summary,
         ("vin", "dtcs", "overheat_min", "oil_low_min", "fuel_low_min", "battery_low_min",
          "max_coolant_c", "min_oil_kpa", "min_tyre_kpa", "min_battery_rest_v"), ("vin",)),
    View("trips.csv", "Trips", store.trip_efficiency,
         ("vin", "trip_id", "origin", "destination", "distance_km", "duration_s", "fuel_used_l",
          "l_per_100km"), ("vin", "trip_id")),
)  # fmt: skip


def _rows(engine: Engine, view: View, version: int) -> list[dict[str, Any]]:
    t = view.table
    query = select(*[t.c[c] for c in view.columns]).where(t.c.version == version)
    query = query.order_by(*[t.c[c].asc().nulls_last() for c in view.order])
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def write_report(engine: Engine, out: Path) -> Path:
    """Write the HTML report and the CSV files into ``out``; returns the HTML file's path."""
    published = store.current_version(engine)
    if published is None:
        raise LookupError("no batch view has been published yet: run `python -m cold_path batch`")
    version, watermark = published
    out.mkdir(parents=True, exist_ok=True)
    tables = {view.file: _rows(engine, view, version) for view in VIEWS}
    for view in VIEWS:
        with (out / view.file).open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=view.columns)
            writer.writeheader()
            writer.writerows(tables[view.file])
    page = out / "report.html"
    page.write_text(_html(version, watermark, _period(engine, version), tables))
    return page


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def _period(engine: Engine, version: int) -> tuple[datetime | None, datetime | None]:
    t = store.vehicle_efficiency
    query = select(func.min(t.c.first_event), func.max(t.c.last_event)).where(
        t.c.version == version
    )
    with engine.connect() as conn:
        first, last = conn.execute(query).one()
    return first, last


def _troubled(row: dict[str, Any]) -> bool:
    """A car with a trouble code or any time in an alert condition."""
    minutes = ("overheat_min", "oil_low_min", "fuel_low_min", "battery_low_min")
    return bool(row["dtcs"]) or any((row[m] or 0) > 0 for m in minutes)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _table(view: View, rows: Sequence[dict[str, Any]], limit: int = 50) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in view.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(r[c]))}</td>" for c in view.columns) + "</tr>"
        for r in rows[:limit]
    )
    more = f"<p>{len(rows) - limit} more rows in {view.file}</p>" if len(rows) > limit else ""
    return (f"<h2>{html.escape(view.title)}</h2><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>{more}")  # fmt: skip


def bar_chart(items: Sequence[tuple[str, float]], unit: str, width: int = 640) -> str:
    """A horizontal bar chart as inline SVG."""
    if not items:
        return "<p>No data.</p>"
    top = max(v for _, v in items) or 1.0
    bar_h, label_w = 18, 190
    rows = []
    for i, (label, value) in enumerate(items):
        y = i * (bar_h + 4)
        w = (width - label_w - 120) * value / top  # room for the value label
        rows.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{html.escape(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="#2f7d5b"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 13}">{value:.2f} {html.escape(unit)}</text>'
        )
    height = len(items) * (bar_h + 4)
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
    return f'{svg} font-family="sans-serif" font-size="12" role="img">{"".join(rows)}</svg>'


def _html(
    version: int,
    watermark: datetime | None,
    period: tuple[datetime | None, datetime | None],
    tables: dict[str, list[dict[str, Any]]],
) -> str:
    efficiency = [r for r in tables["efficiency.csv"] if r["l_per_100km"] is not None]
    first = [r for r in efficiency if r["rank"] is not None]
    best = [(r["vin"], r["l_per_100km"]) for r in first[:10]]
    worst = [(r["vin"], r["l_per_100km"]) for r in first[-10:][::-1]]
    classes = [(r["vehicle_class"], r["l_per_100km"]) for r in tables["class_efficiency.csv"]
               if r["l_per_100km"] is not None]  # fmt: skip
    recommended = [r for r in tables["route_recommendations.csv"] if r["recommended"]]
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    mark = _when(watermark)
    sections = [
        "<h2>Most frugal vehicles</h2>", bar_chart(best, "l/100 km"),
        "<h2>Thirstiest vehicles</h2>", bar_chart(worst, "l/100 km"),
        "<h2>Per vehicle class</h2>", bar_chart(classes, "l/100 km"),
        _table(VIEWS[2], recommended),
        _table(VIEWS[0], tables["efficiency.csv"]),
        _table(VIEWS[1], tables["class_efficiency.csv"]),
        _table(VIEWS[3], tables["eco_scores.csv"]),
        _table(VIEWS[4], [r for r in tables["health.csv"] if _troubled(r)]),
    ]  # fmt: skip
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fleet report</title>
<style>
body {{ font-family: sans-serif; margin: 2rem; color: #1c2b24; }}
table {{ border-collapse: collapse; margin-bottom: 1rem; }}
th, td {{ border: 1px solid #c9d6cf; padding: 0.2rem 0.5rem; text-align: right; }}
th {{ background: #eef4f0; }}
</style></head><body>
<h1>Fleet report</h1>
<p>Batch version {version}: events from {_when(period[0])} to {_when(period[1])},
complete up to the watermark <strong>{mark}</strong> (event time);
{len(tables["efficiency.csv"])} vehicles, {len(tables["trips.csv"])} trips. Made {made}.</p>
{"".join(sections)}
</body></html>
"""

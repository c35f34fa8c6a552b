"""The bounded demo's end-to-end check, judged only on what the API answers.

The fetching is thin (``fetch_all``); the judging functions are pure, so
what "healthy" means is written down in one readable place.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ALERT_SLACK_BEFORE = timedelta(minutes=2)
ALERT_SLACK_AFTER = timedelta(minutes=10)
"""An alert counts for a fault if it opened from 2 simulated minutes before the
fault to 10 after it ended (detection takes simulated minutes: a coolant climbs,
a tyre deflates)."""


@dataclass
class Verdict:
    seen: list[str] = field(default_factory=list)
    """What the check saw, one line per area, for the summary."""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class BatchFacts:
    """What the demo knows of its own batch runs, to judge the watermark by."""

    version: int | None
    """The version the demo's last successful batch run printed."""
    finished_ago_s: float | None
    run_seconds: float | None
    staleness_bound_s: float
    """How far (simulated seconds) the watermark may trail the newest event."""


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """A truth file of the simulator (``faults.jsonl``, ``vehicles.jsonl``); [] if missing."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _pages(client: httpx.Client, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        resp = client.get(path, params={**params, "limit": 500, "offset": len(items)})
        resp.raise_for_status()
        body = resp.json()
        items.extend(body[key])
        if not body[key] or len(items) >= body["total"]:
            return items


def fetch_all(base_url: str, timeout: float = 30.0) -> dict[str, Any]:
    """Every answer the check judges, from the running API."""
    with httpx.Client(base_url=base_url, timeout=timeout) as client:
        answers: dict[str, Any] = {
            "alerts": _pages(client, "/alerts", "items"),
            "vehicles": _pages(client, "/vehicles", "items"),
        }
        for name, path in (("cluster", "/cluster"), ("efficiency", "/fleet/efficiency")):
            resp = client.get(path)
            resp.raise_for_status()
            answers[name] = resp.json()
        reports = client.get("/reports")
        answers["reports"] = reports.json() if reports.status_code == 200 else None
    return answers


def judge_alerts(
    alerts: list[dict[str, Any]], faults: list[dict[str, Any]], vins: set[str], out: Verdict
) -> None:
    """Injected faults (the simulator's truth) must have alerts of their kind on their car.

    Alerts of this run's cars (``vins``) that match no fault are counted and
    shown, not failed: the hot path's precision is its own test's business.
    """
    if not faults:
        out.problems.append(
            "the simulator's faults.jsonl lists no fault: nothing to look for "
            "(raise DEMO_FAULT_RATE or DEMO_SECONDS)"
        )
        return
    by_car: dict[tuple[str, str], list[datetime]] = {}
    for a in alerts:
        by_car.setdefault((a["vin"], a["kind"]), []).append(parse_time(a["opened_at"]))
    found: list[tuple[dict[str, Any], datetime]] = []
    explained: set[tuple[str, str, datetime]] = set()
    for f in faults:
        start, end = parse_time(f["start"]), parse_time(f["end"])
        opened = [
            t
            for t in by_car.get((f["vin"], f["kind"]), [])
            if start - ALERT_SLACK_BEFORE <= t <= end + ALERT_SLACK_AFTER
        ]
        explained.update((f["vin"], f["kind"], t) for t in opened)
        if opened:
            found.append((f, min(opened)))
    unexplained = Counter(
        a["kind"]
        for a in alerts
        if a["vin"] in vins and (a["vin"], a["kind"], parse_time(a["opened_at"])) not in explained
    )
    kinds = Counter(f["kind"] for f in faults)
    hit = Counter(f["kind"] for f, _ in found)
    per_kind = ", ".join(f"{k} {hit[k]}/{n}" for k, n in sorted(kinds.items()))
    line = (
        f"alerts: {len(found)} of {len(faults)} injected faults have an alert of their kind "
        f"on their car in GET /alerts ({per_kind}); {len(alerts)} alerts in all"
    )
    if found:
        f, t = min(found, key=lambda ft: ft[1])
        line += f"; first: {f['kind']} on {f['vin']} opened {t:%Y-%m-%dT%H:%M:%SZ}"
    if unexplained:
        kinds_text = ", ".join(f"{k} {n}" for k, n in unexplained.most_common())
        line += f"; {sum(unexplained.values())} alerts match no injected fault ({kinds_text})"
    out.seen.append(line)
    if not found:
        out.problems.append(
            f"none of the {len(faults)} injected faults has an alert in GET /alerts: "
            "is the hot-path worker processing? (see its log and `python -m infra kafka status`)"
        )


def judge_batch(
    cluster: dict[str, Any],
    vehicles: list[dict[str, Any]],
    facts: BatchFacts,
    sim_start: datetime,
    out: Verdict,
) -> None:
    """A batch view published by this run, with a watermark close behind the data."""
    batch = cluster.get("batch") or {}
    version, mark_text = batch.get("version"), batch.get("watermark")
    if version is None or mark_text is None:
        out.problems.append("GET /cluster reports no published batch view (version or watermark)")
        return
    mark = parse_time(mark_text)
    seen = [parse_time(v["last_seen"]) for v in vehicles if v.get("last_seen")]
    newest = max(seen) if seen else None
    behind = (newest - mark).total_seconds() if newest else None
    line = f"batch: GET /cluster serves version {version}, watermark {mark:%Y-%m-%dT%H:%M:%SZ}"
    if behind is not None and newest is not None:
        line += (
            f", {behind / 60:.0f} simulated min behind the newest event "
            f"({newest:%H:%M:%SZ}; allowed {facts.staleness_bound_s / 60:.0f})"
        )
    if facts.finished_ago_s is not None and facts.run_seconds is not None:
        line += (
            f"; the demo's last batch run took {facts.run_seconds:.0f}s "
            f"and ended {facts.finished_ago_s:.0f}s ago"
        )
    out.seen.append(line)
    if facts.version is None:
        out.problems.append("no batch run of this demo published a view")
    elif version != facts.version:
        out.problems.append(
            f"GET /cluster serves batch version {version}, but the demo's last batch run "
            f"published version {facts.version}"
        )
    if mark < sim_start:
        out.problems.append(
            f"the watermark {mark_text} is older than this run's first event "
            f"({sim_start:%Y-%m-%dT%H:%M:%SZ}): the batch has not covered this run's data"
        )
    if behind is None:
        out.problems.append("GET /vehicles knows no car's last reading (speed layer empty)")
    elif behind > facts.staleness_bound_s:
        out.problems.append(
            f"the watermark trails the newest event by {behind / 60:.0f} simulated min, more "
            f"than the {facts.staleness_bound_s / 60:.0f} the batch schedule explains"
        )


def judge_leaderboard(efficiency: dict[str, Any], out: Verdict) -> None:
    ranked = efficiency.get("vehicles") or []
    layers = (efficiency.get("served") or {}).get("layers") or []
    classes = [c["vehicle_class"] for c in efficiency.get("classes") or []]
    out.seen.append(
        f"leaderboard: GET /fleet/efficiency ranks {len(ranked)} cars "
        f"(layers {'+'.join(layers) or 'none'}; classes {', '.join(map(str, classes)) or 'none'})"
    )
    if not ranked:
        out.problems.append("GET /fleet/efficiency ranks no car")
    if "batch" not in layers:
        out.problems.append("GET /fleet/efficiency is not served from the batch layer")


def judge_reports(reports: dict[str, Any] | None, out: Verdict) -> None:
    latest = (reports or {}).get("latest")
    out.seen.append(f"report: GET /reports lists {latest or 'no report'} as the latest")
    if not latest:
        out.problems.append("GET /reports lists no report: the report job did not run or failed")

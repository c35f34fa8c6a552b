"""``python -m hot_path score --truth DIR``: alerts on fleet.alerts against the simulator's truth.

An opened alert is right when the same car had a fault of the same kind whose
window (``start`` to ``end`` in ``faults.jsonl``, widened by ``--slack``
seconds at the end for conditions that take a while to clear) contains the
alert's opening evidence. A fault is found when at least one alert is right
for it. Detection delay is the event time from the fault's start to the
opening evidence.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from rich.console import Console
from rich.table import Table

from fleet.alerts import AlertKind
from fleet.config import KafkaSettings
from hot_path.config import HotPathSettings
from hot_path.events import AlertEvent, AlertStatus, decode_alert


@dataclass(frozen=True)
class Fault:
    vin: str
    kind: AlertKind
    start: datetime
    end: datetime


@dataclass
class KindScore:
    faults: int = 0
    found: int = 0
    alerts: int = 0
    right: int = 0
    delays_s: list[float] = field(default_factory=list)

    @property
    def recall(self) -> float | None:
        return self.found / self.faults if self.faults else None

    @property
    def precision(self) -> float | None:
        return self.right / self.alerts if self.alerts else None


def read_truth(directory: Path) -> list[Fault]:
    faults = []
    for line in (directory / "faults.jsonl").read_text().splitlines():
        row = json.loads(line)
        start = datetime.fromisoformat(row["start"])
        end = datetime.fromisoformat(row["end"])
        faults.append(Fault(row["vin"], AlertKind(row["kind"]), start, end))
    return faults


def score(
    faults: list[Fault], alerts: list[AlertEvent], slack: timedelta
) -> dict[AlertKind, KindScore]:
    """Per kind: faults found, alerts right, detection delays (pure)."""
    table = {kind: KindScore() for kind in AlertKind}
    by_key: dict[tuple[str, AlertKind], list[Fault]] = defaultdict(list)
    for f in faults:
        by_key[(f.vin, f.kind)].append(f)
        table[f.kind].faults += 1
    found: dict[Fault, float] = {}
    for a in alerts:
        if a.status is not AlertStatus.OPENED:
            continue
        s = table[a.kind]
        s.alerts += 1
        hits = [f for f in by_key[(a.vin, a.kind)] if f.start <= a.opened_at <= f.end + slack]
        if hits:
            s.right += 1
        for f in hits:
            delay = (a.opened_at - f.start).total_seconds()
            found[f] = min(delay, found.get(f, delay))
    for f, delay in found.items():
        table[f.kind].found += 1
        table[f.kind].delays_s.append(delay)
    return table


def consume_alerts(topic: str, settings: KafkaSettings) -> list[AlertEvent]:
    consumer = Consumer(settings.consumer_config("hot-path-score", **{"enable.auto.commit": False}))
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        parts = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions]
        ends = {tp.partition: consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in parts}
        consumer.assign(parts)
        alerts, seen = [], 0
        while seen < sum(ends.values()):
            msg = consumer.poll(5.0)
            if msg is None:
                break
            value = msg.value() if msg.error() is None else None
            if value:
                seen += 1
                alerts.append(decode_alert(value))
        return alerts
    finally:
        consumer.close()


def _pct(values: list[float], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))]:.0f}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m hot_path score")
    parser.add_argument("--truth", type=Path, required=True, help="the simulator's --truth-out")
    parser.add_argument("--slack", type=float, default=300.0, help="seconds after a fault ends")
    args = parser.parse_args(argv)
    alerts = consume_alerts(HotPathSettings().alerts_topic, KafkaSettings())
    result = score(read_truth(args.truth), alerts, timedelta(seconds=args.slack))
    out = Table("kind", "faults", "found", "alerts", "recall", "precision", "delay p50 s",
                "delay p99 s")  # fmt: skip
    for kind, s in result.items():
        delays = s.delays_s
        out.add_row(
            str(kind), str(s.faults), str(s.found), str(s.alerts),
            "-" if s.recall is None else f"{s.recall:.3f}",
            "-" if s.precision is None else f"{s.precision:.3f}",
            _pct(delays, 0.5), _pct(delays, 0.99),
        )  # fmt: skip
    Console().print(out)
    return 0

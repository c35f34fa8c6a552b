"""Scoring alerts against the simulator's truth, from Kafka or offline.

``python -m hot_path score --truth DIR`` reads the alerts on ``fleet.alerts``;
``python -m hot_path check --records FILE --truth DIR`` makes them in process
instead, feeding the simulator's ``--output`` file (JSON lines) through
`hot_path.processing.process_record` with the real rules, no Kafka. Both score
with `score`: an opened alert is right when the same car had a fault of the
same kind whose window (``start`` to ``end`` in ``faults.jsonl``, widened by
``--slack`` seconds at the end for conditions that take a while to clear)
contains the alert's opening evidence. A fault is found when at least one
alert is right for it. Detection delay is the event time from the fault's
start to the opening evidence.
"""

from __future__ import annotations

import argparse
import json
import re
import zlib
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from rich.console import Console
from rich.table import Table

from fleet.alerts import AlertKind
from fleet.config import KafkaSettings
from hot_path.config import HotPathSettings, RuleSettings
from hot_path.detector import VehicleState
from hot_path.events import AlertEvent, AlertStatus, decode_alert
from hot_path.processing import process_record


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


def mistakes(
    faults: list[Fault], alerts: list[AlertEvent], slack: timedelta
) -> tuple[list[Fault], list[AlertEvent]]:
    """The faults no alert found and the opened alerts inside no fault, by `score`'s matching."""
    by_key: dict[tuple[str, AlertKind], list[Fault]] = defaultdict(list)
    for f in faults:
        by_key[(f.vin, f.kind)].append(f)
    found: set[Fault] = set()
    wrong = []
    for a in alerts:
        if a.status is not AlertStatus.OPENED:
            continue
        hits = [f for f in by_key[(a.vin, a.kind)] if f.start <= a.opened_at <= f.end + slack]
        found.update(hits)
        if not hits:
            wrong.append(a)
    return [f for f in faults if f not in found], wrong


@dataclass
class Replay:
    """What the offline check fed through the hot path, and the alert events it made."""

    alerts: list[AlertEvent] = field(default_factory=list)
    records: int = 0
    dead_letters: int = 0
    duplicates: int = 0


VIN_FIELD = re.compile(rb'"Vehicle\.VehicleIdentification\.VIN":"([^"]{1,64})"')


def partition_of(value: bytes, partitions: int) -> int:
    """A stable partition per VIN (a record without a readable VIN goes to 0)."""
    found = VIN_FIELD.search(value)
    return zlib.crc32(found.group(1)) % partitions if found else 0


def _fetched(lines: Iterable[bytes], partitions: int, fetch: int) -> Iterator[tuple[int, bytes]]:
    """Records in the order a consumer reading a backlog hands them over.

    ``fetch`` 0: in the order written (a worker keeping up with the producer).
    Otherwise ``fetch`` records of one partition, then of the next, round-robin,
    as a consumer behind on every partition reads them; each partition keeps
    its own order.
    """
    if fetch <= 0:
        for value in lines:
            yield partition_of(value, partitions), value
        return
    queues: list[deque[bytes]] = [deque() for _ in range(partitions)]
    source = iter(lines)
    done, buffered = False, 0
    while True:
        # Fill until every partition has a fetch (or the buffer holds a round's worth,
        # so a partition without records does not pull the whole file into memory).
        while not done and buffered < fetch * partitions and min(map(len, queues)) < fetch:
            record = next(source, None)
            if record is None:
                done = True
            else:
                queues[partition_of(record, partitions)].append(record)
                buffered += 1
        if done and not buffered:
            return
        for p, q in enumerate(queues):
            for _ in range(min(fetch, len(q))):
                buffered -= 1
                yield p, q.popleft()


def replay(
    lines: Iterable[bytes],
    *,
    cfg: RuleSettings,
    partitions: int = 12,
    fetch: int = 0,
    topic: str = "fleet.telemetry",
) -> Replay:
    """Feed raw records through `process_record` as one worker holding every partition would."""
    out = Replay()
    vehicles: dict[int, dict[str, VehicleState]] = defaultdict(dict)
    watermarks: dict[str, float] = {}
    offsets: dict[int, int] = defaultdict(int)
    now = datetime.now(UTC)
    for partition, value in _fetched(lines, partitions, fetch):
        outcome = process_record(
            None,
            value,
            topic=topic,
            partition=partition,
            offset=offsets[partition],
            vehicles=vehicles[partition],
            watermarks=watermarks,
            now=now,
            cfg=cfg,
        )
        offsets[partition] += 1
        out.records += 1
        out.dead_letters += outcome.dead_letter is not None
        out.duplicates += outcome.duplicate
        out.alerts.extend(outcome.alerts)
    return out


def read_lines(path: Path, progress: bool = True) -> Iterator[bytes]:
    """The non-empty lines of a JSON-lines file, with a progress bar on the bytes read."""
    from rich.progress import Progress

    total = path.stat().st_size
    with path.open("rb") as f, Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"replaying {path.name}", total=total)
        done = 0
        for n, line in enumerate(f):
            done += len(line)
            if n % 20_000 == 0:
                bar.update(task, completed=done)
            line = line.rstrip(b"\n")
            if line:
                yield line


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


def _console() -> Console:
    # Piped into a file, rich would wrap at 80 columns and cut the kinds' names.
    console = Console()
    return console if console.is_terminal else Console(width=120)


def print_table(result: dict[AlertKind, KindScore], console: Console) -> None:
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
    console.print(out)


def print_mistakes(
    faults: list[Fault], alerts: list[AlertEvent], slack: timedelta, console: Console
) -> None:
    missed, wrong = mistakes(faults, alerts, slack)
    for f in missed:
        console.print(f"missed  {f.kind} {f.vin} {f.start.isoformat()} .. {f.end.isoformat()}")
    for a in wrong:
        console.print(f"false   {a.kind} {a.vin} opened {a.opened_at.isoformat()} {a.detail}")


def _args(prog: str, argv: list[str], offline: bool) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=prog)
    if offline:
        parser.add_argument(
            "--records", type=Path, required=True, help="the simulator's --output file"
        )
        parser.add_argument("--partitions", type=int, default=12, help="partitions to split into")
        parser.add_argument(
            "--fetch",
            type=int,
            default=0,
            help="read N records per partition in turn, as from a backlog (0: file order)",
        )
        parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--truth", type=Path, required=True, help="the simulator's --truth-out")
    parser.add_argument("--slack", type=float, default=300.0, help="seconds after a fault ends")
    parser.add_argument(
        "--explain", action="store_true", help="list every missed fault and every false alert"
    )
    args = parser.parse_args(argv)
    if not (args.truth / "faults.jsonl").is_file():
        parser.error(f"{args.truth / 'faults.jsonl'} not found: pass the simulator's --truth-out")
    if offline and not args.records.is_file():
        parser.error(f"{args.records} not found: write it with python -m simulator --output FILE")
    if offline and args.partitions < 1:
        parser.error("--partitions must be at least 1")
    return args


def main(argv: list[str]) -> int:
    args = _args("python -m hot_path score", argv, offline=False)
    alerts = consume_alerts(HotPathSettings().alerts_topic, KafkaSettings())
    faults = read_truth(args.truth)
    slack = timedelta(seconds=args.slack)
    console = _console()
    print_table(score(faults, alerts, slack), console)
    if args.explain:
        print_mistakes(faults, alerts, slack, console)
    return 0


def check_main(argv: list[str]) -> int:
    """``python -m hot_path check``: the simulator's records through the rules, no Kafka."""
    args = _args("python -m hot_path check", argv, offline=True)
    faults = read_truth(args.truth)
    run = replay(
        read_lines(args.records, progress=not args.no_progress),
        cfg=RuleSettings(),
        partitions=args.partitions,
        fetch=args.fetch,
    )
    slack = timedelta(seconds=args.slack)
    console = _console()
    console.print(
        f"{run.records:,} records: {run.dead_letters:,} dead letters, "
        f"{run.duplicates:,} not news (duplicate, late or overtaken)"
    )
    print_table(score(faults, run.alerts, slack), console)
    if args.explain:
        print_mistakes(faults, run.alerts, slack, console)
    return 0

"""The agent: reads fleet.telemetry and publishes alerts and dead letters."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from faust import StreamT

from hot_path import tables, topics, views
from hot_path.app import app
from hot_path.config import RuleSettings
from hot_path.events import encode_alert
from hot_path.processing import Outcome, process_record
from hot_path.staged import Staged

log = logging.getLogger(__name__)
rules = RuleSettings()


async def publish(outcome: Outcome) -> None:
    """Send the outcome's alerts (keyed by VIN) and dead letter."""
    for alert in outcome.alerts:
        await topics.alerts.send(key=alert.key, value=encode_alert(alert))
    bad = outcome.dead_letter
    if bad is not None:
        await topics.dead_letter.send(key=bad.key, value=bad.value, headers=bad.headers)


@app.agent(topics.telemetry)
async def detect(stream: StreamT[Any]) -> AsyncIterator[Outcome]:
    """Run every rule on each record; the outcome is yielded for tests and sinks."""
    async for event in stream.events():
        msg = event.message
        now = datetime.now(UTC)
        vehicles, watermarks = Staged(tables.vehicles), Staged(tables.watermarks)
        outcome = process_record(
            msg.key,
            event.value,
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            vehicles=vehicles,
            watermarks=watermarks,
            now=now,
            cfg=rules,
        )
        if outcome.dead_letter is not None:
            headers = dict(outcome.dead_letter.headers)
            log.warning(
                "dead-lettered %s[%d]@%d: %s", msg.topic, msg.partition, msg.offset,
                headers["problem"].decode(),
            )  # fmt: skip
        await publish(outcome)
        vehicles.apply()  # only now: a crash before this replays against the old state
        watermarks.apply()
        views.account(outcome, partition=msg.partition, offset=msg.offset, now=now)
        yield outcome

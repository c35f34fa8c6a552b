"""The Faust agent through ``agent.test_context()``, on the memory store and no broker."""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path
from types import ModuleType

import pytest
from mode import CrashingSupervisor
from prometheus_client import REGISTRY

from fleet.telemetry import encode_event
from hot_path.app import StreamClock
from hot_path.processing import Outcome

from .readings import VIN, reading


@pytest.fixture
def agents(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ModuleType:
    # Settings are read when the app module is first imported: no broker, no web
    # server, tables in memory, nothing under the developer's data directory.
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    monkeypatch.setenv("HOT_STORE", "memory://")
    monkeypatch.setenv("HOT_WEB_ENABLED", "false")
    monkeypatch.setenv("HOT_DATA_DIR", str(tmp_path))
    module = importlib.import_module("hot_path.agents")
    module.app.conf.store = "memory://"
    module.tables.vehicles.data.clear()
    module.tables.watermarks.data.clear()
    module.cache.parts.clear()
    module.cache.marks.clear()
    module.cache._acks.clear()
    return module


def test_the_agent_opens_an_alert_and_dead_letters_bad_records(
    agents: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    published: list[Outcome] = []

    async def record(outcome: Outcome, msg: object) -> None:
        published.append(outcome)

    monkeypatch.setattr(agents, "publish", record)

    async def run() -> None:
        async with agents.detect.test_context() as agent:
            for s in range(20):
                await agent.put(encode_event(reading(s, dtcs=("P0300",))), key=VIN.encode())
            await agent.put(b'{"broken', key=VIN.encode(), partition=3)
            duplicate = encode_event(reading(19, dtcs=("P0300",)))
            await agent.put(duplicate, key=VIN.encode())
            await agent.put(encode_event(reading(20, dtcs=("P0300",))), key=VIN.encode())

    asyncio.run(run())
    alerts = [a for o in published for a in o.alerts]
    assert [(a.vin, str(a.kind), str(a.status)) for a in alerts] == [(VIN, "dtc_active", "opened")]
    dead = [o.dead_letter for o in published if o.dead_letter is not None]
    assert len(dead) == 1
    headers = {k: v.decode() for k, v in dead[0].headers}
    assert headers["reason"] == "malformed_json" and headers["partition"] == "3"
    assert agents.cache.parts[0][VIN].last_seq == 20


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_the_agent_moves_the_counters(agents: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    async def nowhere(outcome: Outcome, msg: object) -> None:
        return None

    monkeypatch.setattr(agents, "publish", nowhere)
    processed = counter("hot_path_events_total", outcome="processed")
    duplicates = counter("hot_path_events_total", outcome="duplicate")
    dead = counter("hot_path_dead_letters_total", reason="malformed_json")
    opened = counter("hot_path_alerts_total", kind="dtc_active", status="opened")

    async def run() -> None:
        async with agents.detect.test_context() as agent:
            for s in range(10):
                ev = reading(s, dtcs=("P0420",), odometer=100.0 + s / 100)
                await agent.put(encode_event(ev), key=VIN.encode())
            await agent.put(encode_event(reading(9)), key=VIN.encode())
            await agent.put(b"{", key=VIN.encode())

    asyncio.run(run())
    assert counter("hot_path_events_total", outcome="processed") - processed == 10
    assert counter("hot_path_events_total", outcome="duplicate") - duplicates == 1
    assert counter("hot_path_dead_letters_total", reason="malformed_json") - dead == 1
    assert counter("hot_path_alerts_total", kind="dtc_active", status="opened") - opened == 1


def test_a_record_the_agent_fails_on_stops_the_worker_rather_than_being_skipped(
    agents: ModuleType,
) -> None:
    # The agent holds a reference on every record until the state flush acknowledges it. If
    # Faust restarted the agent after an exception (its default supervisor does), the
    # record it failed on, or every record of a failed inline flush, would stay unacked
    # while the worker went on: commits skipping it or stuck behind it for good. The
    # agent's supervisor must crash the worker instead, so the records are replayed.
    supervisor = agents.detect._new_supervisor()
    assert isinstance(supervisor, CrashingSupervisor), type(supervisor).__name__


def test_the_worker_s_monitor_feeds_faust_s_stream_check_and_nothing_else(
    agents: ModuleType,
) -> None:
    app = agents.app
    monitor = app.monitor
    assert isinstance(monitor, StreamClock)  # HOT_FAUST_MONITOR off, the default
    try:
        list(app.on_init_dependencies())  # what the app's start does first
        assert monitor in set(app.sensors)

        async def run() -> None:
            async with agents.detect.test_context() as agent:
                await agent.put(encode_event(reading(0)), key=VIN.encode(), partition=3)

        asyncio.run(run())
        # Faust's check for a stream that stopped processing reads this per partition...
        assert [tp.partition for tp in monitor.stream_inbound_time] == [3]
        # ...and the per-record counters and timings of Faust's own Monitor are not kept.
        assert (monitor.events_total, monitor.messages_received_total) == (0, 0)
    finally:
        app.sensors.remove(monitor)

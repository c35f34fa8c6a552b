"""The Faust agent through ``agent.test_context()``, on the memory store and no broker."""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path
from types import ModuleType

import pytest

from fleet.telemetry import encode_event
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
    return module


def test_the_agent_opens_an_alert_and_dead_letters_bad_records(
    agents: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    published: list[Outcome] = []

    async def record(outcome: Outcome) -> None:
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
    assert [o.duplicate for o in published[-2:]] == [True, False]
    assert agents.tables.vehicles[VIN]["last_seq"] == 20

"""What `up` refuses before it starts anything, and how a damaged record is reported."""

from __future__ import annotations

import pytest

from fleet.cluster_state import ClusterRecord, state_file
from fleet.errors import ConfigError
from infra import cluster
from infra.errors import InfraError


def _record(tmp_path, brokers: int, base: int = 29092) -> None:
    servers = ",".join(f"127.0.0.1:{base + i}" for i in range(brokers))
    ClusterRecord("cid", "4.4.0", servers, min(3, brokers), 1).write(state_file(tmp_path))


def test_a_recorded_cluster_keeps_its_size(tmp_path):
    _record(tmp_path, 1)
    with pytest.raises(InfraError) as caught:
        cluster.up(tmp_path, 3)
    assert "holds a 1-broker cluster's data" in caught.value.cause
    assert "--wipe" in caught.value.next_step


def test_a_recorded_cluster_keeps_its_ports(tmp_path):
    _record(tmp_path, 3, base=29092)
    with pytest.raises(InfraError) as caught:
        cluster.up(tmp_path, port_base=31000)
    assert "uses ports from 29092, not 31000" in caught.value.cause


def test_the_record_knows_its_size_and_ports(tmp_path):
    _record(tmp_path, 3, base=29092)
    record = cluster.load(tmp_path)
    assert record is not None and (record.brokers, record.port_base) == (3, 29092)


@pytest.mark.parametrize("content", ["{not json", '{"nodes": [{"pid": 1}]}', "[]"])
def test_a_damaged_record_says_so(tmp_path, content):
    state_file(tmp_path).parent.mkdir(parents=True)
    state_file(tmp_path).write_text(content)
    with pytest.raises(ConfigError) as caught:
        cluster.load(tmp_path)
    assert "cluster.json" in str(caught.value)


def test_one_command_at_a_time(tmp_path):
    with cluster._locked(tmp_path), pytest.raises(InfraError) as caught:
        cluster.down(tmp_path)
    assert "another `python -m infra kafka` command" in caught.value.cause

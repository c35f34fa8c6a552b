"""What infra writes for each KRaft node, checked without starting one."""

from __future__ import annotations

import json
from pathlib import Path

from fleet.cluster_state import ClusterRecord, NodeRecord, state_file
from infra.node import min_heap, new_cluster_id, plan_nodes, render_properties
from infra.status import active_controller


def props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines())


def test_three_nodes_form_one_quorum_with_rf3_and_min_isr_2(tmp_path):
    nodes = plan_nodes(tmp_path, 3, 29092)
    rendered = [props(render_properties(n, nodes)) for n in nodes]

    voters = "1@127.0.0.1:29192,2@127.0.0.1:29193,3@127.0.0.1:29194"
    assert {p["controller.quorum.voters"] for p in rendered} == {voters}
    assert [p["node.id"] for p in rendered] == ["1", "2", "3"]
    assert rendered[1]["listeners"] == "PLAINTEXT://127.0.0.1:29093,CONTROLLER://127.0.0.1:29193"
    for p in rendered:
        assert p["process.roles"] == "broker,controller"
        assert p["default.replication.factor"] == "3"
        assert p["min.insync.replicas"] == "2"
        assert p["offsets.topic.replication.factor"] == "3"
        assert p["transaction.state.log.replication.factor"] == "3"
        assert p["transaction.state.log.min.isr"] == "2"
        assert p["unclean.leader.election.enable"] == "false"
        assert p["auto.create.topics.enable"] == "false"


def test_one_node_cannot_ask_for_replicas_it_does_not_have(tmp_path):
    (node,) = plan_nodes(tmp_path, 1, 9092)
    p = props(render_properties(node, [node]))
    assert p["offsets.topic.replication.factor"] == "1"
    assert p["min.insync.replicas"] == "1"
    assert p["log.dirs"] == str(tmp_path / "kafka" / "node-1" / "data")


def test_heap_starts_at_half_the_bound():
    assert min_heap("512m") == "256m"
    assert min_heap("2g") == "1g"
    assert min_heap("1m") == "1m"
    assert min_heap("1000000") == "1000000"


def test_cluster_ids_are_22_url_safe_characters():
    ids = {new_cluster_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(i) == 22 and "=" not in i and "+" not in i and "/" not in i for i in ids)
    assert not any(i.startswith("-") for i in ids)  # a tool would take it for an option


def test_the_cluster_record_round_trips(tmp_path):
    node = NodeRecord(1, 123, 9092, 9192, "/d", "/d/server.log", 1.5)
    record = ClusterRecord("cid", "4.4.0", "127.0.0.1:9092", 1, 1, [node])
    record.write(state_file(tmp_path))
    assert ClusterRecord.read(state_file(tmp_path)) == record
    assert ClusterRecord.read(tmp_path / "missing.json") is None


def _quorum_state(log_dir: Path, leader: int, epoch: int) -> Path:
    meta = log_dir / "__cluster_metadata-0"
    meta.mkdir(parents=True)
    (meta / "quorum-state").write_text(
        json.dumps({"clusterId": "", "leaderId": leader, "leaderEpoch": epoch, "votedId": -1})
    )
    return log_dir


def test_the_controller_is_the_leader_of_the_newest_epoch(tmp_path):
    stale = _quorum_state(tmp_path / "a", leader=2, epoch=3)
    fresh = _quorum_state(tmp_path / "b", leader=1, epoch=4)
    electing = _quorum_state(tmp_path / "c", leader=-1, epoch=5)
    assert active_controller([stale, fresh, electing]) == 1
    assert active_controller([electing]) is None
    assert active_controller([tmp_path / "nothing"]) is None

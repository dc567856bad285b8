"""The local KRaft cluster's configuration, without starting a JVM."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from kmidi.cli import stack
from kmidi.cli.broker import (
    EmbeddedKafka,
    KafkaCluster,
    Replication,
    new_cluster_id,
    read_cluster_id,
    server_properties,
)
from kmidi.cli.main import build_parser, main


def as_dict(text: str) -> dict[str, str]:
    lines = (line.partition("=") for line in text.splitlines() if line and line[0] != "#")
    return {key: value for key, _, value in lines}


def test_one_node_is_its_own_quorum_with_one_copy_of_everything(tmp_path: Path) -> None:
    config = as_dict(server_properties(port=9092, controller_port=9093, log_dir=tmp_path))
    assert config["node.id"] == "1"
    assert config["controller.quorum.voters"] == "1@127.0.0.1:9093"
    for key in (
        "default.replication.factor",
        "min.insync.replicas",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
    ):
        assert config[key] == "1", key
    assert "broker.session.timeout.ms" not in config, "a single node keeps Kafka's default"


def test_a_cluster_node_names_every_voter_and_keeps_three_copies(tmp_path: Path) -> None:
    config = as_dict(
        server_properties(
            port=9093,
            controller_port=19093,
            log_dir=tmp_path,
            node_id=2,
            voters={3: 19094, 1: 19092, 2: 19093},
            replication=Replication.for_brokers(3),
        )
    )
    assert config["node.id"] == "2"
    assert config["process.roles"] == "broker,controller"
    assert config["controller.quorum.voters"] == (
        "1@127.0.0.1:19092,2@127.0.0.1:19093,3@127.0.0.1:19094"
    )
    assert config["listeners"] == "PLAINTEXT://127.0.0.1:9093,CONTROLLER://127.0.0.1:19093"
    assert config["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9093"
    assert config["default.replication.factor"] == "3"
    assert config["min.insync.replicas"] == "2"
    assert config["offsets.topic.replication.factor"] == "3"
    assert config["transaction.state.log.replication.factor"] == "3"
    assert config["transaction.state.log.min.isr"] == "2"
    assert int(config["broker.session.timeout.ms"]) < 9000, "faster fencing than the default"
    assert int(config["broker.heartbeat.interval.ms"]) < int(config["broker.session.timeout.ms"])


@pytest.mark.parametrize(
    ("brokers", "factor", "min_insync"), [(1, 1, 1), (2, 2, 1), (3, 3, 2), (5, 3, 2)]
)
def test_copies_follow_the_number_of_brokers(brokers: int, factor: int, min_insync: int) -> None:
    assert Replication.for_brokers(brokers) == Replication(factor, min_insync)
    assert KafkaCluster(brokers=brokers).replication == Replication(factor, min_insync)


def test_cluster_ids_look_like_kafkas_own() -> None:
    ids = {new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    for cluster_id in ids:
        assert len(cluster_id) == 22
        assert not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_a_formatted_dir_keeps_its_cluster_id(tmp_path: Path) -> None:
    assert read_cluster_id(tmp_path) is None
    (tmp_path / "meta.properties").write_text(
        "#\nnode.id=2\nversion=1\ncluster.id=AbCdEfGhIjKlMnOpQrStUv\n", encoding="utf-8"
    )
    assert read_cluster_id(tmp_path) == "AbCdEfGhIjKlMnOpQrStUv"


def test_cluster_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="at least one"):
        KafkaCluster(brokers=0)
    with pytest.raises(ValueError, match="2 given for 3 brokers"):
        KafkaCluster(brokers=3, ports=[9092, 9093])
    cluster = KafkaCluster(brokers=3)
    with pytest.raises(RuntimeError, match="start"):
        _ = cluster.bootstrap_servers
    with pytest.raises(KeyError, match="no node 4"):
        cluster.node(4)


def test_the_active_controller_is_read_from_the_newest_quorum_state(tmp_path: Path) -> None:
    cluster = KafkaCluster(brokers=3, data_dir=tmp_path)
    nodes = [EmbeddedKafka(data_dir=tmp_path / f"node-{n}", node_id=n) for n in (1, 2, 3)]
    cluster._nodes = nodes
    assert cluster.controller_leader() is None
    for node, (epoch, leader) in zip(nodes, [(4, 1), (5, 3), (5, 3)], strict=True):
        folder = node.data_dir / "kraft" / "__cluster_metadata-0"
        folder.mkdir(parents=True)
        state = {"leaderId": leader, "leaderEpoch": epoch, "votedId": -1, "data_version": 0}
        (folder / "quorum-state").write_text(json.dumps(state), encoding="utf-8")
    assert cluster.controller_leader() == 3


@pytest.mark.parametrize("value", ["0", "6", "three"])
def test_broker_count_is_one_to_five(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["broker", "start", "--brokers", value])
    assert raised.value.code == 2
    assert "brokers must be 1 to 5" in capsys.readouterr().err


def test_up_and_broker_start_take_brokers() -> None:
    parser = build_parser()
    assert parser.parse_args(["up", "--brokers", "3"]).brokers == 3
    assert parser.parse_args(["broker", "start", "--brokers", "3"]).brokers == 3
    assert parser.parse_args(["broker", "start"]).brokers == 1
    assert parser.parse_args(["broker", "start"]).heap is None  # chosen by the node count


def test_the_services_get_the_clusters_replication_settings() -> None:
    env = {"TOPIC_REPLICATION_FACTOR": "3", "TOPIC_MIN_INSYNC_REPLICAS": "2", "PATH": "/bin"}
    services = stack._services("127.0.0.1:1,127.0.0.1:2,127.0.0.1:3", workers=1, env=env)
    assert {service.name for service in services} == {"results", "worker", "audio", "ingress"}
    for service in services:
        assert service.env["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3"
        assert service.env["TOPIC_REPLICATION_FACTOR"] == "3"
        assert service.env["TOPIC_MIN_INSYNC_REPLICAS"] == "2"

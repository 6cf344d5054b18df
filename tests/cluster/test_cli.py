"""``python -m bot.cluster``'s command line and what it prints, without starting anything."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.cluster.__main__ import banner, parse_args
from bot.cluster.cluster import Cluster, ClusterOptions, masked
from bot.config import load_settings


def test_the_defaults_are_two_replicas_one_action_server_on_cluster_port() -> None:
    """CLUSTER_PORT is the front's port unless --port says otherwise."""
    args = parse_args(["run"], load_settings({"CLUSTER_PORT": "5400"}))
    assert (args.replicas, args.action_servers, args.port) == (2, 1, 5400)
    args = parse_args(["run", "--replicas", "3", "--action-servers", "2", "--port", "6000"],
                      load_settings({}))
    assert (args.replicas, args.action_servers, args.port) == (3, 2, 6000)


@pytest.mark.parametrize("flags", [["--replicas", "0"], ["--action-servers", "0"]])
def test_a_cluster_needs_at_least_one_of_each(flags: list[str]) -> None:
    """Zero replicas or action servers is refused before anything starts."""
    with pytest.raises(SystemExit):
        parse_args(["run", *flags], load_settings({}))


def test_printed_urls_hide_their_passwords() -> None:
    """The banner shows where the stores are, never their passwords."""
    assert "s3cret" not in masked("postgresql://postgres:s3cret@127.0.0.1:5433/postgres")
    assert "s3cret" not in masked("redis://:s3cret@127.0.0.1:6380/0")
    assert masked("redis://127.0.0.1:6380/0") == "redis://127.0.0.1:6380/0"


def test_the_banner_says_where_to_go_without_secrets(tmp_path: Path) -> None:
    """Front, stats page, workbench, demo logins, RASA_REPLICAS; passwords stay in files."""
    settings = load_settings({"RASA_TOKEN": "t-rasa", "ACTION_TOKEN": "t-act",
                              "REST_TOKEN": "t-rest"})
    cluster = Cluster(ClusterOptions(model=tmp_path / "m.tar.gz", front_port=5400,
                                     workbench_port=8400, workdir=tmp_path), settings)
    cluster.database_url = "postgresql://postgres:pg-secret@127.0.0.1:5433/postgres"
    cluster.redis_url = "redis://:redis-secret@127.0.0.1:6380/0"
    text = banner(cluster, settings)
    assert "http://127.0.0.1:5400" in text and "http://127.0.0.1:5401/" in text
    assert "http://localhost:8400/" in text and "demo-agent-2026" in text
    assert "RASA_REPLICAS=" in text
    for secret in ("pg-secret", "redis-secret", cluster.stats_password, "t-rasa"):
        assert secret not in text

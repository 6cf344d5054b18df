"""``python -m bot.cluster run [--replicas N] [--action-servers M]`` (what ``make cluster`` calls).

Starts N Rasa replicas and M action servers behind HAProxy (Debian package), and one workbench,
on PostgreSQL (tracker store and operational store) and Redis (Rasa's lock store, WeChat message
ids): DATABASE_URL / REDIS_URL when they name them, else a private PostgreSQL and Redis under
var/cluster/. Everything listens on 127.0.0.1. HAProxy sends each customer to one replica (a
consistent hash of the WeChat openid or REST sender, see bot/cluster/haproxy.py); a child that
dies is restarted with back-off. Runs until Ctrl-C or SIGTERM, which stop everything.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from typing import Optional, Sequence

from bot.cluster.cluster import Cluster, ClusterOptions, environment_summary, masked
from bot.config import PROJECT_ROOT, RASA_TOKEN_HEADER, Settings, load_settings
from bot.launcher import DEMO_USERS, model_in_service

logger = logging.getLogger("postdesk.cluster")


def parse_args(argv: Optional[Sequence[str]], settings: Settings) -> argparse.Namespace:
    """The command line (ports default to the settings: CLUSTER_PORT, WORKBENCH_PORT)."""
    parser = argparse.ArgumentParser(prog="python -m bot.cluster", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start the cluster and keep it running")
    run.add_argument("--replicas", type=int, default=2, help="Rasa servers (default 2)")
    run.add_argument("--action-servers", type=int, default=1, help="action servers (default 1)")
    run.add_argument("--port", type=int, default=settings.cluster_port,
                     help="HAProxy's front port (CLUSTER_PORT, default %(default)s); the stats "
                          "page is on the next one")
    run.add_argument("--workbench-port", type=int, default=settings.workbench_port)
    run.add_argument("--model", type=Path, default=None,
                     help="default: the deployed model, else models/postdesk.tar.gz")
    run.add_argument("--workdir", type=Path, default=PROJECT_ROOT / "var" / "cluster",
                     help="configuration, logs and the private engines' data")
    args = parser.parse_args(argv)
    if args.replicas < 1 or args.action_servers < 1:
        parser.error("--replicas and --action-servers must be at least 1")
    return args


def banner(cluster: Cluster, settings: Settings) -> str:
    """What is running and where to go."""
    env = environment_summary(cluster)
    replicas = "\n".join(f"    rasa{i + 1}  {url}" for i, url in enumerate(cluster.replica_urls))
    return f"""
PostDesk cluster is running ({len(cluster.replicas)} Rasa replicas, \
{len(cluster.action_stacks)} action server(s), HAProxy in front).
  Front (HAProxy)  {cluster.front_url}   customers and tools: /webhooks/rest/webhook,
                   /webhooks/wechat/webhook, Rasa's API (token in the {RASA_TOKEN_HEADER} header)
  HAProxy stats    {cluster.stats_url}   user postdesk, password in
                   {cluster.workdir / 'stats_password'}
  Workbench        http://localhost:{cluster.options.workbench_port}/   {DEMO_USERS}
  Rasa replicas (each one directly; RASA_REPLICAS for the trainer's deploy):
{replicas}
  Stores           PostgreSQL {masked(cluster.database_url)}   Redis {masked(cluster.redis_url)}
To point the trainer or another workbench at this cluster:
  export RASA_URL={env['RASA_URL']} RASA_REPLICAS={env['RASA_REPLICAS']}
Try:
  curl -s {cluster.front_url}/webhooks/rest/webhook -H 'Content-Type: application/json' \\
       -d '{{"sender": "demo", "message": "EA000000005CN到哪了"}}' -D - | grep -i replica
Press Ctrl-C to stop.
"""


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the cluster until interrupted; returns the exit status."""
    settings = load_settings()
    args = parse_args(argv, settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    model = args.model or model_in_service(settings.model_registry)
    if not model.exists():
        logger.error("no model at %s: run 'make train' first", model)
        return 1
    options = ClusterOptions(
        model=model, replicas=args.replicas, action_servers=args.action_servers,
        front_port=args.port, workbench_port=args.workbench_port, workdir=args.workdir,
        database_url=settings.database_url if settings.database_url.startswith("postgresql")
        else "",
        redis_url=settings.redis_url)
    cluster = Cluster(options, settings)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        cluster.start()
        print(banner(cluster, settings), flush=True)
        cluster.supervise().run()
        return 0
    except RuntimeError as exc:
        logger.error("the cluster did not start: %s", exc)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        cluster.close()


if __name__ == "__main__":
    sys.exit(main())

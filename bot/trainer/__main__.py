"""``python -m bot.trainer retrain|deploy|rollback|models|collect|export``.

- ``retrain [--no-deploy] [--data DIR] [--config FILE] [--domain FILE]``: validate, train,
  evaluate on the held-out split, gate against the model in service, deploy if no worse.
- ``deploy ID [--force]``: put a registered model into service on the running Rasa server
  (``--force`` for one the gate refused).
- ``rollback``: back to the model in service before the current one.
- ``models``: the registry, newest first.
- ``collect`` / ``export``: the trainers' inbox (bot/trainer/inbox.py, bot/trainer/export.py).

The Rasa server is ``RASA_URL`` with ``RASA_TOKEN`` (or ``var/rasa_token``, which ``make run``
writes).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Sequence

from bot.config import PROJECT_ROOT, load_settings, local_now
from bot.trainer.registry import Registry, RegistryError

if TYPE_CHECKING:
    from bot.trainer.deploy import RasaAdmin

EXIT_ERROR = 2


def admin_client() -> RasaAdmin:
    """The running Rasa server as configured (token from the settings or var/rasa_token)."""
    from bot.trainer.deploy import RasaAdmin

    settings = load_settings()
    token = settings.rasa_token
    token_file = PROJECT_ROOT / "var" / "rasa_token"
    if not token and token_file.exists():
        token = token_file.read_text().strip()
    return RasaAdmin(settings.rasa_url, token)


def _deployer(registry: Registry, force: bool = False) -> Callable[[int], str]:
    """The deploy step of ``retrain``: puts a model in service and says where."""
    from bot.trainer.deploy import deploy

    def run(model_id: int) -> str:
        done = deploy(registry, model_id, admin_client(), local_now(), force=force)
        name = Path(done.record.file).name
        if done.live:
            return f"model {model_id} ({name}) is now in service on {admin_client().base_url}"
        return (f"model {model_id} ({name}) recorded as deployed; no Rasa server answered at "
                f"{admin_client().base_url}, so `make run` will start with it")

    return run


def show_models(registry: Registry) -> str:
    """The registry as a table, newest first."""
    rows = ["id  status     macro-F1  trained              data      file"]
    for r in reversed(registry.all()):
        macro = f"{r.macro_f1:.4f}" if r.macro_f1 is not None else "   -  "
        rows.append(f"{r.id:<3} {r.status:<10} {macro:<9} {r.trained_at:<20} {r.data_hash[:8]}  "
                    f"{Path(r.file).name}" + (f"  [{r.note}]" if r.note else ""))
        rows += [f"      refused: {reason}" for reason in r.reasons if r.status == "refused"]
    return "\n".join(rows) if len(rows) > 1 else "the registry is empty"


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one command of ``python -m bot.trainer``; returns the process exit status."""
    parser = argparse.ArgumentParser(prog="python -m bot.trainer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", type=Path, default=None, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)
    retrain = sub.add_parser("retrain", help="train, evaluate, gate and deploy")
    retrain.add_argument("--no-deploy", action="store_true")
    retrain.add_argument("--data", type=Path, default=PROJECT_ROOT / "data")
    retrain.add_argument("--config", type=Path, default=PROJECT_ROOT / "config.yml")
    retrain.add_argument("--domain", type=Path, default=PROJECT_ROOT / "domain.yml")
    retrain.add_argument("--heldout", type=Path, default=PROJECT_ROOT / "tests" / "nlu")
    retrain.add_argument("--out", type=Path, default=PROJECT_ROOT / "models" / "candidates",
                         help="where candidate models are written")
    deploy = sub.add_parser("deploy", help="put a registered model into service")
    deploy.add_argument("model_id", type=int)
    deploy.add_argument("--force", action="store_true", help="also a model the gate refused")
    sub.add_parser("rollback", help="back to the previous model")
    sub.add_parser("models", help="list the registry")
    sub.add_parser("collect", help="fill the trainers' inbox", add_help=False)
    sub.add_parser("export", help="write reviewed examples to data/nlu", add_help=False)
    args, rest = parser.parse_known_args(argv)
    registry = Registry(args.registry or load_settings().model_registry)

    if args.command == "collect":
        from bot.trainer.collect import main_collect

        return main_collect(rest)
    if args.command == "export":
        from bot.trainer.export import main_export

        return main_export(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        if args.command == "retrain":
            from bot.trainer.retrain import Inputs
            from bot.trainer.retrain import retrain as run_retrain

            inputs = Inputs(args.config, args.domain, args.data, args.heldout, args.out)
            return run_retrain(inputs, registry, None if args.no_deploy else _deployer(registry))
        if args.command == "deploy":
            print(_deployer(registry, args.force)(args.model_id))
            return 0
        if args.command == "rollback":
            from bot.trainer.deploy import rollback

            done = rollback(registry, admin_client(), local_now())
            where = "now in service" if done.live else "recorded as deployed (no server running)"
            print(f"rolled back to model {done.record.id} ({Path(done.record.file).name}): {where}")
            return 0
        print(show_models(registry))
        return 0
    except RegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except RuntimeError as exc:  # DeployError
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())

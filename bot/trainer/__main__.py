"""``python -m bot.trainer retrain|deploy|rollback|models|collect|export``.

- ``retrain [--no-deploy] [--data DIR] [--config FILE] [--domain FILE]``: validate, train,
  evaluate on the held-out split, gate against the model in service, deploy if no worse.
- ``deploy ID [--force]``: put a registered model into service on the running Rasa servers,
  replica after replica (``--force`` for one the gate refused).
- ``rollback``: back to the model in service before the current one (on every replica).
- ``models``: the registry, newest first, and which replica serves which model.
- ``status``: ask every replica which model it serves now, next to what the registry says.
- ``collect`` / ``export``: the trainers' inbox (bot/trainer/inbox.py, bot/trainer/export.py).

The Rasa server is ``RASA_URL`` with ``RASA_TOKEN`` or ``RASA_TOKEN_FILE`` (else ``var/rasa_token``,
which ``make run`` writes).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Sequence

from bot.config import PROJECT_ROOT, load_settings, local_now, rasa_api_token
from bot.trainer.registry import Registry, RegistryError

if TYPE_CHECKING:
    from bot.trainer.deploy import RasaAdmin

EXIT_ERROR = 2


def admin_client() -> RasaAdmin:
    """The running Rasa server as configured (token as `make run` gives it, see
    :func:`bot.config.rasa_api_token`)."""
    from bot.trainer.deploy import RasaAdmin

    settings = load_settings()
    return RasaAdmin(settings.rasa_url, rasa_api_token(settings))


def admin_clients() -> list[RasaAdmin]:
    """Every Rasa replica a deploy rolls over (RASA_REPLICAS, else RASA_URL), in that order."""
    from bot.trainer.deploy import RasaAdmin, replica_urls

    token = admin_client().token
    return [RasaAdmin(url, token) for url in replica_urls(load_settings())]


def _deployer(registry: Registry, force: bool = False) -> Callable[[int], str]:
    """The deploy step of ``retrain``: puts a model in service and says where."""
    from bot.trainer.deploy import deploy

    def run(model_id: int) -> str:
        admins = admin_clients()
        done = deploy(registry, model_id, admins, local_now(), force=force)
        name = Path(done.record.file).name
        where = ", ".join(a.base_url for a in admins)
        if done.live:
            return f"model {model_id} ({name}) is now in service on {where}"
        return (f"model {model_id} ({name}) recorded as deployed; no Rasa server answered at "
                f"{where}, so `make run` will start with it")

    return run


def show_models(registry: Registry) -> str:
    """The registry as a table, newest first."""
    rows = ["id  status     macro-F1  trained              data      file"]
    for r in reversed(registry.all()):
        macro = f"{r.macro_f1:.4f}" if r.macro_f1 is not None else "   -  "
        rows.append(f"{r.id:<3} {r.status:<10} {macro:<9} {r.trained_at:<20} {r.data_hash[:8]}  "
                    f"{Path(r.file).name}" + (f"  [{r.note}]" if r.note else ""))
        rows += [f"      refused: {reason}" for reason in r.reasons if r.status == "refused"]
    if len(rows) == 1:
        return "the registry is empty"
    return "\n".join(rows + replica_lines(registry))


def replica_lines(registry: Registry) -> list[str]:
    """Which replica serves which model, as the last deploy left them (none: no lines)."""
    replicas = registry.replicas()
    if not replicas:
        return []
    names = {r.id: Path(r.file).name for r in registry.all()}
    return ["", "replica                        model"] + [
        f"{url:<30} {model} ({names.get(model, '?')})" for url, model in replicas.items()]


def show_status(registry: Registry, admins: Sequence[RasaAdmin]) -> tuple[str, bool]:
    """Each replica's model now (its /status), next to the registry's; and whether all agree."""
    from bot.trainer.deploy import DeployError

    deployed = registry.deployed()
    recorded = registry.replicas()
    names = {r.id: Path(r.file).name for r in registry.all()}
    rows = [f"in service: model {deployed.id} ({names[deployed.id]})" if deployed
            else "in service: no model deployed with python -m bot.trainer"]
    agree = True
    for admin in admins:
        try:
            status = admin.status()
            serving = status.get("model_file") if status is not None else None
            now = f"serves {serving}" if status is not None else "does not answer"
        except DeployError as exc:
            serving, now = None, f"error: {exc}"
        model = recorded.get(admin.base_url, deployed.id if deployed else None)
        expected = names.get(model) if model is not None else None
        ok = expected is None or serving == expected
        agree = agree and ok
        rows.append(f"{admin.base_url:<30} {now}" + ("" if ok else
                    f"  (registry: model {model}, {expected})"))
    return "\n".join(rows), agree


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
    sub.add_parser("status", help="which model each Rasa replica serves now")
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

            done = rollback(registry, admin_clients(), local_now())
            where = "now in service" if done.live else "recorded as deployed (no server running)"
            print(f"rolled back to model {done.record.id} ({Path(done.record.file).name}): {where}")
            return 0
        if args.command == "status":
            text, agree = show_status(registry, admin_clients())
            print(text)
            return 0 if agree else 1
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

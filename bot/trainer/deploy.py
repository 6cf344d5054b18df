"""Put a registered model into service on the running Rasa server, or go back to the previous one.

The swap is Rasa's ``PUT /model`` (token required): the server loads the new archive and
replaces its agent; a message being handled finishes on the old model, the next one uses the
new. Conversations live in the SQL tracker store, not in the agent, so a conversation in the
middle of a form goes on with the new model. The server is asked for its ``/status`` afterwards:
the deploy is only recorded when the server reports the new file.

When no server is running the model is recorded as deployed and `make run` (bot/launcher.py)
starts with it.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.config import RASA_TOKEN_HEADER as TOKEN_HEADER
from bot.trainer.registry import REFUSED, ModelRecord, Registry, RegistryError

LOAD_TIMEOUT_S = 300.0


class DeployError(RuntimeError):
    """The server refused or failed to load the model; nothing was recorded."""


@dataclass(frozen=True)
class Deployment:
    """What a deploy did."""

    record: ModelRecord
    live: bool  # False: no server answered; recorded for the next start


class RasaAdmin:
    """The model routes of Rasa's HTTP API."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token

    def _call(self, method: str, path: str, body: Any = None,
              timeout: float = 30.0) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.base_url}{path}", data=data, method=method,
            headers={"Content-Type": "application/json", TOKEN_HEADER: self.token})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return exc.code, json.loads(raw) if raw else None
            except json.JSONDecodeError:
                return exc.code, raw.decode(errors="replace")

    def status(self) -> dict[str, Any] | None:
        """The server's /status, or None when no server answers."""
        try:
            code, body = self._call("GET", "/status", timeout=5.0)
        except (urllib.error.URLError, OSError):
            return None
        if code != 200:
            raise DeployError(f"the Rasa server answered /status with {code}: {body}")
        return body

    def load(self, model_file: Path) -> None:
        """Have the server load `model_file` (an absolute path on the server's machine)."""
        code, body = self._call("PUT", "/model", {"model_file": str(model_file)},
                                timeout=LOAD_TIMEOUT_S)
        if code != 204:
            raise DeployError(f"the Rasa server could not load {model_file.name}: {code} {body}")


def deploy(registry: Registry, model_id: int, admin: RasaAdmin, now: datetime,
           force: bool = False, rollback: bool = False) -> Deployment:
    """Put model `model_id` into service.

    Raises:
        RegistryError: unknown model, or a refused one without `force`.
        DeployError: its file is missing, or the server could not load it.
    """
    record = registry.get(model_id)
    if record.status == REFUSED and not force:
        raise RegistryError(f"model {model_id} was refused by the gate "
                            f"({'; '.join(record.reasons)}); use --force to deploy it anyway")
    file = Path(record.file)
    if not file.is_file():
        raise DeployError(f"model file {file} is missing")
    if admin.status() is None:
        return Deployment(registry.mark_deployed(model_id, now, rollback=rollback), live=False)
    admin.load(file)
    status = admin.status() or {}
    if status.get("model_file") != file.name:
        raise DeployError(f"the server reports {status.get('model_file')!r} after loading "
                          f"{file.name!r}")
    return Deployment(registry.mark_deployed(model_id, now, rollback=rollback), live=True)


def rollback(registry: Registry, admin: RasaAdmin, now: datetime) -> Deployment:
    """Go back to the model that was in service before the current one.

    Raises:
        RegistryError: nothing is deployed, or the current model has no predecessor.
    """
    current = registry.deployed()
    if current is None:
        raise RegistryError("no model is deployed: nothing to roll back")
    if current.previous is None:
        raise RegistryError(f"model {current.id} has no previous model to roll back to")
    return deploy(registry, current.previous, admin, now, force=True, rollback=True)

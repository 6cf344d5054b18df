"""Put a registered model into service on the running Rasa servers, or go back to the previous one.

The swap is Rasa's ``PUT /model`` (token required): the server loads the new archive and
replaces its agent; a message being handled finishes on the old model, the next one uses the
new. Conversations live in the SQL tracker store, not in the agent, so a conversation in the
middle of a form goes on with the new model.

With several replicas (RASA_REPLICAS; by default the one RASA_URL) the deploy rolls over them
one by one, in the configured order: every replica must answer ``/status`` first (else nothing
is switched); then each loads the model and the next is only touched once this one reports the
new file in ``/status``. If a replica fails, the deploy stops, the replicas already switched
(and the failing one, if it did switch) load the model they served before, the error is raised
and the registry keeps the old model in service; it records what each replica serves either way.

When no server is running the model is recorded as deployed and `make run` (bot/launcher.py)
starts with it.
"""
from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from bot.config import RASA_TOKEN_HEADER as TOKEN_HEADER
from bot.config import Settings
from bot.trainer.registry import DEPLOYED, REFUSED, ModelRecord, Registry, RegistryError

logger = logging.getLogger(__name__)

LOAD_TIMEOUT_S = 300.0
# After PUT /model answered: how long a replica may take to report the new file in /status.
SETTLE_TIMEOUT_S = 30.0


class DeployError(RuntimeError):
    """The server refused or failed to load the model; nothing was recorded."""


@dataclass(frozen=True)
class Deployment:
    """What a deploy did."""

    record: ModelRecord
    live: bool  # False: no server answered; recorded for the next start
    replicas: dict[str, int] = field(default_factory=dict)  # base URL -> model id served


def replica_urls(settings: Settings) -> list[str]:
    """The Rasa servers a deploy rolls over: RASA_REPLICAS, else the one RASA_URL."""
    return list(settings.rasa_replicas) or [settings.rasa_url]


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
        try:
            code, body = self._call("PUT", "/model", {"model_file": str(model_file)},
                                    timeout=LOAD_TIMEOUT_S)
        except (urllib.error.URLError, OSError) as exc:
            raise DeployError(f"{self.base_url} did not answer loading {model_file.name}: "
                              f"{exc}") from None
        if code != 204:
            raise DeployError(f"{self.base_url} could not load {model_file.name}: {code} {body}")

    def wait_until_serving(self, model_file: str, timeout_s: float = SETTLE_TIMEOUT_S,
                           poll_s: float = 0.2) -> dict[str, Any]:
        """Poll /status until the server reports `model_file` (a file name); returns /status.

        Raises:
            DeployError: it reports another file (or does not answer) after `timeout_s`.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            status = self.status()
            if status is not None and status.get("model_file") == model_file:
                return status
            if time.monotonic() >= deadline:
                serving = repr(status.get("model_file")) if status is not None else "nothing"
                raise DeployError(f"{self.base_url} reports {serving} {timeout_s:.0f} s after "
                                  f"loading {model_file!r}")
            time.sleep(poll_s)


def deploy(registry: Registry, model_id: int, admin: RasaAdmin | Sequence[RasaAdmin],
           now: datetime, force: bool = False, rollback: bool = False,
           settle_s: float = SETTLE_TIMEOUT_S) -> Deployment:
    """Put model `model_id` into service on every replica, one after the other.

    Args:
        admin: the Rasa server, or the replicas in the order they are switched.
        settle_s: how long a replica may take to report the new model after loading it.

    Raises:
        RegistryError: unknown model, or a refused one without `force`.
        DeployError: its file is missing; some replicas answer and others not (nothing was
            switched); or a replica could not load it (the others were switched back).
    """
    record = registry.get(model_id)
    if record.status == REFUSED and not force:
        raise RegistryError(f"model {model_id} was refused by the gate "
                            f"({'; '.join(record.reasons)}); use --force to deploy it anyway")
    file = Path(record.file)
    if not file.is_file():
        raise DeployError(f"model file {file} is missing")
    admins = [admin] if isinstance(admin, RasaAdmin) else list(admin)
    statuses = {a.base_url: a.status() for a in admins}
    silent = [url for url, status in statuses.items() if status is None]
    if len(silent) == len(admins):
        return Deployment(registry.mark_deployed(model_id, now, rollback=rollback, replicas={}),
                          live=False)
    if silent:
        raise DeployError(f"Rasa replica(s) {', '.join(silent)} do not answer; no replica was "
                          "switched (start them, or leave them out of RASA_REPLICAS)")
    before = {url: _serving(registry, status) for url, status in statuses.items()}
    switched: list[RasaAdmin] = []
    for replica in admins:
        if (statuses[replica.base_url] or {}).get("model_file") == file.name:
            continue  # already serves it (e.g. the rest of a deploy that failed half-way)
        try:
            replica.load(file)
            replica.wait_until_serving(file.name, timeout_s=settle_s)
        except DeployError as exc:
            _undo(registry, model_id, file, admins, switched + [replica], before, settle_s, exc)
        switched.append(replica)
        logger.info("model %s (%s) in service on %s", model_id, file.name, replica.base_url)
    replicas = {a.base_url: model_id for a in admins}
    return Deployment(registry.mark_deployed(model_id, now, rollback=rollback, replicas=replicas),
                      live=True, replicas=replicas)


def _serving(registry: Registry, status: dict[str, Any] | None) -> ModelRecord | None:
    """The registered model a replica's /status names: the newest record with that file name,
    the one in service first; else the model in service (what it must go back to)."""
    name = (status or {}).get("model_file")
    records = sorted(registry.all(), key=lambda r: (r.status == DEPLOYED, r.id), reverse=True)
    return next((r for r in records if Path(r.file).name == name), registry.deployed())


def _undo(registry: Registry, model_id: int, file: Path, admins: Sequence[RasaAdmin],
          touched: Sequence[RasaAdmin], before: dict[str, ModelRecord | None], settle_s: float,
          cause: DeployError) -> None:
    """A replica failed: switch the touched replicas back, record them, raise the error."""
    failed = touched[-1]
    serving = {a.base_url: before[a.base_url] for a in admins}
    new_ones = list(touched[:-1])
    try:
        if (failed.status() or {}).get("model_file") == file.name:
            new_ones.append(failed)  # it loaded the model after all
    except DeployError:
        pass
    stuck: dict[str, str] = {}  # base URL -> why it could not go back
    for replica in reversed(new_ones):
        previous = before[replica.base_url]
        try:
            if previous is None:
                raise DeployError("no registered model to go back to")
            replica.load(Path(previous.file))
            replica.wait_until_serving(Path(previous.file).name, timeout_s=settle_s)
            logger.warning("rolled %s back to model %s", replica.base_url, previous.id)
        except DeployError as exc:
            logger.error("could not roll %s back: %s", replica.base_url, exc)
            stuck[replica.base_url] = str(exc)
            serving[replica.base_url] = registry.get(model_id)
    registry.set_replicas({url: r.id for url, r in serving.items() if r is not None})
    message = f"deploy of model {model_id} stopped at {failed.base_url}: {cause}"
    if new_ones:
        back = [a.base_url for a in new_ones if a.base_url not in stuck]
        message += f"; switched back: {', '.join(back) or 'none'}"
    if stuck:
        message += f"; STILL SERVING model {model_id}: " + "; ".join(
            f"{url} ({why})" for url, why in stuck.items())
    raise DeployError(message) from cause


def rollback(registry: Registry, admin: RasaAdmin | Sequence[RasaAdmin],
             now: datetime) -> Deployment:
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

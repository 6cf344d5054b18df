"""The model registry: every model a trainer trained, with its data hash, metrics and time, and
which one the Rasa server answers with.

It is a JSON file next to the models (``models/registry.json``), written atomically (a temporary
file renamed over it) under an exclusive lock, so two trainers' commands cannot interleave.
Records are never deleted; a model's status is ``candidate`` (trained, not yet judged),
``refused`` (the gate said no, with its reasons), ``deployed`` (the one in service; at most one),
or ``retired`` (was deployed before). ``previous`` points at the model that was in service when
this one was deployed: ``rollback`` goes back along it.

With several Rasa replicas (RASA_REPLICAS) the file also says which replica serves which model
(``"replicas": {base URL: model id}``), as the last deploy left them: after a deploy that failed
half-way and was rolled back, this is where a replica that could not be switched back shows.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from bot.config import PROJECT_ROOT

REGISTRY = PROJECT_ROOT / "models" / "registry.json"
# What a model is trained from (the Makefile's TRAIN_INPUTS): its hash names the data.
TRAIN_INPUTS = ("config.yml", "domain.yml", "data", "bot/nlu/postal_entities.py",
                "bot/nlu/intent_blend.py", "bot/nlu/scoped_fallback.py",
                "bot/dialogue/cached_ted.py", "bot/text/tracking.py", "bot/text/phones.py",
                "bot/text/gazetteer.py", "bot/text/lexicon.py", "bot/text/pinyin.py")

CANDIDATE, REFUSED, DEPLOYED, RETIRED = "candidate", "refused", "deployed", "retired"


class RegistryError(ValueError):
    """A registry operation that cannot be done (unknown model, nothing to roll back to)."""


@dataclass(frozen=True)
class ModelRecord:
    """One trained model.

    Attributes:
        id: 1, 2, ... in order of registration.
        file: the model archive (absolute path).
        data_hash: SHA-256 of everything it was trained from (`data_hash`).
        trained_at: when it was registered (Beijing time, ISO).
        metrics: ``macro_f1``, ``intents`` {intent: F1}, ``entities`` {entity: F1}, ``examples``.
        status: candidate / refused / deployed / retired.
        reasons: why the gate refused it (or why it was forced).
        deployed_at: when it last went into service.
        previous: the id that was in service when this one was deployed.
        note: free text (e.g. "baseline: models/postdesk.tar.gz").
    """

    id: int
    file: str
    data_hash: str
    trained_at: str
    metrics: dict[str, Any]
    status: str = CANDIDATE
    reasons: list[str] = field(default_factory=list)
    deployed_at: str | None = None
    previous: int | None = None
    note: str = ""

    @property
    def macro_f1(self) -> float | None:
        """The held-out macro F1 the model was scored with, if it was."""
        value = self.metrics.get("macro_f1")
        return float(value) if value is not None else None


def data_hash(paths: Iterable[Path] | None = None) -> str:
    """SHA-256 over the names and contents of every training input (folders recursively).

    Args:
        paths: files and folders; default the project's `TRAIN_INPUTS`.
    """
    digest = hashlib.sha256()
    for path in paths if paths is not None else (PROJECT_ROOT / n for n in TRAIN_INPUTS):
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if not file.exists():
                continue
            digest.update(str(file.relative_to(path.parent)).encode() + b"\0")
            digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()


class Registry:
    """The registry file; every method reads it fresh (another process may have changed it)."""

    def __init__(self, path: Path = REGISTRY) -> None:
        self.path = path

    @contextlib.contextmanager
    def _locked(self) -> Iterator[list[ModelRecord]]:
        """The records, under an exclusive lock; what the block leaves in the list is saved."""
        with self._locked_state() as (records, _):
            yield records

    @contextlib.contextmanager
    def _locked_state(self) -> Iterator[tuple[list[ModelRecord], dict[str, int]]]:
        """Records and the replicas' models, under the lock; changes to either are saved."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            records, replicas = self._read_state()
            before = ([asdict(r) for r in records], dict(replicas))
            yield records, replicas
            if ([asdict(r) for r in records], replicas) != before:
                content: dict[str, Any] = {"models": [asdict(r) for r in records]}
                if replicas:
                    content["replicas"] = replicas
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps(content, ensure_ascii=False, indent=2) + "\n")
                os.replace(tmp, self.path)

    def _read_state(self) -> tuple[list[ModelRecord], dict[str, int]]:
        if not self.path.exists():
            return [], {}
        raw = json.loads(self.path.read_text() or '{"models": []}')
        replicas = {str(url): int(model) for url, model in raw.get("replicas", {}).items()}
        return [ModelRecord(**r) for r in raw.get("models", [])], replicas

    def _read(self) -> list[ModelRecord]:
        return self._read_state()[0]

    def replicas(self) -> dict[str, int]:
        """Which Rasa replica (base URL) serves which model id, as the last deploy left them.

        Empty when no deploy reached a running server (`make run` starts with `deployed()`).
        """
        return self._read_state()[1]

    def set_replicas(self, replicas: Mapping[str, int]) -> None:
        """Record what each replica serves (after a rolling deploy that failed half-way)."""
        with self._locked_state() as (_, current):
            current.clear()
            current.update(replicas)

    def all(self) -> list[ModelRecord]:
        """Every record, oldest first."""
        return self._read()

    def get(self, model_id: int) -> ModelRecord:
        """The record of one model.

        Raises:
            RegistryError: no model has that id.
        """
        for record in self._read():
            if record.id == model_id:
                return record
        raise RegistryError(f"no model {model_id} in the registry")

    def deployed(self) -> ModelRecord | None:
        """The model in service, if any."""
        return next((r for r in self._read() if r.status == DEPLOYED), None)

    def register(self, file: Path, digest: str, metrics: dict[str, Any], now: datetime,
                 status: str = CANDIDATE, reasons: Iterable[str] = (),
                 note: str = "") -> ModelRecord:
        """Record a trained model; returns its record."""
        with self._locked() as records:
            record = ModelRecord(id=max((r.id for r in records), default=0) + 1,
                                 file=str(Path(file).resolve()), data_hash=digest,
                                 trained_at=now.isoformat(timespec="seconds"), metrics=metrics,
                                 status=status, reasons=list(reasons), note=note)
            records.append(record)
            return record

    def judge(self, model_id: int, refused: bool, reasons: Iterable[str]) -> ModelRecord:
        """Store the gate's verdict on a candidate."""
        with self._locked() as records:
            index = _index(records, model_id)
            records[index] = replace(records[index], status=REFUSED if refused else CANDIDATE,
                                     reasons=list(reasons))
            return records[index]

    def rescore(self, model_id: int, metrics: dict[str, Any]) -> ModelRecord:
        """Replace a model's scores with ones taken again (on evaluation sets that changed)."""
        with self._locked() as records:
            index = _index(records, model_id)
            records[index] = replace(records[index], metrics=metrics)
            return records[index]

    def mark_deployed(self, model_id: int, now: datetime, rollback: bool = False,
                      replicas: Mapping[str, int] | None = None) -> ModelRecord:
        """`model_id` is now in service; the one before is retired and remembered as previous.

        Args:
            rollback: going back: the model keeps its own `previous`, so repeated rollbacks
                walk back through the history.
            replicas: what each Rasa replica now serves (replaces the recorded map); None
                leaves the map as it is.
        """
        with self._locked_state() as (records, recorded_replicas):
            index = _index(records, model_id)
            if replicas is not None:
                recorded_replicas.clear()
                recorded_replicas.update(replicas)
            current = next((i for i, r in enumerate(records) if r.status == DEPLOYED), None)
            if current is not None and records[current].id == model_id:
                return records[index]
            if current is not None:
                records[current] = replace(records[current], status=RETIRED)
            before = records[current].id if current is not None else None
            records[index] = replace(
                records[index], status=DEPLOYED, deployed_at=now.isoformat(timespec="seconds"),
                previous=records[index].previous if rollback else before)
            return records[index]


def _index(records: list[ModelRecord], model_id: int) -> int:
    for i, record in enumerate(records):
        if record.id == model_id:
            return i
    raise RegistryError(f"no model {model_id} in the registry")

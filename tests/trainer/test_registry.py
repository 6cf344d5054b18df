"""The model registry and the deployment gate (no training here: see test_retrain.py)."""
from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.trainer import gate
from bot.trainer.__main__ import main as trainer_main
from bot.trainer.deploy import DeployError, RasaAdmin, deploy, rollback
from bot.trainer.registry import Registry, RegistryError, data_hash

NOW = datetime(2026, 11, 26, 10, 0)
DEPLOYED = {"macro_f1": 0.91, "intents": {"track_mail": 0.95, "greet": 0.90, "lost_item": 0.80}}


def metrics(macro: float, **intents: float) -> dict:
    return {"macro_f1": macro, "intents": {**DEPLOYED["intents"], **intents}}


def test_an_equal_or_better_model_passes() -> None:
    assert gate.judge(metrics(0.91), DEPLOYED).deploy
    verdict = gate.judge(metrics(0.93, lost_item=0.85), DEPLOYED)
    assert verdict.deploy and verdict.reasons == [] and verdict.intent_deltas["lost_item"] == 0.05
    assert gate.judge(metrics(0.5), None).deploy  # the first model has nothing to beat


def test_a_lower_macro_f1_is_refused_with_the_figures() -> None:
    verdict = gate.judge(metrics(0.905), DEPLOYED)
    assert not verdict.deploy
    assert verdict.reasons == ["intent macro-F1 dropped from 0.9100 to 0.9050 (-0.5 points)"]
    assert "gate: REFUSED" in gate.report(verdict)


def test_one_intent_dropping_more_than_three_points_is_refused_by_name() -> None:
    verdict = gate.judge(metrics(0.92, greet=0.86, lost_item=0.77), DEPLOYED)
    assert not verdict.deploy
    assert verdict.reasons == [
        "intent greet: F1 dropped from 0.9000 to 0.8600 (-4.0 points, more than 3)"]
    # Exactly three points is allowed; an intent the candidate lost entirely counts as 0.
    assert gate.judge(metrics(0.92, lost_item=0.77), DEPLOYED).deploy
    missing = {"macro_f1": 0.95, "intents": {"track_mail": 0.95, "greet": 0.9}}
    assert "intent lost_item" in gate.judge(missing, DEPLOYED).reasons[0]


def test_lower_accuracy_on_the_realistic_set_is_refused() -> None:
    deployed = {**DEPLOYED, "realistic_accuracy": 0.9763}
    better = {**metrics(0.93), "realistic_accuracy": 0.9763}
    worse = {**metrics(0.93), "realistic_accuracy": 0.9720}
    assert gate.judge(better, deployed).deploy
    verdict = gate.judge(worse, deployed)
    assert verdict.reasons == [
        "accuracy on the realistic set dropped from 0.9763 to 0.9720 (-0.4 points)"]
    # A model recorded before the realistic set existed is compared on the held-out split only.
    assert gate.judge(worse, DEPLOYED).deploy


def test_the_conversations_set_refuses_a_drop_beyond_its_tolerance() -> None:
    deployed = {**DEPLOYED, "conversations_accuracy": 0.7060}  # 341 of 483
    within = {**metrics(0.91), "conversations_accuracy": 0.6874}  # 9 messages fewer
    beyond = {**metrics(0.91), "conversations_accuracy": 0.6853}  # 10 fewer
    assert gate.judge(within, deployed).deploy
    verdict = gate.judge(beyond, deployed)
    assert not verdict.deploy
    assert verdict.reasons == ["accuracy on the conversations set dropped from 0.7060 to "
                               "0.6853 (-2.1 points, more than 2)"]
    assert "gate: REFUSED" in gate.report(verdict)
    # Only where both models were scored on it, and the tolerance is the caller's to set.
    assert gate.judge(beyond, DEPLOYED).deploy
    assert not gate.judge(within, deployed, conversations_tolerance=0.0).deploy


def test_the_data_hash_changes_with_any_input(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.yml").write_text("nlu: []\n")
    (tmp_path / "config.yml").write_text("pipeline: []\n")
    inputs = [tmp_path / "config.yml", tmp_path / "data"]
    first = data_hash(inputs)
    assert data_hash(inputs) == first
    (tmp_path / "data" / "a.yml").write_text("nlu: [x]\n")
    assert data_hash(inputs) != first


def _models(tmp_path: Path, registry: Registry, *names: str) -> list[int]:
    ids = []
    for i, name in enumerate(names):
        file = tmp_path / f"{name}.tar.gz"
        file.write_bytes(b"model " + name.encode())
        ids.append(registry.register(file, f"hash{i}", metrics(0.9), NOW + timedelta(hours=i)).id)
    return ids


class OfflineServer(RasaAdmin):
    """No Rasa server answers: deploys are recorded for the next start."""

    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:9", "t")

    def status(self) -> None:  # type: ignore[override]
        return None


def test_deploy_and_rollback_walk_the_history(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.json")
    a, b, c = _models(tmp_path, registry, "a", "b", "c")
    server = OfflineServer()
    for model in (a, b, c):
        assert not deploy(registry, model, server, NOW).live
    assert registry.deployed().id == c and registry.get(c).previous == b
    assert rollback(registry, server, NOW).record.id == b
    assert rollback(registry, server, NOW).record.id == a
    assert [r.status for r in registry.all()] == ["deployed", "retired", "retired"]
    with pytest.raises(RegistryError, match="no previous"):
        rollback(registry, server, NOW)
    # Everything is on disk, readable by another process.
    saved = json.loads((tmp_path / "registry.json").read_text())
    assert [m["id"] for m in saved["models"]] == [a, b, c]


def test_a_refused_model_needs_force_and_a_missing_file_is_not_deployed(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.json")
    [a] = _models(tmp_path, registry, "a")
    registry.judge(a, True, ["intent macro-F1 dropped"])
    with pytest.raises(RegistryError, match="refused"):
        deploy(registry, a, OfflineServer(), NOW)
    assert deploy(registry, a, OfflineServer(), NOW, force=True).record.status == "deployed"
    [b] = _models(tmp_path, registry, "b")
    Path(registry.get(b).file).unlink()
    with pytest.raises(DeployError, match="missing"):
        deploy(registry, b, OfflineServer(), NOW)
    assert registry.deployed().id == a


def test_concurrent_registrations_get_distinct_ids(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry.json")
    file = tmp_path / "m.tar.gz"
    file.write_bytes(b"m")
    threads = [threading.Thread(target=registry.register, args=(file, "h", {}, NOW))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.id for r in registry.all()) == list(range(1, 9))


def test_the_models_command_lists_the_registry(tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "registry.json"
    assert trainer_main(["--registry", str(path), "models"]) == 0
    assert "empty" in capsys.readouterr().out
    registry = Registry(path)
    [a] = _models(tmp_path, registry, "a")
    registry.judge(a, True, ["intent greet: F1 dropped"])
    assert trainer_main(["--registry", str(path), "models"]) == 0
    out = capsys.readouterr().out
    assert "refused" in out and "a.tar.gz" in out and "intent greet: F1 dropped" in out
    assert trainer_main(["--registry", str(path), "deploy", "99"]) == 2
    assert "no model 99" in capsys.readouterr().err


def test_the_first_retrain_scores_the_baseline_before_judging(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With an empty registry the model in service is the built one, scored first."""
    import io

    from bot.trainer import retrain

    baseline = tmp_path / "postdesk.tar.gz"
    baseline.write_bytes(b"baseline")
    scores = {"postdesk.tar.gz": metrics(0.91), "cand.tar.gz": metrics(0.90)}
    monkeypatch.setattr(retrain, "BASELINE", baseline)
    monkeypatch.setattr(retrain, "validate", lambda inputs, out: True)

    def train(inputs, name, out):  # type: ignore[no-untyped-def]
        model = tmp_path / "cand.tar.gz"
        model.write_bytes(b"candidate")
        return model

    monkeypatch.setattr(retrain, "train", train)
    monkeypatch.setattr(retrain, "score", lambda model, heldout: scores[model.name])
    monkeypatch.setattr(retrain.Inputs, "digest", lambda self: "d" * 64)
    registry = Registry(tmp_path / "registry.json")
    out = io.StringIO()
    code = retrain.retrain(retrain.Inputs(), registry, deployer=None, out=out, now=lambda: NOW)
    assert code == retrain.REFUSED_EXIT, out.getvalue()
    assert "against model 1 (postdesk.tar.gz)" in out.getvalue()
    assert "dropped from 0.9100 to 0.9000" in out.getvalue()
    assert [(r.id, r.status, Path(r.file).name) for r in registry.all()] == [
        (1, "deployed", "postdesk.tar.gz"), (2, "refused", "cand.tar.gz")]


def _retrain_against(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded: dict,
                     scores: dict[str, dict], keep_file: bool = True) -> tuple[int, str, Registry]:
    """Retrain (training and scoring faked) against a deployed model whose recorded scores
    are `recorded`; `scores` are what scoring each model file gives now."""
    import io

    from bot.trainer import retrain

    heldout = tmp_path / "nlu"
    (heldout / "conversations").mkdir(parents=True)
    (heldout / "track.yml").write_text("nlu: []\n")
    (heldout / "conversations" / "chats.yml").write_text("nlu: []\n")
    deployed = tmp_path / "live.tar.gz"
    deployed.write_bytes(b"live")
    registry = Registry(tmp_path / "registry.json")
    live = registry.register(deployed, "a" * 64, recorded, NOW, status="deployed")
    registry.mark_deployed(live.id, NOW)
    if not keep_file:
        deployed.unlink()
    monkeypatch.setattr(retrain, "validate", lambda inputs, out: True)

    def train(inputs, name, out):  # type: ignore[no-untyped-def]
        model = tmp_path / "cand.tar.gz"
        model.write_bytes(b"candidate")
        return model

    calls: list[str] = []

    def score(model: Path, held: Path) -> dict:
        calls.append(model.name)
        return {**scores[model.name], retrain.SETS_KEY: retrain.sets_digest(held)}

    monkeypatch.setattr(retrain, "train", train)
    monkeypatch.setattr(retrain, "score", score)
    monkeypatch.setattr(retrain.Inputs, "digest", lambda self: "d" * 64)
    out = io.StringIO()
    code = retrain.retrain(retrain.Inputs(heldout=heldout), registry, deployer=None, out=out,
                           now=lambda: NOW)
    return code, out.getvalue() + f"\nscored: {calls}", registry


def test_a_deployed_model_scored_on_older_sets_is_scored_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A conversations set that grew: the model in service was recorded at 0.70 on the old
    set; on the current one it scores 0.66, so a candidate at 0.67 is no worse and passes."""
    from bot.trainer.retrain import SETS_KEY

    old = {**metrics(0.91), "conversations_accuracy": 0.70, SETS_KEY: "old sets"}
    now = {"live.tar.gz": {**metrics(0.91), "conversations_accuracy": 0.66},
           "cand.tar.gz": {**metrics(0.91), "conversations_accuracy": 0.67}}
    code, out, registry = _retrain_against(tmp_path, monkeypatch, old, now)
    assert code == 0, out
    assert "changed since model 1 was scored: scoring it again" in out
    assert "scored: ['live.tar.gz', 'cand.tar.gz']" in out
    live = registry.get(1)
    assert live.status == "deployed" and live.metrics["conversations_accuracy"] == 0.66
    # Scored on the current sets now: the next retrain takes the record as it is.
    code, out, _ = _retrain_against(tmp_path / "again", monkeypatch, live.metrics, now)
    assert code == 0 and "scoring it again" not in out and "scored: ['cand.tar.gz']" in out, out


def test_scores_on_older_sets_stand_when_the_deployed_file_is_gone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.trainer.retrain import SETS_KEY

    old = {**metrics(0.91), "conversations_accuracy": 0.70, SETS_KEY: "old sets"}
    now = {"cand.tar.gz": {**metrics(0.91), "conversations_accuracy": 0.67}}
    code, out, registry = _retrain_against(tmp_path, monkeypatch, old, now, keep_file=False)
    assert code == 1, out
    assert "is gone: comparing with the scores recorded then" in out
    assert "accuracy on the conversations set dropped from 0.7000 to 0.6700" in out
    assert registry.get(1).metrics["conversations_accuracy"] == 0.70


def test_the_registry_hashes_what_the_makefile_trains_from():
    """A model's data hash covers every source file `make train` retrains for."""
    import re

    from bot.config import PROJECT_ROOT
    from bot.trainer.registry import TRAIN_INPUTS

    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    block = re.search(r"^TRAIN_INPUTS :=(.*?)(?<!\\)\n", makefile, re.S | re.M).group(1)
    files = set(re.findall(r"(?<![\w/(,])(bot/[\w/]+\.py)", block))
    for folder, names in re.findall(r"\$\(addprefix (bot/[\w/]+/),([^)]*)\)", block):
        files |= {folder + name for name in names.split()}
    assert files, block
    assert files == {p for p in TRAIN_INPUTS if p.startswith("bot/")}

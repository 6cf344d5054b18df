"""Retrain, gate, deploy and rollback with real models and a real Rasa server.

* A model trained on deliberately damaged data (two intents' labels swapped) is refused by the
  gate, which names the intents; nothing is deployed.
* Deploy and rollback switch the model the running server answers with, while a complaint
  conversation in the middle of its form goes on across the switch.
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from bot.launcher import RASA_TOKEN_HEADER, Stack
from bot.trainer.registry import DEPLOYED, Registry
from tests.stack import seeded_stack

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "postdesk.tar.gz"
TOKEN = "trainer-test-token"
NOW = datetime(2026, 11, 26, 10, 0)
B_GREETING = "您好，这是第二版模型的问候。"


def trainer(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.trainer", *args], cwd=ROOT,
                          capture_output=True, text=True, env=env or dict(os.environ),
                          timeout=1800)


def swap_intents(data: Path, first: str, second: str) -> None:
    """Damage the training data: every example of `first` becomes `second` and back."""
    for file in (data / "nlu").glob("*.yml"):
        text = file.read_text()
        swapped = re.sub(rf"^- intent: ({first}|{second})$",
                         lambda m: f"- intent: {second if m.group(1) == first else first}",
                         text, flags=re.M)
        file.write_text(swapped)


def fast_config(source: Path, target: Path) -> None:
    """The project's pipeline and policies with few epochs (the damage, not the epochs, is
    what the gate must catch: the refusal has to name the swapped intents)."""
    config = yaml.safe_load(source.read_text())
    for part in config["pipeline"] + config["policies"]:
        if "epochs" in part:
            part["epochs"] = min(part["epochs"], 8)
    target.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False))


@pytest.fixture(scope="module")
def baseline_metrics(model_results: dict) -> dict:
    """What `retrain.score` gives the model in service, from the session's one parse of it."""
    from bot.trainer.gate import metrics_of

    from bot.trainer.retrain import HELDOUT, SETS_KEY, sets_digest

    metrics = metrics_of(model_results)
    # The realistic and conversations sets are part of the gate.
    assert {"realistic_accuracy", "conversations_accuracy"} <= set(metrics)
    # Taken on the current sets: retrain compares with these figures instead of scoring again.
    return {**metrics, SETS_KEY: sets_digest(HELDOUT)}


def test_a_model_trained_on_damaged_data_is_refused_with_the_reason(
        tmp_path: Path, baseline_metrics: dict) -> None:
    registry = Registry(tmp_path / "registry.json")
    live = registry.register(MODEL, "baseline", baseline_metrics, NOW, status=DEPLOYED)
    registry.mark_deployed(live.id, NOW)
    shutil.copytree(ROOT / "data", tmp_path / "data")
    swap_intents(tmp_path / "data", "track_mail", "lost_item")
    fast_config(ROOT / "config.yml", tmp_path / "config.yml")

    done = trainer("--registry", str(registry.path), "retrain", "--data", str(tmp_path / "data"),
                   "--config", str(tmp_path / "config.yml"), "--out", str(tmp_path / "models"))

    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "gate: REFUSED" in done.stdout
    assert "scoring it again" not in done.stdout  # the recorded scores are on the current sets
    assert re.search(r"intent track_mail: F1 dropped from [01]\.\d+ to 0\.\d+", done.stdout)
    assert re.search(r"intent lost_item: F1 dropped", done.stdout)
    assert re.search(r"accuracy on the realistic set dropped from 0\.\d+ to 0\.\d+", done.stdout)
    assert "is NOT deployed" in done.stdout
    candidate = registry.all()[-1]
    assert candidate.status == "refused" and Path(candidate.file).parent == tmp_path / "models"
    assert any("track_mail" in reason for reason in candidate.reasons)
    assert registry.deployed().id == live.id  # the model in service did not change
    assert "evaluating" in done.stderr  # progress bars on the long steps


def test_invalid_data_stops_before_training(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "data", tmp_path / "data")
    rules = tmp_path / "data" / "rules" / "broken.yml"
    rules.write_text('version: "3.1"\nrules:\n- rule: broken\n  steps:\n'
                     '  - intent: no_such_intent\n  - action: utter_greet\n')
    done = trainer("--registry", str(tmp_path / "registry.json"), "retrain", "--data",
                   str(tmp_path / "data"), "--out", str(tmp_path / "models"))
    assert done.returncode == 2, done.stdout[-2000:]
    assert "data validation failed" in done.stdout
    assert not (tmp_path / "models").exists()


def repack_with_greeting(source: Path, target: Path, greeting: str) -> None:
    """A copy of a model archive whose domain greets differently (a recognisably other model)."""
    with tarfile.open(source) as old, tarfile.open(target, "w:gz") as new:
        for member in old.getmembers():
            data = old.extractfile(member).read() if member.isfile() else None
            name = member.name.lstrip("/")
            if name == "metadata.json":
                metadata = json.loads(data)
                metadata["domain"]["responses"]["utter_greet"] = [{"text": greeting}]
                data = json.dumps(metadata, ensure_ascii=False).encode()
            elif name.endswith("domain_provider/domain.yml"):
                domain = yaml.safe_load(data)
                domain["responses"]["utter_greet"] = [{"text": greeting}]
                data = yaml.safe_dump(domain, allow_unicode=True, sort_keys=False).encode()
            if data is not None:
                member.size = len(data)
                new.addfile(member, io.BytesIO(data))
            else:
                new.addfile(member)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with seeded_stack(tmp_path_factory.mktemp("deploy"), TOKEN, model=MODEL) as stack:
        yield stack


def model_file(stack: Stack) -> str:
    request = urllib.request.Request(f"http://127.0.0.1:{stack.rasa_port}/status",
                                     headers={RASA_TOKEN_HEADER: TOKEN})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["model_file"]


@pytest.mark.server
def test_deploy_and_rollback_switch_the_model_while_a_conversation_goes_on(
        server: Stack, tmp_path: Path) -> None:
    other = tmp_path / "postdesk-b.tar.gz"
    repack_with_greeting(MODEL, other, B_GREETING)
    registry = Registry(tmp_path / "registry.json")
    a = registry.register(MODEL, "a", {"macro_f1": 0.9}, NOW, status=DEPLOYED)
    registry.mark_deployed(a.id, NOW)
    b = registry.register(other, "b", {"macro_f1": 0.9}, NOW)
    env = dict(os.environ, RASA_URL=f"http://127.0.0.1:{server.rasa_port}", RASA_TOKEN=TOKEN)
    assert model_file(server) == MODEL.name

    # A complaint in the middle of its form: the bot has asked for the phone number.
    asked = "\n".join(server.say("t-deploy", "EA000000005CN 包裹破了我要投诉"))
    assert "联系电话" in asked, asked

    done = trainer("--registry", str(registry.path), "deploy", str(b.id), env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "now in service" in done.stdout
    assert model_file(server) == other.name
    # The conversation goes on where it was, on the new model.
    check = "\n".join(server.say("t-deploy", "13812345678"))
    assert "确认提交" in check and "138****5678" in check, check
    assert server.say("t-greet-b", "你好") == [B_GREETING]

    done = trainer("--registry", str(registry.path), "rollback", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"rolled back to model {a.id}" in done.stdout
    assert model_file(server) == MODEL.name
    greeting = server.say("t-greet-a", "你好")
    assert greeting != [B_GREETING] and greeting[0].startswith("您好"), greeting
    finished = "\n".join(server.say("t-deploy", "是的"))
    assert re.search(r"工单 GD\d+", finished), finished
    assert [r.status for r in registry.all()] == ["deployed", "retired"]

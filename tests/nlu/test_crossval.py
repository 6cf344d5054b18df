"""bot.nlu.crossval: the linear model scored on conversation writers it was not fitted on."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.nlu import crossval

CONFIG = """\
language: zh
pipeline:
  - name: JiebaTokenizer
  - name: DIETClassifier
  - name: bot.nlu.intent_blend.BlendedIntentClassifier
    diet_weight: 0.1
    pinyin: true
"""

GREET = ["你好", "在吗", "你好啊", "有人在吗", "早上好", "hello 你好", "在不在", "你好 在吗"]
BYE = ["再见", "拜拜", "没事了再见", "先这样 拜拜", "bye", "好的 再见", "拜拜了", "回头见"]


def write(path: Path, intents: dict[str, list[str]]) -> None:
    blocks = "".join(f"- intent: {name}\n  examples: |\n"
                     + "".join(f"    - {t}\n" for t in texts) for name, texts in intents.items())
    path.write_text(f'version: "3.1"\nnlu:\n{blocks}', encoding="utf-8")


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "config.yml").write_text(CONFIG, encoding="utf-8")
    write(data / "chitchat.yml", {"greet": GREET, "goodbye": BYE})
    for i in range(3):
        write(data / f"conversations_w{i}.yml", {"greet": GREET[i::3], "goodbye": BYE[i::3]})
    # one writer labels with an intent no other file has: held out, it cannot be learnt
    write(data / "conversations_odd.yml", {"thank": ["谢谢", "多谢了", "谢谢你们"]})
    return tmp_path


def run(project: Path, *extra: str) -> dict:
    out = project / "cv.json"
    code = crossval.main(["--data", str(project / "data"), "--config",
                          str(project / "config.yml"), "--folds", "4", "--out", str(out),
                          *extra])
    assert code == 0
    return json.loads(out.read_text(encoding="utf-8"))


def test_each_writer_is_scored_by_a_model_that_never_saw_it(project: Path) -> None:
    report = run(project)
    assert report["writers"] == 4 and report["turns"] == 8 + 8 + 3
    assert sorted(w for fold in report["folds"] for w in fold) == [
        "conversations_odd", "conversations_w0", "conversations_w1", "conversations_w2"]
    configured = report["settings"]["configured"]
    assert configured["config"]["pinyin"] is True and configured["config"]["diet_weight"] == 0.1
    # the greetings and goodbyes are learnt from the other files; the thanks cannot be
    odd = report["folds"].index(["conversations_odd"])
    assert configured["folds"][odd] == 0.0
    assert all(a == 1.0 for i, a in enumerate(configured["folds"]) if i != odd)
    assert configured["accuracy"] == pytest.approx(16 / 19, abs=1e-4)


def test_a_changed_setting_is_scored_beside_the_configured_one(project: Path,
                                                                capsys) -> None:
    report = run(project, "--set", "pinyin=false", "--set", "C=0.5")
    changed = report["settings"]["changed"]["config"]
    assert changed["pinyin"] is False and changed["C"] == 0.5
    assert report["settings"]["configured"]["config"]["C"] == 10.0
    assert set(report["difference"]) >= {"difference", "low", "high", "folds_ahead"}
    assert "changed - configured" in capsys.readouterr().out


def test_bad_input_is_refused_clearly(project: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        crossval.main(["--config", str(project / "config.yml"), "--set", "colour=blue"])
    assert exit_.value.code == 2 and "not a setting" in capsys.readouterr().err
    code = crossval.main(["--data", str(project / "data"), "--config",
                          str(project / "config.yml"), "--folds", "9"])
    assert code == 2 and "4 writers' files" in capsys.readouterr().err
    (project / "bare.yml").write_text("pipeline:\n  - name: JiebaTokenizer\n", encoding="utf-8")
    assert crossval.main(["--config", str(project / "bare.yml")]) == 2
    assert "has no bot.nlu.intent_blend" in capsys.readouterr().err

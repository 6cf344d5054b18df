"""Rasa's own checks on the project: data validation and the conversation tests of tests/stories."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RASA = str(Path(sys.executable).with_name("rasa"))


def run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([RASA, *args], cwd=ROOT, capture_output=True, text=True, timeout=900)


def form_questions() -> set[str]:
    """utter_ask_<slot> for every slot a form asks for (the form sends them, Rasa's validator
    does not see that)."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    return {f"utter_ask_{slot}" for form in domain["forms"].values()
            for slot in form["required_slots"]}


def test_rasa_data_validate_is_clean():
    """Valid data, and every warning is a response that an action or a form sends."""
    proc = run(["data", "validate"])
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    warnings = [l for l in output.splitlines() if "UserWarning" in l]
    unused = re.findall(r"The utterance '(\w+)' is not used", output)
    assert len(unused) == len(warnings), "\n".join(warnings)
    sources = "".join(p.read_text() for p in (ROOT / "actions").glob("*.py"))
    assert [u for u in unused if f'"{u}"' not in sources and u not in form_questions()] == []


def test_conversation_stories_all_pass(tmp_path, trained_model):
    out = tmp_path / "results"
    proc = run(["test", "core", "--model", str(trained_model), "--stories", "tests/stories",
                "--out", str(out), "--fail-on-prediction-errors"])
    failed = out / "failed_test_stories.yml"
    report = failed.read_text(encoding="utf-8") if failed.exists() else ""
    assert proc.returncode == 0, (proc.stdout[-3000:] + proc.stderr[-3000:] + report[:3000])
    assert "None of the test stories failed" in report or report.strip() == "", report[:3000]

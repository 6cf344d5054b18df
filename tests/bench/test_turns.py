"""``python -m bot.bench``: the command line of the NLU and turn benchmarks (not the run itself)."""
from __future__ import annotations

import subprocess
import time
import sys
from pathlib import Path

import pytest

from bot.bench.turns import main
from bot.config import PROJECT_ROOT


def test_help_describes_the_benchmarks() -> None:
    done = subprocess.run([sys.executable, "-m", "bot.bench", "--help"], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage: python -m bot.bench" in done.stdout and "--skip-training" in done.stdout


def test_a_missing_model_says_how_to_make_one(tmp_path: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    assert main(["--model", str(tmp_path / "none.tar.gz")]) == 1
    assert "make train" in capsys.readouterr().err


def test_turn_cost_alternates_windows_and_reports_medians() -> None:
    from bot.bench.turns import turn_cost

    order: list[str] = []

    def parse(_: int) -> None:
        if not order or order[-1] != "parse":
            order.append("parse")
        time.sleep(0.001)

    def turn(_: int) -> None:
        if not order or order[-1] != "turn":
            order.append("turn")
        time.sleep(0.004)  # four times the work of a parse

    parses, turns = turn_cost(parse, turn, concurrency=2, rounds=2, seconds=0.3)
    assert order == ["parse", "turn", "parse", "turn"]
    assert turns < parses  # the slower call is the rarer one

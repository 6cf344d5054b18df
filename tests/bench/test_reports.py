"""``python -m bot.bench.reports`` at a small size: both backends seeded, the reports timed."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.bench.reports import main


def test_bench_seeds_and_times_both_backends(request: pytest.FixtureRequest, tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    from tests import pg

    argv = ["--work-orders", "200", "--tracking-events", "2000", "--runs", "1",
            "--sqlite-path", str(tmp_path / "bench.db")]
    if pg.available():
        argv += ["--pg-url", request.getfixturevalue("pg_url")]
    else:
        argv += ["--skip-postgresql"]
    assert main(argv) == 0
    table = capsys.readouterr().out.split("Reports on a year of data", 1)[1].splitlines()
    rows = [line for line in table if line.startswith(("sqlite", "postgresql"))]
    assert [r.split()[0] for r in rows] == ["sqlite"] + (["postgresql"] if pg.available() else [])
    for row in rows:
        assert "200 / " in row and row.count(" s") >= 4


def test_an_unusable_database_is_reported(capsys: pytest.CaptureFixture) -> None:
    assert main(["--pg-url", "nosuchdb://x", "--skip-sqlite"]) == 2
    assert "数据库不可用" in capsys.readouterr().err

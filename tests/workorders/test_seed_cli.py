"""``python -m bot.workorders seed``: the store's seed, with the deadline policy for the orders."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.store.db import make_engine, make_session_factory
from bot.store.uow import uow_factory
from bot.workorders.__main__ import main


def test_seed_adds_mail_accounts_and_work_orders_once(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    url = f"sqlite:///{tmp_path}/postdesk.db"
    argv = ["seed", "--database-url", url, "--now", "2025-06-10T10:00:00+08:00", "--demo"]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert "demo work orders: 8 added" in first  # 7 channel orders + 1 pickup escalation
    assert "DEMO workbench accounts" in first
    assert main(argv) == 0
    assert "demo work orders: 0 added" in capsys.readouterr().out

    engine = make_engine(url)
    with uow_factory(make_session_factory(engine))() as uow:
        assert len(uow.work_orders.list()) == 8
        assert uow.accounts.get_by_username("agent") is not None
    engine.dispose()


def test_seed_needs_a_database_url(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["seed"])
    assert exc.value.code == 2
    assert "--database-url" in capsys.readouterr().err

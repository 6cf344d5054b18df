from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect

from bot.store.__main__ import main
from bot.store.db import make_engine, make_session_factory
from bot.store.services import lookup_mail
from bot.store.uow import uow_factory


def test_init_creates_the_database_file_and_tables(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    url = f"sqlite:///{tmp_path}/var/postdesk.db"
    assert main(["init", "--database-url", url]) == 0
    assert (tmp_path / "var" / "postdesk.db").is_file()
    engine = make_engine(url)
    assert set(inspect(engine).get_table_names()) == {
        "mail_item", "tracking_event", "handover_request", "work_order", "work_order_event",
        "work_order_source", "pickup_order", "pickup_reminder", "account", "handover_event",
        "agent_reply", "conversation_day", "nlu_candidate", "nlu_collect_cursor",
        "login_throttle", "web_session", "alembic_version",
        "call_record", "call_line", "call_reply", "call_work_order",
        "vip_customer", "watched_mail", "proactive_task", "proactive_task_event",
        "proactive_notice"}
    engine.dispose()
    assert main(["init", "--database-url", url]) == 0  # again: nothing breaks


def test_seed_is_idempotent_and_timed_by_now(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    url = f"sqlite:///{tmp_path}/postdesk.db"
    argv = ["seed", "--database-url", url, "--now", "2025-06-10T10:00:00+08:00"]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert main(argv) == 0
    second = capsys.readouterr().out
    assert " 0 added" not in first and "0 added, 0 replaced" in second

    engine = make_engine(url)
    uows = uow_factory(make_session_factory(engine))
    found = lookup_mail(uows, "EA000000005CN", datetime(2025, 6, 10, 10, 0))
    engine.dispose()
    assert found is not None and found.hours_since_update == 4


def test_seed_refresh_replaces(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    url = f"sqlite:///{tmp_path}/postdesk.db"
    assert main(["seed", "--database-url", url]) == 0
    assert main(["seed", "--database-url", url, "--refresh"]) == 0
    mail, orders = capsys.readouterr().out.splitlines()[-2:]
    assert mail.startswith("demo mail") and "0 added" in mail
    # The demo work orders need the deadline policy, which the store does not know.
    assert "python -m bot.workorders seed" in orders


@pytest.mark.parametrize("argv", [
    [],
    ["seed"],
    ["seed", "--database-url", "sqlite://", "--now", "yesterday"],
    ["drop", "--database-url", "sqlite://"],
])
def test_bad_arguments_exit_with_usage_error(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err

"""`python -m bot.proactive`: the imports checked row by row, the demo data and its scan, and
the periodic scan as `make run` starts it (a real child process)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from bot.launcher import Stack, stop
from bot.proactive.__main__ import EXIT_OK, EXIT_REJECTED, main
from bot.store.db import create_schema, make_engine, make_session_factory
from bot.store.models import ProactiveTask, WatchedMail
from bot.store.proactive import list_vips
from bot.store.seed import seed_demo_mail
from bot.store.uow import uow_factory
from bot.config import local_now


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'postdesk.db'}"


def _uows(url: str):
    engine = make_engine(url)
    create_schema(engine)
    return engine, uow_factory(make_session_factory(engine))


def test_import_vip_checks_every_row_and_names_the_bad_ones(db: str, tmp_path: Path,
                                                           capsys) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["大客户名单（2025年6月）"])
    sheet.append(["客户名称", "联系人", "联系电话", "所属单位", "客户经理", "微信openid", "同意通知"])
    sheet.append(["云南白药电商", "李华", "138 0000 1111", "五华区邮政分公司", "王磊",
                  "oVIP_abcdef_01", "是"])
    sheet.append(["", "张三", "13900002222", "", "", "", "是"])               # no name
    sheet.append(["勐海茶厂", "岩温", "电话待补", "", "", "", "否"])            # bad phone
    sheet.append(["普洱茶商", "玉香", "13988001234", "", "", "bad openid!", "是"])  # openid
    sheet.append(["昆明某中学", "赵老师", "0871-65123456", "", "", "", "也许"])  # consent
    sheet.append(["云南白药电商", "李华", "13800001111", "", "", "", "是"])      # repeated
    path = tmp_path / "vip.xlsx"
    book.save(path)

    assert main(["--database-url", db, "import-vip", str(path)]) == EXIT_REJECTED
    out = capsys.readouterr().out
    assert "新增 added: 1" in out
    for row in (4, 5, 6, 7, 8):
        assert f"第{row}行 row {row}" in out
    assert "第3行 row 3" not in out
    assert "13900002222" not in out  # reasons never show a raw phone number
    engine, uows = _uows(db)
    [vip] = list_vips(uows)
    assert (vip.name, vip.contact_phone, vip.consent, vip.wechat_bound) == (
        "云南白药电商", "13800001111", True, True)
    engine.dispose()

    # The same file again adds nobody.
    assert main(["--database-url", db, "import-vip", str(path)]) == EXIT_REJECTED
    assert "新增 added: 0   更新 updated: 1" in capsys.readouterr().out


def test_watch_a_key_project_batch_from_csv(db: str, tmp_path: Path, capsys) -> None:
    path = tmp_path / "身份证.csv"
    path.write_text("序号,邮件号,备注\n1,EA000000005CN,\n2,EA000000019CN,校验位错\n"
                    "3,ea 000000014 cn,\n4,EA000000005CN,重复\n", encoding="gbk")
    assert main(["--database-url", db, "watch", str(path), "--project", "身份证"]) \
        == EXIT_REJECTED
    out = capsys.readouterr().out
    assert "新增 added: 2" in out and "第3行 row 3" in out and "校验位" in out
    engine, uows = _uows(db)
    with uows() as uow:
        rows = uow.session.execute(select(WatchedMail.mail_number, WatchedMail.reason,
                                          WatchedMail.project).order_by(WatchedMail.id)).all()
    assert [tuple(r) for r in rows] == [("EA000000005CN", "project", "身份证"),
                                        ("EA000000014CN", "project", "身份证")]
    engine.dispose()
    assert main(["--database-url", db, "watch", str(path), "--vip", "没有这个客户"]) == 1


def test_the_demo_data_opens_tasks_at_once_and_scan_prints_them(db: str, capsys) -> None:
    engine, uows = _uows(db)
    seed_demo_mail(uows, local_now())
    assert main(["--database-url", db, "seed"]) == EXIT_OK
    assert main(["--database-url", db, "scan", "--no-send"]) == EXIT_OK
    out = capsys.readouterr().out
    for line in ("EA000000014CN 超时未更新 → 昆明邮区中心局", "1151238971060 特安邮件非本人签收",
                 "发货无信息", "错分", "RR123456785CN 退回"):
        assert line in out
    assert "通知入队 notices queued: " in out and "notices queued: 0" not in out
    assert "同事李明" not in out  # signers masked
    # Seeding again adds nothing; a second scan opens nothing.
    assert main(["--database-url", db, "seed"]) == EXIT_OK
    assert main(["--database-url", db, "scan", "--no-send"]) == EXIT_OK
    assert "新开任务 opened: 0" in capsys.readouterr().out
    engine.dispose()


def test_make_run_scans_every_few_minutes_in_a_supervised_child(db: str, tmp_path: Path) -> None:
    engine, uows = _uows(db)
    seed_demo_mail(uows, local_now())
    assert main(["--database-url", db, "seed"]) == EXIT_OK
    stack = Stack(Path("unused.tar.gz"), "t", db, workdir=tmp_path)
    scanner = stack.spawn_scanner(0.01)
    try:
        deadline = time.monotonic() + 60
        count = 0
        while time.monotonic() < deadline and scanner.poll() is None:
            with uows() as uow:
                count = uow.session.execute(select(func.count(ProactiveTask.id))).scalar_one()
            if count:
                break
            time.sleep(0.2)
        assert count > 0 and scanner.poll() is None
        assert scanner in stack.processes()
    finally:
        stop([scanner])
        engine.dispose()

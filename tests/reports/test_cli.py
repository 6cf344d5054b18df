"""``python -m bot.reports`` on the demo data ``python -m bot.workorders seed`` writes."""
from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from openpyxl import load_workbook

from bot.config import PROJECT_ROOT
from bot.reports.__main__ import main
from bot.reports.charts import CHARTS
from bot.workorders.__main__ import main as seed_main

NOW = "2025-06-10T10:00:00"


@pytest.fixture
def demo_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/postdesk.db"
    assert seed_main(["seed", "--database-url", url, "--now", NOW]) == 0
    return url


def test_daily_prints_the_report_of_the_demo_data(demo_db: str, capsys: pytest.CaptureFixture) -> None:
    capsys.readouterr()
    assert main(["daily", "--database-url", demo_db, "--now", NOW]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "【云南邮政客服日报】2025年6月10日"
    assert "1. 昆明邮区中心局：超时未更新 2、超时未签收 2" in lines
    assert "三、揽收催办：当日 3催 1 件、4催 0 件" in lines
    assert "LS2025061000001（139****0001，景洪市****）已催 3 次，仍未揽收" in lines
    assert "四、超时工单（按渠道）：共 2 件" in lines
    assert "13987650001" not in out


def test_daily_of_a_past_date(demo_db: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["daily", "--database-url", demo_db, "--now", NOW, "--date", "2025-06-09"]) == 0
    out = capsys.readouterr().out
    assert "统计截至 2025-06-09 23:59" in out
    assert "会泽县邮政分公司古城营业部：拒收 1、退回 1" in out


def test_monthly_prints_kpis_and_writes_the_workbook_and_charts(
        demo_db: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    xlsx, charts = tmp_path / "out" / "june.xlsx", tmp_path / "charts"
    assert main(["monthly", "--database-url", demo_db, "--now", NOW, "--month", "2025-06",
                 "--xlsx", str(xlsx), "--charts", str(charts)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "【月度统计】2025年6月（统计时间 2025-06-10 10:00）"
    assert "受理量：8" in out and "3催率：100.0%（1/1）" in out
    assert load_workbook(xlsx).sheetnames[0] == "总览"
    assert sorted(p.name for p in charts.iterdir()) == sorted(f"{n}.png" for n in CHARTS)


def test_monthly_defaults_to_this_month(demo_db: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["monthly", "--database-url", demo_db, "--now", NOW]) == 0
    assert "2025年6月" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["daily", "--date", "2025-06-11"], "还没有到"),
    (["monthly", "--month", "2025-07"], "尚未开始"),
])
def test_future_periods_are_refused(demo_db: str, argv: list[str], message: str,
                                    capsys: pytest.CaptureFixture) -> None:
    assert main([*argv, "--database-url", demo_db, "--now", NOW]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["daily", "--date", "10.06.2025"], ["monthly", "--month", "June"],
                                  ["nothing"]])
def test_bad_arguments_are_usage_errors(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


def test_send_without_a_webhook_says_how_to_configure_it(
        demo_db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.delenv("WECOM_ROBOT_WEBHOOK", raising=False)
    assert main(["daily", "--send", "--database-url", demo_db, "--now", NOW]) == 2
    assert "WECOM_ROBOT_WEBHOOK" in capsys.readouterr().err


def test_an_unusable_database_is_reported(capsys: pytest.CaptureFixture) -> None:
    assert main(["daily", "--database-url", "nosuchdb://x"]) == 2
    assert "数据库不可用" in capsys.readouterr().err


async def _run(*argv: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.reports", *argv, cwd=PROJECT_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode or 0, out.decode(), err.decode()


@pytest.mark.asyncio
async def test_daily_send_posts_the_printed_text_to_the_robot(demo_db: str) -> None:
    received: list[dict] = []
    answers = [0, 93000]

    async def robot(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({"errcode": answers.pop(0), "errmsg": "x"})

    app = web.Application()
    app.router.add_post("/cgi-bin/webhook/send", robot)
    server = TestServer(app)
    await server.start_server()
    try:
        env = {**os.environ, "WECOM_ROBOT_WEBHOOK": str(server.make_url("/cgi-bin/webhook/send?key=secret-robot-key-0001"))}
        code, out, err = await _run("daily", "--send", "--database-url", demo_db, "--now", NOW, env=env)
        assert code == 0, err
        assert received == [{"msgtype": "text", "text": {"content": out.rstrip("\n")}}]
        assert "已发送到企业微信群" in err and "secret-robot-key" not in err
        code, out, err = await _run("daily", "--send", "--database-url", demo_db, "--now", NOW, env=env)
        assert code == 1 and "93000" in err
    finally:
        await server.close()

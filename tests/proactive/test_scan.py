"""The scan on the store (SQLite and PostgreSQL): tasks opened once, closed on recovery with a
history line, never twice under two concurrent scans; notices queued only with consent."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.proactive.config import ProactiveConfig
from bot.proactive.scan import scan
from bot.store.models import ProactiveNotice, ProactiveTask, ProactiveTaskEvent
from bot.store.proactive import VipRecord, WatchEntry, save_vips, vip_ids_by_name, watch
from bot.store.uow import UowFactory
from bot.workorders.policy import DeadlinePolicy
from tests.proactive.conftest import NOW, add_mail, add_scan

KM = "昆明邮区中心局"
BN = "西双版纳州邮区中心局"
OUTLET = "曲靖市麒麟区邮政分公司南宁营业部"
JH = "景洪市邮政分公司勐泐营业部"
STUCK = [(60, "POSTED", OUTLET, "已收寄"), (50, "ARRIVED", KM, "【昆明邮区中心局】已到达")]


def _vips(uows: UowFactory) -> dict[str, int]:
    save_vips(uows, [
        VipRecord("云南白药电商", "李华", "13800001111", "昆明市五华区邮政分公司", "王经理",
                  openid="oVIP_consenting_0001", consent=True),
        VipRecord("勐海茶厂", "岩温", "13900002222", "勐海县邮政分公司", "刀经理",
                  openid="oVIP_no_consent_0002", consent=False),
    ], NOW - timedelta(days=1))
    return vip_ids_by_name(uows)


def _tasks(uows: UowFactory) -> list[tuple[str, str, str, str | None]]:
    with uows() as uow:
        rows = uow.session.execute(select(ProactiveTask.mail_number, ProactiveTask.exception,
                                          ProactiveTask.status, ProactiveTask.close_reason)
                                   .order_by(ProactiveTask.id))
        return [tuple(r) for r in rows]  # type: ignore[misc]


def _history(uows: UowFactory, mail_number: str) -> list[tuple[str, str]]:
    with uows() as uow:
        rows = uow.session.execute(
            select(ProactiveTaskEvent.action, ProactiveTaskEvent.detail)
            .join(ProactiveTask, ProactiveTask.id == ProactiveTaskEvent.task_id)
            .where(ProactiveTask.mail_number == mail_number).order_by(ProactiveTaskEvent.id))
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_a_scan_opens_one_task_per_exception_and_the_next_scan_opens_nothing(
        uows: UowFactory, config: ProactiveConfig, policy: DeadlinePolicy) -> None:
    vips = _vips(uows)
    add_mail(uows, "EA000000005CN", STUCK)
    add_mail(uows, "EA000000014CN", [(30, "POSTED", OUTLET, "已收寄"),
                                     (3, "FAILED", JH, "投递失败，收件人电话13988123456无人接听")])
    add_mail(uows, "1151238971060", [(5, "POSTED", OUTLET, "已收寄")])  # fine
    assert watch(uows, [WatchEntry("EA000000005CN", "vip", vip_id=vips["云南白药电商"]),
                        WatchEntry("EA000000014CN", "project", project="身份证"),
                        WatchEntry("1151238971060", "te_an")], NOW) == 3

    first = scan(uows, config, policy, NOW)
    assert first.watched == 3
    assert sorted((t.mail_number, t.exception, t.responsible_unit) for t in first.opened) == [
        ("EA000000005CN", "no_update", KM), ("EA000000014CN", "delivery_failed", JH)]
    assert first.closed == []
    with uows() as uow:
        task = uow.session.execute(select(ProactiveTask).where(
            ProactiveTask.mail_number == "EA000000014CN")).scalar_one()
        assert task.project == "身份证" and task.watch_reasons == "project"
        assert task.deadline > NOW  # four working hours, counted by the work-order calendar
        assert "13988123456" not in task.detail and "139****3456" in task.detail

    second = scan(uows, config, policy, NOW + timedelta(minutes=5))
    assert second.opened == [] and second.closed == []
    assert len(_tasks(uows)) == 2
    assert _history(uows, "EA000000005CN")[0][0] == "opened"


def test_a_mail_that_recovers_closes_its_task_with_a_history_line_and_a_relapse_reopens(
        uows: UowFactory, config: ProactiveConfig, policy: DeadlinePolicy) -> None:
    add_mail(uows, "EA000000005CN", STUCK)
    watch(uows, [WatchEntry("EA000000005CN", "te_an")], NOW)
    assert [t.exception for t in scan(uows, config, policy, NOW).opened] == ["no_update"]

    add_scan(uows, "EA000000005CN", (1, "DEPARTED", KM, f"【{KM}】已发出，下一站【{BN}】"))
    report = scan(uows, config, policy, NOW)
    assert [t.exception for t in report.closed] == ["no_update"]
    assert _tasks(uows) == [("EA000000005CN", "no_update", "closed", "recovered")]
    assert _history(uows, "EA000000005CN")[-1] == ("recovered", "轨迹已恢复正常，任务自动关闭")

    # Quiet again for too long: a new task, the closed one stays as history.
    later = NOW + timedelta(hours=30)
    assert [t.exception for t in scan(uows, config, policy, later).opened] == ["no_update"]
    assert [s for _, _, s, _ in _tasks(uows)] == ["closed", "open"]


def test_notices_are_queued_only_for_consenting_customers_and_held_in_quiet_hours(
        uows: UowFactory, config: ProactiveConfig, policy: DeadlinePolicy) -> None:
    vips = _vips(uows)
    add_mail(uows, "EA000000005CN", STUCK)
    add_mail(uows, "EA000000014CN", STUCK)
    watch(uows, [WatchEntry("EA000000005CN", "vip", vip_id=vips["云南白药电商"]),
                 WatchEntry("EA000000014CN", "vip", vip_id=vips["勐海茶厂"])], NOW)
    night = datetime(2025, 6, 10, 22, 15)
    report = scan(uows, config, policy, night)
    assert report.queued == 1
    with uows() as uow:
        notice = uow.session.execute(select(ProactiveNotice)).scalar_one()
        uow.session.expunge(notice)
    assert notice.vip_id == vips["云南白药电商"] and notice.status == "pending"
    assert notice.due_at == datetime(2025, 6, 11, 8, 0)  # held until the morning
    assert "EA000000005CN" in notice.text and "退订" in notice.text


def test_a_task_an_agent_resolved_is_not_opened_again_while_the_exception_stays(
        uows: UowFactory, config: ProactiveConfig, policy: DeadlinePolicy) -> None:
    from bot.proactive.service import record_action

    add_mail(uows, "RR123456785CN", [(60, "POSTED", OUTLET, "已收寄"),
                                     (5, "RETURNING", JH, "邮件无法投递，已按规定退回寄件人")])
    watch(uows, [WatchEntry("RR123456785CN", "project", project="法院文书")], NOW)
    [task] = scan(uows, config, policy, NOW).opened
    record_action(uows, task.id, "resolved", "agent", NOW, "已联系法院重新寄送")
    assert scan(uows, config, policy, NOW + timedelta(hours=1)).opened == []
    assert _tasks(uows) == [("RR123456785CN", "returned", "closed", "resolved")]


def test_two_concurrent_scans_open_and_close_each_task_once(
        engine: Engine, uows: UowFactory, config: ProactiveConfig,
        policy: DeadlinePolicy) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip("in-memory SQLite is one connection; concurrency runs on PostgreSQL")
    numbers = [f"98{i:011d}" for i in range(60)]
    for number in numbers:
        add_mail(uows, number, STUCK)
    watch(uows, [WatchEntry(n, "te_an") for n in numbers], NOW)

    def both(at: datetime) -> list:
        barrier = threading.Barrier(2)
        results: list = [None, None]

        def run(i: int) -> None:
            barrier.wait()
            results[i] = scan(uows, config, policy, at)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results

    a, b = both(NOW)
    assert len(a.opened) + len(b.opened) == 60
    assert {t.id for t in a.opened}.isdisjoint({t.id for t in b.opened})
    with uows() as uow:
        assert uow.session.execute(select(func.count(ProactiveTask.id))).scalar_one() == 60
        assert uow.session.execute(select(func.count(ProactiveTaskEvent.id))).scalar_one() == 60

    for number in numbers:
        add_scan(uows, number, (1, "DEPARTED", KM, f"已发出，下一站【{BN}】"))
    a, b = both(NOW)
    assert len(a.closed) + len(b.closed) == 60
    with uows() as uow:
        lines = uow.session.execute(select(func.count(ProactiveTaskEvent.id)).where(
            ProactiveTaskEvent.action == "recovered")).scalar_one()
    assert lines == 60

"""The services the workbench's proactive pages call: task list with filters, detail with trail
and history, agents' actions, VIP list and edits; and the scan benchmark at a small size."""
from __future__ import annotations

from datetime import timedelta

import pytest

from bot.bench.proactive import main as bench_main
from bot.proactive.scan import scan
from bot.proactive.service import (
    ProactiveError,
    get_vip,
    list_tasks,
    list_vips,
    record_action,
    task_detail,
    update_vip,
)
from bot.store.proactive import VipRecord, WatchEntry, save_vips, vip_ids_by_name, watch
from tests.proactive.conftest import NOW, add_mail

KM = "昆明邮区中心局"
JH = "景洪市邮政分公司勐泐营业部"
OUTLET = "曲靖市麒麟区邮政分公司南宁营业部"


@pytest.fixture
def tasks(uows, config, policy) -> dict[str, int]:
    save_vips(uows, [VipRecord("云南白药电商", "李华", "13800001111", "五华区邮政分公司", "王磊",
                               openid="oVIP_service_000001", consent=True)], NOW)
    vip = vip_ids_by_name(uows)["云南白药电商"]
    add_mail(uows, "EA000000005CN", [(60, "POSTED", OUTLET, "已收寄，揽投员电话13708712345"),
                                     (50, "ARRIVED", KM, "已到达")])
    add_mail(uows, "EA000000014CN", [(30, "POSTED", OUTLET, "已收寄"),
                                     (3, "FAILED", JH, "投递失败，收件人电话无人接听")])
    watch(uows, [WatchEntry("EA000000005CN", "vip", vip_id=vip),
                 WatchEntry("EA000000014CN", "project", project="身份证")], NOW)
    opened = scan(uows, config, policy, NOW).opened
    return {t.mail_number: t.id for t in opened}


def test_the_task_list_filters_by_reason_project_unit_and_overdue(uows, tasks) -> None:
    assert {t.mail_number for t in list_tasks(uows, NOW)} == {"EA000000005CN", "EA000000014CN"}
    [failed] = list_tasks(uows, NOW, exception="delivery_failed")
    assert (failed.exception_label, failed.reasons, failed.project) == (
        "派件异常", ("重点项目",), "身份证")
    assert [t.mail_number for t in list_tasks(uows, NOW, project="身份证")] == ["EA000000014CN"]
    assert [t.mail_number for t in list_tasks(uows, NOW, unit=KM)] == ["EA000000005CN"]
    assert list_tasks(uows, NOW, overdue=True) == []
    later = NOW + timedelta(days=3)
    late = list_tasks(uows, later, overdue=True)
    assert len(late) == 2 and all(t.overdue for t in late)
    with pytest.raises(ProactiveError):
        list_tasks(uows, NOW, exception="nonsense")
    with pytest.raises(ProactiveError):
        list_tasks(uows, NOW, unit="x" * 500)


def test_the_detail_has_the_masked_trail_history_customer_and_drafts(uows, tasks) -> None:
    detail = task_detail(uows, tasks["EA000000005CN"], NOW)
    assert detail.task.number == f"ZD{tasks['EA000000005CN']:06d}"
    assert [line.unit for line in detail.trail] == [OUTLET, KM]
    assert "13708712345" not in detail.trail[0].description
    assert detail.vip is not None and detail.vip.contact_phone_masked == "138****1111"
    assert [h.action for h in detail.history] == ["opened"]
    assert "EA000000005CN" in detail.call_script and KM in detail.call_script
    assert "退订" in detail.notice_draft
    with pytest.raises(ProactiveError):
        task_detail(uows, 99999, NOW)


def test_actions_go_to_the_history_and_resolving_closes_the_task(uows, tasks) -> None:
    task_id = tasks["EA000000014CN"]
    after = record_action(uows, task_id, "unit_contacted", "agent1", NOW, "景洪勐泐营业部明天再投")
    assert after.task.handled_at == NOW and after.task.assigned_to == "agent1"
    assert after.history[-1].action == "unit_contacted"
    # Handled, so no longer overdue even past its deadline.
    assert list_tasks(uows, NOW + timedelta(days=3), overdue=True)[0].mail_number \
        == "EA000000005CN"
    record_action(uows, task_id, "called", "agent1", NOW)
    with pytest.raises(ProactiveError, match="处理结果"):
        record_action(uows, task_id, "resolved", "agent1", NOW)
    with pytest.raises(ProactiveError):
        record_action(uows, task_id, "delete_everything", "agent1", NOW)
    with pytest.raises(ProactiveError):
        record_action(uows, task_id, "note", "agent1", NOW, "长" * 501)
    done = record_action(uows, task_id, "resolved", "agent1", NOW, "客户已收到")
    assert (done.task.status, done.task.close_reason) == ("closed", "resolved")
    assert [h.action for h in done.history] == ["opened", "unit_contacted", "called", "resolved"]
    with pytest.raises(ProactiveError, match="已关闭"):
        record_action(uows, task_id, "called", "agent1", NOW)


def test_the_vip_list_and_edits(uows, tasks) -> None:
    [vip] = list_vips(uows)
    assert (vip.watched, vip.may_be_notified, vip.contact_name_masked) == (1, True, "李*")
    changed = update_vip(uows, vip.id, NOW, consent=False, unit="官渡区邮政分公司")
    assert (changed.consent, changed.unit, changed.may_be_notified) == (
        False, "官渡区邮政分公司", False)
    out = update_vip(uows, vip.id, NOW, consent=True, opted_out=True)
    assert out.opted_out and out.opted_out_at == NOW and not out.may_be_notified
    assert get_vip(uows, vip.id) == out
    with pytest.raises(ProactiveError):
        get_vip(uows, 4242)
    with pytest.raises(ProactiveError, match="所属单位"):
        update_vip(uows, vip.id, NOW, unit="单" * 129)


def test_the_benchmark_runs_at_a_small_size(capsys) -> None:
    assert bench_main(["--mail", "300"]) == 0
    out = capsys.readouterr().out
    assert "300 watched mail" in out and "first scan" in out and "second scan" in out

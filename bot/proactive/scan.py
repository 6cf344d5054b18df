"""The proactive scan: every watched mail's trail through the rules, tasks opened and closed.

One scan is one transaction over the whole watch list, read `SCAN_BATCH` mail at a time (two
queries per batch, never one per mail); what changes is written in bulk. Two scans at once
(the `make run` loop and a `python -m bot.proactive scan` by hand) open each task once and
close it once: see `bot.store.proactive`. Notices to consenting VIP customers are queued in the
outbox here and sent by `bot.proactive.notices`.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional

from bot.proactive.config import TASK_CHANNEL, ProactiveConfig
from bot.proactive.rules import Exception_, WatchedTrail, WatchReason, findings
from bot.store.models import as_store_time
from bot.store.proactive import (
    NewTask,
    NoticeRequest,
    ScanRow,
    TaskBrief,
    close_recovered,
    notifiable_vips,
    open_task_keys,
    open_tasks,
    queue_notices,
    resolved_keys,
    scan_rows,
)
from bot.store.uow import UowFactory
from bot.text.masking import mask_text
from bot.workorders.policy import DeadlinePolicy
from bot.workorders.responsibility import TrailEvent


@dataclass
class ScanReport:
    """What one scan did."""

    watched: int = 0
    opened: list[TaskBrief] = field(default_factory=list)
    closed: list[TaskBrief] = field(default_factory=list)
    queued: int = 0


def trail_of(row: ScanRow) -> WatchedTrail:
    """The rules' view of a watched mail read by the scan."""
    return WatchedTrail(
        mail_number=row.mail_number, reasons=row.reasons, watched_since=row.watched_since,
        product=row.product, posted_at=row.posted_at, promised_by=row.promised_by,
        recipient_name=row.recipient_name, signed_by=row.signed_by,
        trail=tuple(TrailEvent(*event) for event in row.events))


def notice_text(mail_number: str, exception: str, unit: Optional[str]) -> str:
    """The WeChat notice for a new exception: short, polite, no personal data, how to opt out."""
    label = Exception_(exception).label
    who = f"{unit}" if unit else "相关邮政网点"
    text = (f"【中国邮政主动服务】尊敬的客户，您的邮件 {mail_number} 出现“{label}”情况，"
            f"我们已联系{who}跟进处理，处理结果将尽快告知您。如不需要此类通知，请回复“退订”。")
    return mask_text(text)


def scan(uow_factory: UowFactory, config: ProactiveConfig, policy: DeadlinePolicy,
         now: datetime, scan_id: str | None = None) -> ScanReport:
    """Run the rules over every watched mail at `now`; open, close and queue what follows.

    A task closed by an agent (resolved) is not opened again while its exception stays on the
    trail; a task closed because the trail recovered is opened again if the exception returns.

    Args:
        uow_factory: opens a unit of work.
        config: thresholds, task deadline, quiet hours (``thresholds.yml``).
        policy: the work-order deadline policy (its calendar and unit windows count the task
            deadline).
        now: the moment of the scan.
        scan_id: names this scan in the tasks it opens and closes (default: a fresh id).
    """
    now = as_store_time(now)
    scan_id = scan_id or f"scan:{uuid.uuid4().hex[:20]}"
    task_policy = config.task_policy(policy)
    deadlines: dict[Optional[str], datetime] = {}
    report = ScanReport()
    with uow_factory() as uow:
        session = uow.session
        open_keys = open_task_keys(session)
        resolved = resolved_keys(session)
        found: set[tuple[str, str]] = set()
        watched: set[str] = set()
        new: list[NewTask] = []
        for batch in scan_rows(session):
            for row in batch:
                watched.add(row.mail_number)
                for finding in findings(trail_of(row), config.thresholds(row.product), now):
                    key = (row.mail_number, finding.exception.value)
                    found.add(key)
                    if key in open_keys or key in resolved:
                        continue
                    if finding.unit not in deadlines:
                        deadlines[finding.unit] = task_policy.deadline(TASK_CHANNEL, now,
                                                                       finding.unit)
                    new.append(NewTask(
                        mail_number=row.mail_number, exception=finding.exception.value,
                        detail=mask_text(finding.detail),
                        watch_reasons=",".join(r.value for r in WatchReason
                                               if r.value in row.reasons),
                        project=row.project, vip_id=row.vip_id,
                        responsible_unit=finding.unit, deadline=deadlines[finding.unit]))
        report.watched = len(watched)
        new.sort(key=lambda t: (t.mail_number, t.exception))  # the same lock order in every scan
        report.opened = open_tasks(session, new, now, scan_id)
        recovered = sorted(task_id for key, task_id in open_keys.items()
                           if key not in found and key[0] in watched)
        report.closed = close_recovered(session, recovered, now, scan_id)
        consenting = notifiable_vips(session, (t.vip_id for t in report.opened
                                               if t.vip_id is not None))
        requests = [NoticeRequest(key=f"task:{t.id}:opened", vip_id=t.vip_id, task_id=t.id,
                                  text=notice_text(t.mail_number, t.exception,
                                                   t.responsible_unit),
                                  due_at=config.quiet.next_allowed(now))
                    for t in report.opened if t.vip_id is not None and t.vip_id in consenting]
        queue_notices(session, requests, now)
        report.queued = len(requests)
        uow.commit()
    return report

"""Proactive-service storage (主动客服): VIP customers, watched mail, tasks and the notice outbox.

The set-based reads and writes the scan needs (`bot.proactive.scan`: the rules live there, not
here), the task and VIP services the workbench needs, and the outbox steps of the notice
sender. Every write that two processes may race for is made safe by the database:

* one open task per mail and exception: tasks are inserted with ``ON CONFLICT DO NOTHING`` on
  the partial unique index, and a scan learns which rows it inserted by their ``opened_by``
  (the scan's own id); closing is ``UPDATE ... WHERE status = 'open'``, read back by
  ``closed_by`` — so two scans at once never open, close or log anything twice;
* one notice per key (``INSERT ... ON CONFLICT DO NOTHING`` on ``proactive_notice.key``), and a
  notice is sent only by the sender that moved it from pending to sending in one ``UPDATE``.

All times are naive Beijing time.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Iterable, Iterator, Mapping, Sequence

from sqlalchemy import and_, bindparam, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.store.models import (
    MailItem,
    ProactiveNotice,
    ProactiveTask,
    ProactiveTaskEvent,
    TrackingEvent,
    VipCustomer,
    WatchedMail,
    as_store_time,
)
from bot.store.uow import UowFactory
from bot.text.masking import mask_name, mask_phone
from bot.text.tracking import normalise

OPEN = "open"
CLOSED = "closed"

# Outbox statuses (see ProactiveNotice).
PENDING, SENDING, SENT, FAILED, SKIPPED, UNKNOWN = (
    "pending", "sending", "sent", "failed", "skipped", "unknown")

# How many watched mail one read of the scan covers (bounded memory, few round trips).
SCAN_BATCH = 2000


class ProactiveError(ValueError):
    """A request the proactive rules refuse (the message says why, in Chinese)."""


# ---- SQL helpers ---------------------------------------------------------------------------


def _insert_ignoring(session: Session, table: Any, rows: Sequence[Mapping[str, Any]],
                     index_elements: list[str], index_where: Any = None) -> None:
    """INSERT the rows; a row that hits the unique index (`index_elements`) is skipped."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table).on_conflict_do_nothing(
        index_elements=index_elements, index_where=index_where)
    session.execute(statement, list(rows))


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# ---- VIP customers -------------------------------------------------------------------------


@dataclass(frozen=True)
class VipRecord:
    """What an import row or the workbench gives for a VIP customer (raw contacts)."""

    name: str
    contact_name: str = ""
    contact_phone: str = ""
    unit: str = ""
    account_manager: str = ""
    openid: str | None = None
    consent: bool = False


@dataclass(frozen=True)
class VipView:
    """A VIP customer as read. ``contact_phone`` is raw (agents call it); the masked fields
    are for anything else."""

    id: int
    name: str
    contact_name: str
    contact_name_masked: str
    contact_phone: str
    contact_phone_masked: str
    unit: str
    account_manager: str
    wechat_bound: bool
    consent: bool
    opted_out: bool
    opted_out_at: datetime | None
    watched: int

    @property
    def may_be_notified(self) -> bool:
        """Consent given, not opted out, WeChat bound."""
        return self.consent and not self.opted_out and self.wechat_bound


def _vip_view(vip: VipCustomer, watched: int) -> VipView:
    return VipView(
        id=vip.id, name=vip.name, contact_name=vip.contact_name,
        contact_name_masked=mask_name(vip.contact_name) if vip.contact_name else "",
        contact_phone=vip.contact_phone,
        contact_phone_masked=mask_phone(vip.contact_phone) if vip.contact_phone else "",
        unit=vip.unit, account_manager=vip.account_manager, wechat_bound=bool(vip.openid),
        consent=vip.consent, opted_out=vip.opted_out, opted_out_at=vip.opted_out_at,
        watched=watched)


def save_vips(uow_factory: UowFactory, records: Iterable[VipRecord], now: datetime,
              ) -> tuple[int, int]:
    """Add the customers not stored yet and update those stored (same name).

    An update never clears an opt-out: a customer who replied 退订 stays opted out whatever a
    later import says about consent.

    Returns:
        (added, updated).

    Raises:
        ProactiveError: an openid already bound to another customer.
    """
    now = as_store_time(now)
    added = updated = 0
    with uow_factory() as uow:
        session = uow.session
        for record in records:
            vip = session.execute(select(VipCustomer).where(VipCustomer.name == record.name)
                                  ).scalar_one_or_none()
            if record.openid:
                holder = session.execute(select(VipCustomer.name).where(
                    VipCustomer.openid == record.openid)).scalar_one_or_none()
                if holder is not None and holder != record.name:
                    raise ProactiveError(f"微信 openid 已绑定客户“{holder}”")
            if vip is None:
                vip = VipCustomer(name=record.name, created_at=now, opted_out=False)
                session.add(vip)
                added += 1
            else:
                updated += 1
            vip.contact_name = record.contact_name
            vip.contact_phone = record.contact_phone
            vip.unit = record.unit
            vip.account_manager = record.account_manager
            vip.openid = record.openid or vip.openid
            vip.consent = record.consent
            vip.updated_at = now
            session.flush()
        uow.commit()
    return added, updated


def _watched_counts(session: Session) -> dict[int, int]:
    rows = session.execute(select(WatchedMail.vip_id, func.count(WatchedMail.id))
                           .where(WatchedMail.vip_id.isnot(None))
                           .group_by(WatchedMail.vip_id))
    return {vip_id: count for vip_id, count in rows}


def list_vips(uow_factory: UowFactory) -> list[VipView]:
    """Every VIP customer, by name, with how many of their mail are watched."""
    with uow_factory() as uow:
        counts = _watched_counts(uow.session)
        vips = uow.session.execute(select(VipCustomer).order_by(VipCustomer.name)).scalars()
        return [_vip_view(v, counts.get(v.id, 0)) for v in vips]


def get_vip(uow_factory: UowFactory, vip_id: int) -> VipView:
    """One VIP customer.

    Raises:
        ProactiveError: no such customer.
    """
    with uow_factory() as uow:
        vip = uow.session.get(VipCustomer, vip_id)
        if vip is None:
            raise ProactiveError(f"没有编号为 {vip_id} 的大客户")
        return _vip_view(vip, _watched_counts(uow.session).get(vip.id, 0))


def update_vip(uow_factory: UowFactory, vip_id: int, now: datetime, *,
               contact_name: str | None = None, contact_phone: str | None = None,
               unit: str | None = None, account_manager: str | None = None,
               consent: bool | None = None, opted_out: bool | None = None) -> VipView:
    """Change a VIP customer's details, consent or opt-out (the fields given).

    Raises:
        ProactiveError: no such customer, or a value longer than its column.
    """
    now = as_store_time(now)
    for label, value, limit in (("联系人", contact_name, 64), ("联系电话", contact_phone, 32),
                                ("所属单位", unit, 128), ("客户经理", account_manager, 64)):
        if value is not None and len(value) > limit:
            raise ProactiveError(f"{label}最多 {limit} 字")
    with uow_factory() as uow:
        vip = uow.session.get(VipCustomer, vip_id)
        if vip is None:
            raise ProactiveError(f"没有编号为 {vip_id} 的大客户")
        for field, text in (("contact_name", contact_name), ("contact_phone", contact_phone),
                            ("unit", unit), ("account_manager", account_manager)):
            if text is not None:
                setattr(vip, field, text)
        if consent is not None:
            vip.consent = consent
        if opted_out is not None and opted_out != vip.opted_out:
            vip.opted_out = opted_out
            vip.opted_out_at = now if opted_out else None
        vip.updated_at = now
        uow.commit()
        return _vip_view(vip, _watched_counts(uow.session).get(vip.id, 0))


def opt_out(uow_factory: UowFactory, openid: str, now: datetime) -> bool:
    """The customer bound to `openid` wants no more notices (they replied 退订).

    Their notices not yet sent are skipped.

    Returns:
        True when a VIP customer has that openid (opted out now or before).
    """
    now = as_store_time(now)
    with uow_factory() as uow:
        vip = uow.session.execute(select(VipCustomer).where(VipCustomer.openid == openid)
                                  ).scalar_one_or_none()
        if vip is None:
            return False
        if not vip.opted_out:
            vip.opted_out, vip.opted_out_at, vip.updated_at = True, now, now
        uow.session.execute(update(ProactiveNotice)
                            .where(ProactiveNotice.vip_id == vip.id,
                                   ProactiveNotice.status == PENDING)
                            .values(status=SKIPPED, last_error="客户已退订"))
        uow.commit()
        return True


def vip_ids_by_name(uow_factory: UowFactory) -> dict[str, int]:
    """Every VIP customer's id by name (for the watch import)."""
    with uow_factory() as uow:
        return {name: vip_id for vip_id, name in
                uow.session.execute(select(VipCustomer.id, VipCustomer.name))}


# ---- watched mail --------------------------------------------------------------------------


@dataclass(frozen=True)
class WatchEntry:
    """A mail to watch and why (`reason`: vip, te_an, project)."""

    mail_number: str
    reason: str
    project: str | None = None
    vip_id: int | None = None


def watch(uow_factory: UowFactory, entries: Sequence[WatchEntry], now: datetime) -> int:
    """Put mail on watch; a mail already watched for the same reason is left as it is.

    Returns:
        How many entries were new.
    """
    now = as_store_time(now)
    rows = [{"mail_number": normalise(e.mail_number), "reason": e.reason, "project": e.project,
             "vip_id": e.vip_id, "added_at": now} for e in entries]
    with uow_factory() as uow:
        before = uow.session.execute(select(func.count(WatchedMail.id))).scalar_one()
        for chunk in _chunks(rows, 1000):
            _insert_ignoring(uow.session, WatchedMail.__table__, chunk,
                             ["mail_number", "reason"])
        after = uow.session.execute(select(func.count(WatchedMail.id))).scalar_one()
        uow.commit()
    return after - before


# ---- what the scan reads -------------------------------------------------------------------


@dataclass(frozen=True)
class ScanRow:
    """One watched mail with what the store knows of it; `events` oldest first, as tuples
    (occurred_at, place, unit, status_code, description)."""

    mail_number: str
    reasons: frozenset[str]
    project: str | None
    vip_id: int | None
    watched_since: datetime
    product: str | None
    posted_at: datetime | None
    promised_by: datetime | None
    recipient_name: str | None
    signed_by: str | None
    events: tuple[tuple[datetime, str, str, str, str], ...]


def scan_rows(session: Session, batch: int = SCAN_BATCH) -> Iterator[list[ScanRow]]:
    """Every watched mail with its mail item and trail, `batch` mail at a time.

    Two queries per batch whatever its size: the watched mail joined with their items, and
    the scans of those items.
    """
    # Core rows on the session's connection: the ORM's row processing would cost more than
    # the query itself at 100,000 mail.
    connection = session.connection()
    numbers = [n for (n,) in connection.execute(
        select(WatchedMail.mail_number).distinct().order_by(WatchedMail.mail_number))]
    watched_q = (
        select(WatchedMail.mail_number, WatchedMail.reason, WatchedMail.project,
               WatchedMail.vip_id, WatchedMail.added_at, MailItem.id, MailItem.product,
               MailItem.posted_at, MailItem.promised_by, MailItem.recipient_name,
               MailItem.signed_by)
        .outerjoin(MailItem, MailItem.number == WatchedMail.mail_number)
        .where(WatchedMail.mail_number.in_(bindparam("numbers", expanding=True)))
        .order_by(WatchedMail.mail_number, WatchedMail.id))
    events_q = (
        select(TrackingEvent.mail_id, TrackingEvent.occurred_at, TrackingEvent.place,
               TrackingEvent.unit, TrackingEvent.status_code, TrackingEvent.description)
        .where(TrackingEvent.mail_id.in_(bindparam("ids", expanding=True)))
        .order_by(TrackingEvent.mail_id, TrackingEvent.occurred_at, TrackingEvent.id))
    for chunk in _chunks(numbers, batch):
        grouped: dict[str, list[Any]] = {}
        for row in connection.execute(watched_q, {"numbers": list(chunk)}):
            grouped.setdefault(row[0], []).append(row)
        ids = [rows[0][5] for rows in grouped.values() if rows[0][5] is not None]
        trails: dict[int, list[tuple[datetime, str, str, str, str]]] = {}
        if ids:
            for mail_id, *event in connection.execute(events_q, {"ids": ids}):
                trails.setdefault(mail_id, []).append(tuple(event))
        out = []
        for number, rows in grouped.items():
            first = rows[0]
            out.append(ScanRow(
                mail_number=number,
                reasons=frozenset(r[1] for r in rows),
                project=next((r[2] for r in rows if r[2]), None),
                vip_id=next((r[3] for r in rows if r[3] is not None), None),
                watched_since=min(r[4] for r in rows),
                product=first[6], posted_at=first[7], promised_by=first[8],
                recipient_name=first[9], signed_by=first[10],
                events=tuple(trails.get(first[5], ())) if first[5] is not None else (),
            ))
        yield out


def open_task_keys(session: Session) -> dict[tuple[str, str], int]:
    """The id of every open task by (mail number, exception)."""
    rows = session.execute(select(ProactiveTask.mail_number, ProactiveTask.exception,
                                  ProactiveTask.id).where(ProactiveTask.status == OPEN))
    return {(number, exception): task_id for number, exception, task_id in rows}


def resolved_keys(session: Session) -> set[tuple[str, str]]:
    """(mail number, exception) of every task an agent resolved: the scan does not open them
    again while the exception stays on the trail."""
    rows = session.execute(select(ProactiveTask.mail_number, ProactiveTask.exception)
                           .where(ProactiveTask.close_reason == "resolved").distinct())
    return {(number, exception) for number, exception in rows}


@dataclass(frozen=True)
class NewTask:
    """A task the scan wants opened."""

    mail_number: str
    exception: str
    detail: str
    watch_reasons: str
    project: str | None
    vip_id: int | None
    responsible_unit: str | None
    deadline: datetime


@dataclass(frozen=True)
class TaskBrief:
    """A task as the scan reports it and the notices address it."""

    id: int
    mail_number: str
    exception: str
    detail: str
    vip_id: int | None
    responsible_unit: str | None


def _briefs(session: Session, condition: Any) -> list[TaskBrief]:
    rows = session.execute(select(ProactiveTask.id, ProactiveTask.mail_number,
                                  ProactiveTask.exception, ProactiveTask.detail,
                                  ProactiveTask.vip_id, ProactiveTask.responsible_unit)
                           .where(condition).order_by(ProactiveTask.id))
    return [TaskBrief(*row) for row in rows]


def open_tasks(session: Session, tasks: Sequence[NewTask], now: datetime,
               scan_id: str) -> list[TaskBrief]:
    """Insert the tasks (skipping any mail and exception another scan just opened) and log
    "opened" on those this scan inserted, which are returned. The caller commits."""
    rows = [{"mail_number": t.mail_number, "exception": t.exception, "status": OPEN,
             "detail": t.detail, "watch_reasons": t.watch_reasons, "project": t.project,
             "vip_id": t.vip_id, "responsible_unit": t.responsible_unit, "opened_at": now,
             "opened_by": scan_id, "deadline": t.deadline} for t in tasks]
    for chunk in _chunks(rows, 1000):
        _insert_ignoring(session, ProactiveTask.__table__, chunk, ["mail_number", "exception"],
                         index_where=text("status = 'open'"))
    opened = _briefs(session, ProactiveTask.opened_by == scan_id) if rows else []
    _log_many(session, [(t.id, "opened", t.detail) for t in opened], now, "scan")
    return opened


def close_recovered(session: Session, task_ids: Sequence[int], now: datetime,
                    scan_id: str) -> list[TaskBrief]:
    """Close the open tasks among `task_ids` as recovered, log it, return those this scan
    closed (another scan may have closed some a moment before). The caller commits."""
    for chunk in _chunks(list(task_ids), 1000):
        session.execute(update(ProactiveTask)
                        .where(ProactiveTask.id.in_(chunk), ProactiveTask.status == OPEN)
                        .values(status=CLOSED, closed_at=now, closed_by=scan_id,
                                close_reason="recovered"),
                        execution_options={"synchronize_session": False})
    closed = _briefs(session, ProactiveTask.closed_by == scan_id) if task_ids else []
    _log_many(session, [(t.id, "recovered", "轨迹已恢复正常，任务自动关闭") for t in closed],
              now, "scan")
    return closed


def _log_many(session: Session, lines: Sequence[tuple[int, str, str]], now: datetime,
              actor: str) -> None:
    if lines:
        session.execute(ProactiveTaskEvent.__table__.insert(),
                        [{"task_id": task_id, "at": now, "actor": actor, "action": action,
                          "detail": detail} for task_id, action, detail in lines])


# ---- notices (the outbox) ------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeRequest:
    """A notice the scan wants sent: to `vip_id`, about `task_id`, once per `key`."""

    key: str
    vip_id: int
    task_id: int | None
    text: str
    due_at: datetime


def notifiable_vips(session: Session, vip_ids: Iterable[int]) -> set[int]:
    """Those of `vip_ids` who agreed to notices, did not opt out and have WeChat bound."""
    ids = sorted(set(vip_ids))
    found: set[int] = set()
    for chunk in _chunks(ids, 1000):
        found.update(session.execute(select(VipCustomer.id).where(
            VipCustomer.id.in_(chunk), VipCustomer.consent.is_(True),
            VipCustomer.opted_out.is_(False), VipCustomer.openid.isnot(None))).scalars())
    return found


def queue_notices(session: Session, requests: Sequence[NoticeRequest], now: datetime) -> None:
    """Write the notices to the outbox; a key already there is left alone. The caller commits."""
    rows = [{"key": r.key, "vip_id": r.vip_id, "task_id": r.task_id, "text": r.text,
             "status": PENDING, "due_at": r.due_at, "attempts": 0, "created_at": now,
             "last_error": ""} for r in requests]
    for chunk in _chunks(rows, 1000):
        _insert_ignoring(session, ProactiveNotice.__table__, chunk, ["key"])


@dataclass(frozen=True)
class DueNotice:
    """A notice to send now, with where to send it."""

    id: int
    key: str
    vip_id: int
    task_id: int | None
    openid: str | None
    text: str
    attempts: int
    may_notify: bool


def due_notices(uow_factory: UowFactory, now: datetime, limit: int = 500) -> list[DueNotice]:
    """The pending notices whose time has come, oldest first."""
    now = as_store_time(now)
    with uow_factory() as uow:
        rows = uow.session.execute(
            select(ProactiveNotice.id, ProactiveNotice.key, ProactiveNotice.vip_id,
                   ProactiveNotice.task_id, VipCustomer.openid, ProactiveNotice.text,
                   ProactiveNotice.attempts, VipCustomer.consent, VipCustomer.opted_out)
            .join(VipCustomer, VipCustomer.id == ProactiveNotice.vip_id)
            .where(ProactiveNotice.status == PENDING, ProactiveNotice.due_at <= now)
            .order_by(ProactiveNotice.due_at, ProactiveNotice.id).limit(limit))
        return [DueNotice(r[0], r[1], r[2], r[3], r[4], r[5], r[6],
                          bool(r[7]) and not r[8] and bool(r[4])) for r in rows]


def sent_on(uow_factory: UowFactory, vip_id: int, day: date) -> int:
    """How many notices were sent (or may have been: interrupted) to `vip_id` on `day`."""
    start = datetime.combine(day, datetime.min.time())
    with uow_factory() as uow:
        return uow.session.execute(
            select(func.count(ProactiveNotice.id)).where(
                ProactiveNotice.vip_id == vip_id,
                or_(and_(ProactiveNotice.status == SENT, ProactiveNotice.sent_at >= start,
                         ProactiveNotice.sent_at < start + timedelta(days=1)),
                    and_(ProactiveNotice.status.in_((SENDING, UNKNOWN)),
                         ProactiveNotice.due_at >= start,
                         ProactiveNotice.due_at < start + timedelta(days=1))))
        ).scalar_one()


def claim_notice(uow_factory: UowFactory, notice_id: int, now: datetime) -> bool:
    """Move a pending notice to sending; only the caller that does so may send it."""
    now = as_store_time(now)
    with uow_factory() as uow:
        moved = uow.session.execute(
            update(ProactiveNotice)
            .where(ProactiveNotice.id == notice_id, ProactiveNotice.status == PENDING)
            .values(status=SENDING, attempts=ProactiveNotice.attempts + 1, due_at=now),
            execution_options={"synchronize_session": False}).rowcount
        uow.commit()
        return moved == 1


def finish_notice(uow_factory: UowFactory, notice_id: int, status: str, now: datetime,
                  error: str = "", retry_at: datetime | None = None) -> None:
    """Record how a claimed send ended: sent, failed, skipped, unknown (it may have been
    delivered: never retried), or back to pending at `retry_at` (a failure known not to have
    delivered anything)."""
    now = as_store_time(now)
    values: dict[str, Any] = {"status": status, "last_error": error[:500]}
    if status == SENT:
        values["sent_at"] = now
    if status == PENDING:
        values["due_at"] = retry_at or now
    with uow_factory() as uow:
        uow.session.execute(update(ProactiveNotice)
                            .where(ProactiveNotice.id == notice_id)
                            .values(**values),
                            execution_options={"synchronize_session": False})
        task_id = uow.session.execute(select(ProactiveNotice.task_id).where(
            ProactiveNotice.id == notice_id)).scalar_one()
        if task_id is not None and status in (SENT, FAILED, UNKNOWN):
            detail = {SENT: "已通过微信通知客户", FAILED: f"微信通知未送达：{error[:200]}",
                      UNKNOWN: (f"微信通知可能已送达，结果未知（{error[:200]}），不再重发"
                                if error else "微信通知发送中断，未知是否送达（不再重发）")}[status]
            _log_many(uow.session, [(task_id, "notice", detail)], now, "notice")
        uow.commit()


def skip_notice(uow_factory: UowFactory, notice_id: int, reason: str) -> None:
    """A pending notice that will not be sent (no consent any more, cap reached)."""
    with uow_factory() as uow:
        uow.session.execute(update(ProactiveNotice)
                            .where(ProactiveNotice.id == notice_id,
                                   ProactiveNotice.status == PENDING)
                            .values(status=SKIPPED, last_error=reason),
                            execution_options={"synchronize_session": False})
        uow.commit()


def interrupted_sends(uow_factory: UowFactory, before: datetime) -> int:
    """Mark sends claimed before `before` and never finished (the sender died) as unknown:
    they may have reached the customer, so they are never tried again."""
    with uow_factory() as uow:
        moved = uow.session.execute(
            update(ProactiveNotice)
            .where(ProactiveNotice.status == SENDING, ProactiveNotice.due_at < before)
            .values(status=UNKNOWN, last_error="发送中断"),
            execution_options={"synchronize_session": False}).rowcount
        uow.commit()
        return moved


# ---- tasks for the workbench ---------------------------------------------------------------

# What an agent records on a task (the history's action names) and their Chinese labels.
ACTIONS = {"notified": "已告知客户", "called": "已致电客户", "unit_contacted": "已联系责任单位",
           "resolved": "已处理完毕", "note": "备注"}
NOTE_MAX = 500


@dataclass(frozen=True)
class TaskRow:
    """A proactive task as stored (the labels and the overdue state are the service's)."""

    id: int
    mail_number: str
    exception: str
    status: str
    detail: str
    watch_reasons: str
    project: str | None
    vip_id: int | None
    vip_name: str | None
    responsible_unit: str | None
    opened_at: datetime
    deadline: datetime
    assigned_to: str | None
    handled_at: datetime | None
    closed_at: datetime | None
    close_reason: str | None


_TASK_COLUMNS = (ProactiveTask.id, ProactiveTask.mail_number, ProactiveTask.exception,
                 ProactiveTask.status, ProactiveTask.detail, ProactiveTask.watch_reasons,
                 ProactiveTask.project, ProactiveTask.vip_id, VipCustomer.name,
                 ProactiveTask.responsible_unit, ProactiveTask.opened_at, ProactiveTask.deadline,
                 ProactiveTask.assigned_to, ProactiveTask.handled_at, ProactiveTask.closed_at,
                 ProactiveTask.close_reason)


def find_tasks(uow_factory: UowFactory, now: datetime, *, status: str | None = OPEN,
               exception: str | None = None, project: str | None = None,
               unit: str | None = None, overdue: bool | None = None,
               limit: int = 500) -> list[TaskRow]:
    """Tasks by the filters given (None: any), overdue open ones first, then by deadline.

    `overdue` means open, not yet handled by anyone, and past its deadline at `now`.
    """
    now = as_store_time(now)
    query = select(*_TASK_COLUMNS).outerjoin(VipCustomer, VipCustomer.id == ProactiveTask.vip_id)
    if status is not None:
        query = query.where(ProactiveTask.status == status)
    if exception is not None:
        query = query.where(ProactiveTask.exception == exception)
    if project is not None:
        query = query.where(ProactiveTask.project == project)
    if unit is not None:
        query = query.where(ProactiveTask.responsible_unit == unit)
    late = and_(ProactiveTask.status == OPEN, ProactiveTask.handled_at.is_(None),
                ProactiveTask.deadline < now)
    if overdue is True:
        query = query.where(late)
    elif overdue is False:
        query = query.where(~late)
    query = query.order_by(ProactiveTask.status.desc(), ProactiveTask.deadline,
                           ProactiveTask.id).limit(limit)
    with uow_factory() as uow:
        return [TaskRow(*row) for row in uow.session.execute(query)]


def task_facets(uow_factory: UowFactory) -> tuple[list[str], list[str]]:
    """The responsible units and the key projects that tasks name, each sorted: the choices of
    the workbench list's filters."""
    with uow_factory() as uow:
        units = uow.session.execute(
            select(ProactiveTask.responsible_unit).distinct()
            .where(ProactiveTask.responsible_unit.isnot(None))
            .order_by(ProactiveTask.responsible_unit)).scalars().all()
        projects = uow.session.execute(
            select(ProactiveTask.project).distinct().where(ProactiveTask.project.isnot(None))
            .order_by(ProactiveTask.project)).scalars().all()
        return [u for u in units if u], [p for p in projects if p]


@dataclass(frozen=True)
class TaskLine:
    """One line of a task's history."""

    at: datetime
    actor: str
    action: str
    detail: str


def get_task(uow_factory: UowFactory, task_id: int) -> tuple[TaskRow, list[TaskLine]]:
    """A task and its history, oldest line first.

    Raises:
        ProactiveError: no such task.
    """
    with uow_factory() as uow:
        row = uow.session.execute(
            select(*_TASK_COLUMNS).outerjoin(VipCustomer, VipCustomer.id == ProactiveTask.vip_id)
            .where(ProactiveTask.id == task_id)).first()
        if row is None:
            raise ProactiveError(f"没有编号为 {task_id} 的主动服务任务")
        lines = uow.session.execute(
            select(ProactiveTaskEvent.at, ProactiveTaskEvent.actor, ProactiveTaskEvent.action,
                   ProactiveTaskEvent.detail).where(ProactiveTaskEvent.task_id == task_id)
            .order_by(ProactiveTaskEvent.at, ProactiveTaskEvent.id))
        return TaskRow(*row), [TaskLine(*line) for line in lines]


def record_task_action(uow_factory: UowFactory, task_id: int, action: str, actor: str,
                       now: datetime, note: str = "") -> None:
    """Write what an agent did on a task to its history; ``resolved`` closes it.

    The first action marks the task handled and, if nobody holds it, gives it to `actor`.

    Raises:
        ProactiveError: unknown action, a note too long, resolving without a note, no such
            task, or a task already closed.
    """
    now = as_store_time(now)
    if action not in ACTIONS:
        raise ProactiveError(f"未知的操作：{action[:24]}")
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise ProactiveError(f"说明最多 {NOTE_MAX} 字")
    if action == "resolved" and not note:
        raise ProactiveError("处理完毕需要填写处理结果")
    with uow_factory() as uow:
        task = uow.session.execute(select(ProactiveTask).where(ProactiveTask.id == task_id)
                                   .with_for_update()).scalar_one_or_none()
        if task is None:
            raise ProactiveError(f"没有编号为 {task_id} 的主动服务任务")
        if task.status != OPEN:
            raise ProactiveError("任务已关闭，不能再记录操作")
        if task.handled_at is None and action != "note":
            task.handled_at = now
        if task.assigned_to is None:
            task.assigned_to = actor
        if action == "resolved":
            task.status, task.closed_at, task.closed_by = CLOSED, now, actor
            task.close_reason = "resolved"
        _log_many(uow.session, [(task_id, action, note or ACTIONS[action])], now, actor)
        uow.commit()

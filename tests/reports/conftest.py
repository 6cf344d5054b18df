"""Report fixtures: the store fixtures of tests/store (in-memory SQLite and a real PostgreSQL)
and two small data sets written row by row, whose figures are worked out by hand in the tests.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from bot.store.models import (
    AgentReply,
    ConversationDay,
    HandoverRequest,
    MailItem,
    PickupOrder,
    PickupReminder,
    TrackingEvent,
    WorkOrder,
    WorkOrderEvent,
)
from bot.store.uow import UowFactory
from tests.store.conftest import engine, pg_url, session_factory, uows  # noqa: F401

# The report time of the KPI data set: June 2025 is the month under test.
KPI_NOW = datetime(2025, 6, 20, 12, 0)
P1, P2, P5 = "13800000001", "13800000002", "13800000005"
M1 = "9812345678901"


def _order(n: int, channel: str, category: str, opened: str, deadline: str, *,
           status: str, answered: str | None = None, closed: str | None = None,
           callback: bool | None = None, contacts: int = 1, county: str | None = None,
           phone: str | None = None, sender: str | None = None,
           mail: str | None = None) -> WorkOrder:
    def at(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text) if text else None

    return WorkOrder(
        number=f"GD{n:05d}", channel=channel, category=category, mail_number=mail,
        customer_phone=phone, sender_id=sender, description="测试工单",
        priority="normal", county=county, status=status, opened_at=at(opened),
        deadline=at(deadline), answered_at=at(answered), closed_at=at(closed),
        callback_satisfied=callback, contacts=contacts)


def build_kpi_data(uows: UowFactory) -> None:
    """The KPI data set (June 2025, report time `KPI_NOW`).

    Work orders received in June (O1-O7, O9) and two earlier ones (O8 in May, O10 in April):

    ====  ==========  ===============  ============  ===========  =============  ===========  =======================
    id    channel     category         county        opened       deadline       answered     closed / callback / notes
    ====  ==========  ===============  ============  ===========  =============  ===========  =======================
    O1    wechat      delay            麒麟区         06-01 00:00  06-02 00:00    06-01 10:00  closed, satisfied; P1, wx-a
    O2    wechat      lost             麒麟区         06-02 10:00  06-03 10:00    06-03 12:00  closed, unsatisfied; contacts 2
    O3    11183       damaged          腾冲市         06-05 08:00  06-06 08:00    -            new; P1 again (repeat)
    O4    11183       delay            腾冲市         06-20 11:00  06-21 11:00    -            in progress (not yet due); P5
    O5    spb         attitude         蒙自市         06-10 09:00  06-10 15:00    06-10 14:00  closed, satisfied; reopened once
    O6    12345       delivery         -             06-12 09:00  06-13 09:00    -            closed 06-12 20:00 without feedback
    O7    pinduoduo   delay            腾冲 (alias)   06-15 09:00  06-16 09:00    06-16 10:00  answered; mail M1 (O8 had it)
    O9    wechat      other            麒麟区         06-18 10:00  06-19 10:00    06-18 12:00  called back unsatisfied; wx-a
    O8    pinduoduo   delay            腾冲市         05-25 09:00  (May)                       mail M1
    O10   11183       delay            腾冲市         04-01 09:00  (April)                     P5, 80 days before O4
    ====  ==========  ===============  ============  ===========  =============  ===========  =======================

    Pickups booked in June: chased 3, 4, 1 and 0 times (one booked in May chased 5 times).
    Conversations in June: wx-a 06-01 (handed over that day), wx-a 06-02, wx-b 06-10 (handed
    over 23:30), rest-c 06-10 (handed over the next day), wx-e 06-15; wx-d on 05-31.
    Replies in June: alice accepted 2, edited 1 (4 characters), rejected 1, wrote 1; bob edited
    2 (3 and 6 characters), rejected 2; alice rejected one in May.
    """
    with uows() as uow:
        s = uow.session
        s.add_all([
            _order(1, "wechat", "delay", "2025-06-01 00:00", "2025-06-02 00:00", status="closed",
                   answered="2025-06-01 10:00", closed="2025-06-02 10:00", callback=True,
                   county="麒麟区", phone=P1, sender="wx-a"),
            _order(2, "wechat", "lost", "2025-06-02 10:00", "2025-06-03 10:00", status="closed",
                   answered="2025-06-03 12:00", closed="2025-06-04 10:00", callback=False,
                   contacts=2, county="麒麟区", phone=P2),
            _order(3, "11183", "damaged", "2025-06-05 08:00", "2025-06-06 08:00", status="new",
                   county="腾冲市", phone=P1),
            _order(4, "11183", "delay", "2025-06-20 11:00", "2025-06-21 11:00",
                   status="in_progress", county="腾冲市", phone=P5),
            _order(5, "spb_transfer", "attitude", "2025-06-10 09:00", "2025-06-10 15:00",
                   status="closed", answered="2025-06-10 14:00", closed="2025-06-12 09:00",
                   callback=True, county="蒙自市"),
            _order(6, "12345", "delivery_service", "2025-06-12 09:00", "2025-06-13 09:00",
                   status="closed", closed="2025-06-12 20:00"),
            _order(7, "pinduoduo", "delay", "2025-06-15 09:00", "2025-06-16 09:00",
                   status="answered", answered="2025-06-16 10:00", county="腾冲", mail=M1),
            _order(9, "wechat", "other", "2025-06-18 10:00", "2025-06-19 10:00",
                   status="called_back", answered="2025-06-18 12:00", callback=False,
                   county="麒麟区", sender="wx-a"),
            _order(8, "pinduoduo", "delay", "2025-05-25 09:00", "2025-05-26 09:00",
                   status="closed", answered="2025-05-26 08:00", closed="2025-05-27 09:00",
                   county="腾冲市", mail=M1),
            _order(10, "11183", "delay", "2025-04-01 09:00", "2025-04-02 09:00",
                   status="closed", answered="2025-04-01 15:00", closed="2025-04-03 09:00",
                   county="腾冲市", phone=P5),
        ])
        s.flush()
        o5 = s.query(WorkOrder).filter_by(number="GD00005").one()
        for at, action in [("2025-06-10 09:00", "created"), ("2025-06-10 14:00", "feedback"),
                           ("2025-06-11 09:00", "closed"), ("2025-06-11 15:00", "reopened"),
                           ("2025-06-12 09:00", "closed")]:
            s.add(WorkOrderEvent(work_order_id=o5.id, at=datetime.fromisoformat(at),
                                 actor="agent:alice", action=action, detail=""))

        def pickup(n: int, created: str, chases: int) -> None:
            start = datetime.fromisoformat(created)
            p = PickupOrder(number=f"LS{n:05d}", channel="wechat", address="景洪市宣慰大道1号",
                            phone=f"1390000000{n}", time_window="上午", status="collected",
                            created_at=start, updated_at=start)
            s.add(p)
            s.flush()
            for k in range(1, chases + 1):
                s.add(PickupReminder(pickup_id=p.id, turn_key=f"t{k}",
                                     at=start + timedelta(hours=k)))

        for n, created, chases in [(1, "2025-06-03 09:00", 3), (2, "2025-06-04 09:00", 4),
                                   (3, "2025-06-05 09:00", 1), (4, "2025-06-06 09:00", 0),
                                   (5, "2025-05-30 09:00", 5)]:
            pickup(n, created, chases)

        for sender, channel, day in [("wx-a", "wechat", "2025-06-01"), ("wx-a", "wechat", "2025-06-02"),
                                     ("wx-b", "wechat", "2025-06-10"), ("rest-c", "rest", "2025-06-10"),
                                     ("wx-e", "wechat", "2025-06-15"), ("wx-d", "wechat", "2025-05-31")]:
            s.add(ConversationDay(sender_id=sender, channel=channel, day=date.fromisoformat(day),
                                  messages=3))
        handovers = {}
        for sender, channel, at in [("wx-a", "wechat", "2025-06-01 10:00"),
                                    ("wx-b", "wechat", "2025-06-10 23:30"),
                                    ("rest-c", "rest", "2025-06-11 09:00"),
                                    ("wx-d", "wechat", "2025-05-31 10:00")]:
            moment = datetime.fromisoformat(at)
            h = HandoverRequest(sender_id=sender, channel=channel, reason="request_human",
                                last_message="转人工", status="closed", created_at=moment,
                                updated_at=moment, closed_at=moment)
            s.add(h)
            s.flush()
            handovers[sender] = h.id

        replies = [("alice", "accepted", 0), ("alice", "accepted", 0), ("alice", "edited", 4),
                   ("alice", "rejected", None), ("alice", "written", None),
                   ("bob", "edited", 3), ("bob", "edited", 6), ("bob", "rejected", None),
                   ("bob", "rejected", None)]
        for i, (agent, decision, distance) in enumerate(replies):
            s.add(AgentReply(
                request_key=f"k{i}", handover_id=handovers["wx-a"], sender_id="wx-a",
                channel="wechat", agent=agent,
                suggested_text=None if decision == "written" else "建议",
                final_text=None if decision == "rejected" else "回复", decision=decision,
                edit_distance=distance, delivery="sent", delivery_error="",
                created_at=datetime(2025, 6, 1, 10, 5) + timedelta(minutes=i)))
        s.add(AgentReply(request_key="may", handover_id=handovers["wx-d"], sender_id="wx-d",
                         channel="wechat", agent="alice", suggested_text="建议", final_text=None,
                         decision="rejected", delivery="none", delivery_error="",
                         created_at=datetime(2025, 5, 31, 10, 5)))
        uow.commit()


# --- the daily data set ------------------------------------------------------------------------

DAILY_NOW = datetime(2025, 6, 20, 12, 0)
QILIN = "曲靖市麒麟区邮政分公司城关营业部"
TENGCHONG = "腾冲市邮政分公司城关营业部"
MENGZI = "蒙自市邮政分公司城关营业部"
HUIZE = "会泽县邮政分公司城关营业部"
KUNMING = "昆明邮区中心局"
BAOSHAN = "保山邮区中心局"


def _mail(number: str, posted: str, scans: list[tuple[str, str, str, str]], *,
          promised: str | None = None) -> MailItem:
    events = [TrackingEvent(occurred_at=datetime.fromisoformat(at), place=unit, unit=unit,
                            status_code=status, description=text)
              for at, status, unit, text in scans]
    return MailItem(
        number=number, product="EMS", sender_area="麒麟区", sender_prefecture="曲靖市",
        recipient_area="腾冲市", recipient_prefecture="保山市", recipient_name="张三丰",
        recipient_phone="13912345678", recipient_address="腾冲市和顺镇1号",
        posted_at=datetime.fromisoformat(posted),
        promised_by=datetime.fromisoformat(promised) if promised else None,
        postage=Decimal("20.00"), weight_g=500, status=scans[-1][1], events=events)


def build_daily_data(uows: UowFactory) -> None:
    """The daily data set, reported on 2025-06-20 at 12:00 (`DAILY_NOW`).

    Mail (thresholds: posted-only 24 h, no scan 48 h, at a station 48 h, watched 30 days):

    * EA000000001CN: only the posting scan at 麒麟区 (06-17 09:00), promised 06-19 09:00 →
      发货无信息 and 超时未签收 at the 麒麟区 outlet;
    * EA000000002CN: last scan at 昆明 centre 06-16 10:00 → 超时未更新 at 昆明;
    * EA000000003CN: at the 腾冲 station since 06-17 10:00 → 驿站超时未取 at 腾冲;
    * EA000000004CN: delivered 06-19, promised 06-18 → nothing (final);
    * EA000000005CN: failed today 09:00 at 蒙自, phone unreachable → 派件异常, 无法联系;
    * EA000000006CN: refused today 08:00 at 会泽, returning → 拒收, 退回;
    * EA000000007CN: arrived damaged at 保山 centre today 07:00 → 破损;
    * EA000000008CN: posted 05-01, silent since → outside the 30 days watched;
    * EA000000009CN: failed yesterday at 蒙自 → nothing today (and not quiet for 48 h).

    Work orders at 12:00: GD00101 (麒麟区, overdue since 06-19 12:00, 11183, phone in the
    description), GD00102 (麒麟区, answered, open), GD00103 (腾冲市, overdue since 06-20
    09:30, spb transfer), GD00104 (no county, new, not due), GD00105 (closed: not pending).

    Pickups: LS00001 chased the 3rd time today, LS00002 the 3rd time yesterday and the 4th
    today, LS00003 the 3rd time yesterday (not today).
    """
    with uows() as uow:
        s = uow.session
        s.add_all([
            _mail("EA000000001CN", "2025-06-17 09:00",
                  [("2025-06-17 09:00", "POSTED", QILIN, f"【{QILIN}】已收寄")],
                  promised="2025-06-19 09:00"),
            _mail("EA000000002CN", "2025-06-15 08:00",
                  [("2025-06-15 08:00", "POSTED", QILIN, "已收寄"),
                   ("2025-06-16 10:00", "ARRIVED", KUNMING, f"【{KUNMING}】已到达")]),
            _mail("EA000000003CN", "2025-06-14 08:00",
                  [("2025-06-14 08:00", "POSTED", QILIN, "已收寄"),
                   ("2025-06-17 10:00", "AT_STATION", TENGCHONG, "已投递至驿站")]),
            _mail("EA000000004CN", "2025-06-15 08:00",
                  [("2025-06-15 08:00", "POSTED", QILIN, "已收寄"),
                   ("2025-06-19 10:00", "DELIVERED", TENGCHONG, "已妥投")],
                  promised="2025-06-18 08:00"),
            _mail("EA000000005CN", "2025-06-18 08:00",
                  [("2025-06-18 08:00", "POSTED", QILIN, "已收寄"),
                   ("2025-06-20 09:00", "FAILED", MENGZI, "投递失败，原因：收件人电话无法接通")]),
            _mail("EA000000006CN", "2025-06-17 08:00",
                  [("2025-06-17 08:00", "POSTED", QILIN, "已收寄"),
                   ("2025-06-20 08:00", "RETURNING", HUIZE, "收件人拒收，邮件正在退回寄件人")]),
            _mail("EA000000007CN", "2025-06-19 08:00",
                  [("2025-06-19 08:00", "POSTED", QILIN, "已收寄"),
                   ("2025-06-20 07:00", "ARRIVED", BAOSHAN, "已到达，邮件外包装破损")]),
            _mail("EA000000008CN", "2025-05-01 08:00",
                  [("2025-05-01 08:00", "POSTED", QILIN, "已收寄"),
                   ("2025-05-02 08:00", "ARRIVED", KUNMING, "已到达")]),
            _mail("EA000000009CN", "2025-06-18 08:00",
                  [("2025-06-18 08:00", "POSTED", QILIN, "已收寄"),
                   ("2025-06-19 15:00", "FAILED", MENGZI, "投递失败，原因：收件人电话无人接听")]),
        ])
        s.add_all([
            _order(101, "11183", "delay", "2025-06-18 12:00", "2025-06-19 12:00", status="new",
                   county="麒麟区", phone="13812345678"),
            _order(102, "wechat", "lost", "2025-06-19 08:00", "2025-06-20 08:00",
                   status="answered", answered="2025-06-19 18:00", county="麒麟区"),
            _order(103, "spb_transfer", "attitude", "2025-06-20 03:30", "2025-06-20 09:30",
                   status="in_progress", county="腾冲市"),
            _order(104, "wechat", "other", "2025-06-20 10:00", "2025-06-21 10:00", status="new"),
            _order(105, "12345", "delay", "2025-06-10 10:00", "2025-06-11 10:00",
                   status="closed", answered="2025-06-10 15:00", closed="2025-06-12 10:00",
                   county="蒙自市"),
        ])
        for n, chases in [(1, ["2025-06-20 08:00", "2025-06-20 09:00", "2025-06-20 10:00"]),
                          (2, ["2025-06-19 08:00", "2025-06-19 09:00", "2025-06-19 10:00",
                               "2025-06-20 09:30"]),
                          (3, ["2025-06-19 08:00", "2025-06-19 09:00", "2025-06-19 10:00"])]:
            created = datetime(2025, 6, 19, 7, 0)
            p = PickupOrder(number=f"LS0000{n}", channel="wechat",
                            address=f"景洪市宣慰大道{n}号", phone=f"1398765000{n}",
                            time_window="上午", status="booked" if n != 3 else "collected",
                            created_at=created, updated_at=created)
            s.add(p)
            s.flush()
            for k, at in enumerate(chases, 1):
                s.add(PickupReminder(pickup_id=p.id, turn_key=f"t{k}",
                                     at=datetime.fromisoformat(at)))
        uow.commit()

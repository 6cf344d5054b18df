"""A year of realistic data for the report benchmarks (`python -m bot.bench.bigseed`).

The default size writes 100,000 work orders and at least 1,000,000 tracking events, with the
pickups, conversations, hand-overs and reply decisions that go with them, all ending at
``end``. Everything is drawn from one `random.Random(seed)`: the same arguments give the same
rows. Rows go in through Core ``insert()`` executed with many parameter sets per batch
(``executemany``; psycopg2 turns it into multi-row VALUES), ids are given here so that
children can point at their parents without reading anything back, and PostgreSQL's id
sequences are moved past them at the end.

Shape of the data (invented, but in proportions a Yunnan branch would recognise):

* volume per day follows the week (Sunday lowest), public holidays (lower) and the shopping
  peaks (6·18, 11·11); hours follow the office day with an evening tail;
* mail is posted in Kunming, in the four prefectures or in other provinces, and travels
  outlet → centre → (Kunming hub) → centre → outlet; most is delivered, some waits at a
  station, fails, is refused and returned, is damaged, missorted, delayed for days or stops;
* work orders come from the eight channels with their own mix of categories, are filed under
  the county of the mail (or of the caller), get their deadline from the deadline policy and
  are mostly answered in time, closed, and called back; some are linked repeats;
* pickups are chased 0-5 times; the 3rd chase opens a high-priority pickup-service order and
  the 4th makes it urgent (as `bot.store.workorders.remind_pickup` does);
* customers write to the bot on some days; some of those days end with a hand-over, where
  agents accept, edit, reject suggestions or write their own reply, each agent at their rate.
"""
from __future__ import annotations

import argparse
import bisect
import itertools
import random
import sys
import time as clock
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from typing import Any, Callable, Iterator, Mapping, Sequence

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Connection, Engine

from bot.store.db import SCHEMA
from bot.store.models import MailItem
from bot.store.seed import BANNA, BAOSHAN, HONGHE, KUNMING, QUJING
from bot.store.status import Category, Channel, PickupStatus, Priority, WorkOrderStatus
from bot.store.status import StatusCode as S
from bot.text import gazetteer
from bot.text.tracking import s10_check_digit
from bot.workorders.policy import DeadlinePolicy, load_policy

Progress = Callable[[str], None]


@dataclass(frozen=True)
class YearSize:
    """How much to write: exactly `work_orders` orders, at least `tracking_events` scans."""

    work_orders: int = 100_000
    tracking_events: int = 1_000_000
    days: int = 365

    def __post_init__(self) -> None:
        if self.work_orders < 10 or self.tracking_events < 10 or self.days < 2:
            raise ValueError("a seed needs at least 10 work orders, 10 scans and 2 days")


@dataclass(frozen=True)
class SeedCounts:
    """Rows written per table (each field names its table), and the seconds it took."""

    mail_items: int = field(metadata={"table": "mail_item"})
    tracking_events: int = field(metadata={"table": "tracking_event"})
    work_orders: int = field(metadata={"table": "work_order"})
    work_order_events: int = field(metadata={"table": "work_order_event"})
    pickups: int = field(metadata={"table": "pickup_order"})
    pickup_reminders: int = field(metadata={"table": "pickup_reminder"})
    conversation_days: int = field(metadata={"table": "conversation_day"})
    handovers: int = field(metadata={"table": "handover_request"})
    agent_replies: int = field(metadata={"table": "agent_reply"})
    seconds: float

    @classmethod
    def of_tables(cls, written: Mapping[str, int], seconds: float) -> SeedCounts:
        """The counts of `written` (rows per table name)."""
        return cls(**{f.name: written[f.metadata["table"]] for f in fields(cls)
                      if "table" in f.metadata}, seconds=seconds)

    def per_table(self) -> dict[str, int]:
        """Rows written per table name (every table a seed writes)."""
        return {f.metadata["table"]: getattr(self, f.name) for f in fields(self)
                if "table" in f.metadata}

    def lines(self) -> list[str]:
        """One line per table, name and row count, for the command line."""
        return [f"{f.name:<18} {getattr(self, f.name):>10,}" for f in fields(self)
                if "table" in f.metadata]


# --- geography and people --------------------------------------------------------------------

# Resident population, 10k (rounded): how often a county sends, receives and complains.
COUNTY_WEIGHTS: dict[str, int] = {
    "麒麟区": 90, "沾益区": 42, "马龙区": 20, "陆良县": 65, "师宗县": 40, "罗平县": 55,
    "富源县": 70, "会泽县": 85, "宣威市": 130,
    "隆阳区": 95, "施甸县": 30, "龙陵县": 28, "昌宁县": 34, "腾冲市": 68,
    "个旧市": 37, "开远市": 33, "蒙自市": 60, "弥勒市": 56, "屏边苗族自治县": 15,
    "建水县": 54, "石屏县": 31, "泸西县": 41, "元阳县": 40, "红河县": 30,
    "金平苗族瑶族傣族自治县": 37, "绿春县": 24, "河口瑶族自治县": 11,
    "景洪市": 63, "勐海县": 35, "勐腊县": 31,
}
CENTRES = {gazetteer.QUJING: QUJING, gazetteer.BAOSHAN: BAOSHAN, gazetteer.HONGHE: HONGHE,
           gazetteer.BANNA: BANNA}
_OUTLET_NAMES = ("城关", "东城", "南门", "北门", "西城", "新区", "人民路", "火车站")
KUNMING_OUTLETS = ("昆明市五华区邮政分公司翠湖营业部", "昆明市官渡区邮政分公司关上营业部",
                   "昆明市盘龙区邮政分公司北京路营业部", "昆明市西山区邮政分公司前卫营业部")
# Other provinces: (outlet, their centre).
FAR_OUTLETS = (("上海市宝山区邮政分公司友谊路营业部", "上海邮区中心局"),
               ("广州市白云区邮政分公司三元里营业部", "广州邮区中心局"),
               ("杭州市余杭区邮政分公司临平营业部", "杭州邮区中心局"),
               ("成都市武侯区邮政分公司红牌楼营业部", "成都邮区中心局"),
               ("义乌市邮政分公司稠城营业部", "金华邮区中心局"))
SURNAMES = ("李王张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖"
            "田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢")
GIVEN = "文华明国建丽平春秀英志海云玉金红桂兰芳军伟强敏静燕磊洋艳勇涛晓俊宇婷雪梅琴鹏"
ROADS = ("人民路", "建设路", "文化路", "新华街", "解放路", "胜利路", "团结路", "南屏街", "北京路",
         "迎宾大道")
AGENTS = ("zhanglin", "wangfang", "liyan", "zhaomin", "chenjie", "yangxue", "huangli",
          "zhouqiang", "wuhong", "xuna", "sunli", "maxiao")
HANDOVER_REASONS = ("request_human", "fallback", "escalate_complaint", "delivery_service",
                    "lost_item", "damaged_item", "complaint_progress", "change_delivery",
                    "claim_compensation", "urge_pickup")

CHANNEL_WEIGHTS: dict[Channel, int] = {
    Channel.HOTLINE_11183: 30, Channel.WECHAT: 18, Channel.PINDUODUO: 14, Channel.CAINIAO: 10,
    Channel.GOV_12345: 9, Channel.DIRECT_11183: 9, Channel.SPB_TRANSFER: 6, Channel.STATE_GRID: 4,
}
_C = Category
CATEGORY_WEIGHTS: dict[str, dict[Category, int]] = {
    "default": {_C.DELAY: 34, _C.DELIVERY_SERVICE: 20, _C.LOST: 8, _C.DAMAGED: 10,
                _C.CONTENTS_MISSING: 4, _C.PICKUP_SERVICE: 5, _C.ATTITUDE: 7,
                _C.IMPROPER_FEE: 5, _C.DATA_LEAK: 1, _C.OTHER: 6},
    "platform": {_C.DELAY: 45, _C.DELIVERY_SERVICE: 15, _C.LOST: 10, _C.DAMAGED: 18,
                 _C.CONTENTS_MISSING: 8, _C.OTHER: 4},
    Channel.GOV_12345.value: {_C.DELAY: 25, _C.DELIVERY_SERVICE: 25, _C.ATTITUDE: 18,
                              _C.IMPROPER_FEE: 10, _C.LOST: 8, _C.DATA_LEAK: 4, _C.OTHER: 10},
    Channel.STATE_GRID.value: {_C.DELAY: 45, _C.LOST: 15, _C.OTHER: 40},
}
MAIL_CATEGORIES = {_C.DELAY, _C.LOST, _C.DAMAGED, _C.CONTENTS_MISSING, _C.DELIVERY_SERVICE}
# Share of orders answered within the deadline, per channel (the rest late or not at all).
ON_TIME = {Channel.SPB_TRANSFER: 0.84, Channel.DIRECT_11183: 0.9}
HOUR_WEIGHTS_ORDERS = (1, 1, 0, 0, 0, 1, 2, 4, 9, 12, 12, 11, 7, 6, 10, 11, 11, 10, 7, 6, 6, 5, 3,
                       2)
HOUR_WEIGHTS_POSTING = (0, 0, 0, 0, 0, 0, 0, 1, 6, 10, 11, 10, 7, 6, 9, 10, 10, 9, 6, 3, 1, 0, 0, 0)
DESCRIPTIONS: dict[Category, tuple[str, ...]] = {
    _C.DELAY: ("邮件多日未更新物流信息，客户催促尽快投递", "超过承诺时限仍未收到，要求说明原因",
               "买家催件，物流一直停在中心局"),
    _C.LOST: ("邮件显示已发出但一直未到，客户怀疑丢失", "查询无果，要求赔偿"),
    _C.DAMAGED: ("外包装破损，内件受损", "收到时箱子压坏，里面的东西碎了"),
    _C.CONTENTS_MISSING: ("包裹重量不对，内件短少", "收到后发现少了一件商品"),
    _C.DELIVERY_SERVICE: ("未经同意放驿站，也没打电话", "显示已签收但本人没有收到",
                          "投递员未按地址投递，要求上门"),
    _C.PICKUP_SERVICE: ("预约上门揽收未按时上门", "营业员拒绝收寄"),
    _C.ATTITUDE: ("营业员态度恶劣，拒绝解释资费", "投递员电话里语气很差"),
    _C.IMPROPER_FEE: ("到付金额与约定不一致，多收了钱", "驿站取件另收费"),
    _C.DATA_LEAK: ("快递面单信息被泄露，接到骚扰电话",),
    _C.OTHER: ("咨询赔偿进度", "电费发票挂号信一直没有收到"),
}


def _weighted(rng: random.Random, weights: Mapping[Any, float]) -> Callable[[], Any]:
    """A picker over `weights` (cumulative table and bisect: fast for many draws)."""
    keys = list(weights)
    cumulative = list(itertools.accumulate(weights[k] for k in keys))
    total = cumulative[-1]

    def pick() -> Any:
        return keys[bisect.bisect_right(cumulative, rng.random() * total)]

    return pick


@dataclass
class _Ids:
    """The next free id of each table."""

    values: dict[str, int]

    def take(self, table: str) -> int:
        value = self.values[table]
        self.values[table] = value + 1
        return value


class _Writer:
    """Buffers rows per table and inserts them with executemany in batches, parents first."""

    # The store's tables, each after those it refers to (the schema's dependency order).
    ORDER = tuple(t.name for t in SCHEMA.sorted_tables)

    def __init__(self, connection: Connection, batch: int) -> None:
        self.connection = connection
        self.batch = batch
        self.tables = {t.name: t for t in SCHEMA.sorted_tables}
        self.rows: dict[str, list[dict[str, Any]]] = {t: [] for t in self.ORDER}
        self.written: dict[str, int] = {t: 0 for t in self.ORDER}

    def add(self, table: str, row: dict[str, Any]) -> None:
        rows = self.rows[table]
        rows.append(row)
        if len(rows) >= self.batch:
            self.flush(upto=table)

    def flush(self, upto: str | None = None) -> None:
        """Insert what is buffered, for every table up to `upto` in FK order (all if None)."""
        for table in self.ORDER:
            rows = self.rows[table]
            if rows:
                self.connection.execute(insert(self.tables[table]), rows)
                self.written[table] += len(rows)
                self.rows[table] = []
            if table == upto:
                return


def _next_ids(connection: Connection) -> _Ids:
    # Every table keyed by an integer ``id``.
    values = {}
    for table in SCHEMA.sorted_tables:
        if "id" in table.c:
            highest = connection.execute(select(func.max(table.c.id))).scalar()
            values[table.name] = (highest or 0) + 1
    return _Ids(values)


class _World:
    """Everything drawn at random, from one generator."""

    def __init__(self, rng: random.Random, start: date, days: int) -> None:
        self.rng = rng
        self.start = start
        self.days = days
        self.county = _weighted(rng, COUNTY_WEIGHTS)
        self.hour_orders = _weighted(rng, dict(enumerate(HOUR_WEIGHTS_ORDERS)))
        self.hour_posting = _weighted(rng, dict(enumerate(HOUR_WEIGHTS_POSTING)))
        self.channel = _weighted(rng, CHANNEL_WEIGHTS)
        self.categories = {k: _weighted(rng, v) for k, v in CATEGORY_WEIGHTS.items()}
        self.outlets = {county: [f"{county}邮政分公司{name}营业部" for name in
                                 _OUTLET_NAMES[:2 + sum(map(ord, county)) % 3]]
                        for county in COUNTY_WEIGHTS}
        self.prefecture = {c: gazetteer.lookup(c).prefecture for c in COUNTY_WEIGHTS}  # type: ignore[union-attr]
        weights = [self.day_weight(start + timedelta(days=i)) for i in range(days)]
        self.day = _weighted(rng, dict(enumerate(weights)))
        self.day_weights = weights

    @staticmethod
    def day_weight(day: date) -> float:
        weight = (1.1, 1.05, 1.0, 1.0, 1.05, 0.85, 0.7)[day.weekday()]
        if (day.month, day.day) >= (11, 11) and (day.month, day.day) <= (11, 20):
            weight *= 1.8
        elif day.month == 6 and 18 <= day.day <= 24:
            weight *= 1.4
        try:
            import chinese_calendar

            if chinese_calendar.is_holiday(day) and day.weekday() < 5:
                weight *= 0.6
        except (ImportError, NotImplementedError):  # outside the package's years
            pass
        return weight

    def moment(self, day_index: int, hours: Callable[[], int]) -> datetime:
        base = datetime.combine(self.start + timedelta(days=day_index), datetime.min.time())
        return base + timedelta(hours=hours(), seconds=self.rng.randrange(3600))

    def phone(self) -> str:
        return f"1{self.rng.choice('3578')}{self.rng.randrange(10**9):09d}"

    def name(self) -> str:
        rng = self.rng
        return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))

    def address(self, county: str) -> str:
        rng = self.rng
        return (f"{county}{rng.choice(ROADS)}{rng.randrange(1, 300)}号"
                f"{rng.randrange(1, 20)}栋{rng.randrange(101, 1802)}室")

    def openid(self, n: int) -> str:
        return f"oYear{n:08d}"


# --- mail ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Mail:
    number: str
    county: str | None  # recipient county in the four prefectures (None: Kunming)
    unit: str           # delivering outlet
    posted_at: datetime


def _mail_number(serial: int, product: str) -> str:
    digits = f"{serial % 10**8:08d}"
    if product == "EMS":
        return f"EY{digits}{s10_check_digit(digits)}CN"
    if product == "挂号信":
        return f"RY{digits}{s10_check_digit(digits)}CN"
    return f"96{serial % 10**11:011d}"


def _trail(w: _World, posted: datetime, origin: str, origin_centre: str, dest_centre: str,
           dest_outlet: str) -> tuple[list[tuple[datetime, str, str, str]], str | None]:
    """The scans of one item (time, status, unit, description) and who signed, if anyone."""
    rng = w.rng
    at = posted
    scans = [(at, S.POSTED.value, origin, f"【{origin}】已收寄")]

    def step(hours_low: float, hours_high: float) -> datetime:
        nonlocal at
        at = at + timedelta(hours=rng.uniform(hours_low, hours_high))
        return at

    scans.append((step(1, 4), S.DEPARTED.value, origin,
                  f"【{origin}】已发出，下一站【{origin_centre}】"))
    centres = [origin_centre]
    if origin_centre != dest_centre:
        if KUNMING not in (origin_centre, dest_centre):
            centres.append(KUNMING)
        centres.append(dest_centre)
    fate = rng.random()
    damaged = fate < 0.006
    missorted = 0.006 <= fate < 0.01
    delayed = 0.01 <= fate < 0.025
    for i, centre in enumerate(centres):
        travel = (20, 40) if i == 1 and origin_centre not in CENTRES.values() \
            and origin_centre != KUNMING else (2, 9)
        arrived = f"【{centre}】已到达，正在进行分拣处理"
        if damaged and centre == dest_centre:
            arrived = f"【{centre}】已到达，邮件外包装破损，已拍照留存"
        scans.append((step(*travel), S.ARRIVED.value, centre, arrived))
        if missorted and centre == dest_centre:
            wrong = rng.choice([c for c in CENTRES.values() if c != dest_centre])
            scans.append((step(2, 6), S.DEPARTED.value, centre,
                          f"【{centre}】已发出，下一站【{wrong}】"))
            scans.append((step(4, 10), S.ARRIVED.value, wrong,
                          f"【{wrong}】邮件错分，正在退回原分拣中心"))
            scans.append((step(8, 20), S.ARRIVED.value, centre, arrived))
        if delayed and i == len(centres) - 1:
            step(50, 120)  # sits in the centre for days without a scan
        nxt = centres[i + 1] if i + 1 < len(centres) else dest_outlet
        scans.append((step(2, 8), S.DEPARTED.value, centre, f"【{centre}】已发出，下一站【{nxt}】"))
    scans.append((step(4, 16), S.ARRIVED.value, dest_outlet, f"【{dest_outlet}】已到达"))
    if fate > 0.98:  # stops moving: never scanned again
        return scans[:rng.randrange(2, len(scans) + 1)], None
    scans.append((step(1, 14), S.OUT_FOR_DELIVERY.value, dest_outlet,
                   f"【{dest_outlet}】安排投递，投递员：{w.name()}，请保持电话畅通"))
    outcome = rng.random()
    if outcome < 0.08:  # a station or a locker
        scans.append((step(1, 4), S.AT_STATION.value, dest_outlet,
                      f"【{dest_outlet}】已投递至驿站，请凭取件码 {rng.randrange(1, 9)}-"
                      f"{rng.randrange(1, 9)}-{rng.randrange(1000, 9999)} 及时领取"))
        if rng.random() < 0.9:
            scans.append((step(2, 80), S.DELIVERED.value, dest_outlet,
                          f"【{dest_outlet}】已妥投，驿站代收"))
            return scans, "驿站代收"
        scans.append((step(170, 190), S.RETURNING.value, dest_outlet,
                      f"【{dest_outlet}】驿站超时未取，邮件退回寄件人"))
        return scans, None
    if outcome < 0.13:  # failed once
        reason = rng.choice(("收件人电话无人接听", "收件人电话无法接通", "地址不详，查无此人"))
        scans.append((step(1, 5), S.FAILED.value, dest_outlet,
                      f"【{dest_outlet}】投递失败，原因：{reason}"))
        if rng.random() < 0.8:
            scans.append((step(16, 26), S.OUT_FOR_DELIVERY.value, dest_outlet,
                          f"【{dest_outlet}】再次安排投递"))
            scans.append((step(1, 5), S.DELIVERED.value, dest_outlet,
                          f"【{dest_outlet}】已妥投，签收人：本人签收"))
            return scans, "本人签收"
        scans.append((step(48, 96), S.RETURNING.value, dest_outlet,
                      f"【{dest_outlet}】邮件无法投递，已按规定退回寄件人"))
        return scans, None
    if outcome < 0.145:  # refused
        scans.append((step(1, 3), S.RETURNING.value, dest_outlet,
                      f"【{dest_outlet}】收件人拒收，邮件正在退回寄件人"))
        scans.append((step(30, 70), S.ARRIVED.value, origin, f"【{origin}】退回邮件已到达"))
        scans.append((step(2, 20), S.RETURNED.value, origin, f"【{origin}】退回妥投，寄件人已签收"))
        return scans, None
    signer = rng.choice(("本人签收", "本人签收", "本人签收", "家人代收", "门卫代收", "快递柜"))
    scans.append((step(0.5, 5), S.DELIVERED.value, dest_outlet,
                  f"【{dest_outlet}】已妥投，签收人：{signer}"))
    return scans, signer


def _seed_mail(w: _World, writer: _Writer, ids: _Ids, end: datetime, target_events: int,
               serials: Iterator[int]) -> list[list[_Mail]]:
    """Write mail until `target_events` scans are written; returns the items per posting day."""
    rng = w.rng
    by_day: list[list[_Mail]] = [[] for _ in range(w.days)]
    product = _weighted(rng, {"EMS": 45, "邮政快递包裹": 47, "挂号信": 8})
    written = 0
    mean_scans = 9.5
    planned = max(1, int(target_events / mean_scans))
    total_weight = sum(w.day_weights)
    quota = [max(1, round(planned * wt / total_weight)) for wt in w.day_weights]

    def one(day_index: int) -> int:
        posted = w.moment(day_index, w.hour_posting)
        if posted > end:
            return 0
        roll = rng.random()
        if roll < 0.28:
            origin, origin_centre, origin_area = rng.choice(KUNMING_OUTLETS), KUNMING, "昆明市"
        elif roll < 0.42:
            origin, origin_centre = rng.choice(FAR_OUTLETS)
            origin_area = origin[:3]
        else:
            area = w.county()
            origin, origin_centre, origin_area = (rng.choice(w.outlets[area]),
                                                  CENTRES[w.prefecture[area]], area)
        if origin_centre in CENTRES.values() and rng.random() < 0.12:
            county, dest_centre, dest_outlet = None, KUNMING, rng.choice(KUNMING_OUTLETS)
            recipient_area, recipient_pref = "昆明市", "昆明市"
        else:
            county = w.county()
            dest_centre, dest_outlet = CENTRES[w.prefecture[county]], rng.choice(w.outlets[county])
            recipient_area, recipient_pref = county, w.prefecture[county]
        kind = product()
        scans, signer = _trail(w, posted, origin, origin_centre, dest_centre, dest_outlet)
        scans = [s for s in scans if s[0] <= end]
        mail_id = ids.take("mail_item")
        number = _mail_number(next(serials), kind)
        promised = {"EMS": 48 if county and origin_centre == dest_centre else 72,
                    "邮政快递包裹": 96}.get(kind)
        final = scans[-1][1]
        writer.add("mail_item", {
            "id": mail_id, "number": number, "product": kind,
            "sender_area": origin_area,
            "sender_prefecture": w.prefecture.get(origin_area, origin_area),
            "recipient_area": recipient_area, "recipient_prefecture": recipient_pref,
            "recipient_name": w.name(), "recipient_phone": w.phone(),
            "recipient_address": w.address(recipient_area),
            "posted_at": posted,
            "promised_by": posted + timedelta(hours=promised) if promised else None,
            "insured_value": None if rng.random() < 0.9 else f"{rng.randrange(5, 300) * 10}.00",
            "postage": f"{rng.randrange(4, 40)}.00" if kind != "挂号信" else "4.20",
            "weight_g": rng.randrange(20, 8000), "status": final,
            "signed_by": signer if final == S.DELIVERED.value else None,
            "created_at": posted,
        })
        for at, status, unit, description in scans:
            writer.add("tracking_event", {"mail_id": mail_id, "occurred_at": at, "place": unit,
                                          "unit": unit, "status_code": status,
                                          "description": description})
        if county is not None:  # complaints about mail to the four prefectures only
            by_day[day_index].append(_Mail(number, county, dest_outlet, posted))
        return len(scans)

    for day_index, n in enumerate(quota):
        for _ in range(n):
            written += one(day_index)
    while written < target_events:  # top up, on days drawn like the others
        written += one(w.day())
    return by_day


# --- work orders -----------------------------------------------------------------------------


class _Orders:
    """Writes work orders and their history; keeps recent customers for repeat complaints."""

    def __init__(self, w: _World, writer: _Writer, ids: _Ids, policy: DeadlinePolicy,
                 end: datetime) -> None:
        self.w, self.writer, self.ids, self.policy, self.end = w, writer, ids, policy, end
        self.recent: list[tuple[str | None, str | None]] = []  # (phone, sender) of recent orders
        self.written = 0

    def event(self, order_id: int, at: datetime, actor: str, action: str, detail: str) -> None:
        if at <= self.end:
            self.writer.add("work_order_event", {"work_order_id": order_id, "at": at,
                                                 "actor": actor, "action": action,
                                                 "detail": detail})

    def _answer_time(self, channel: Channel, opened: datetime, deadline: datetime) -> datetime:
        rng = self.w.rng
        if rng.random() < ON_TIME.get(channel, 0.94):
            return opened + (deadline - opened) * rng.uniform(0.05, 0.97)
        return deadline + timedelta(hours=rng.uniform(0.3, 40))

    def write(self, *, channel: Channel, category: Category, opened: datetime,
              county: str | None, unit: str | None, mail_number: str | None, phone: str | None,
              sender: str | None, description: str, priority: Priority,
              pickup_id: int | None = None, contacts: int = 1,
              extra_events: Sequence[tuple[datetime, str, str, str]] = ()) -> None:
        """One order with its life so far (as of `end`) and its history lines."""
        rng = self.w.rng
        order_id = self.ids.take("work_order")
        deadline = self.policy.deadline(channel.value, opened, unit)
        agent = f"agent:{rng.choice(AGENTS)}"
        actor = "bot" if channel is Channel.WECHAT else f"import:{channel.value}"
        history = [(opened, actor, "created", f"{channel.label} · {category.label}")]
        history.extend(extra_events)
        for k in range(1, contacts):
            history.append((opened + timedelta(hours=rng.uniform(2, 60) * k), actor, "linked",
                            f"同一邮件同类问题再次反映（{channel.label}）"))
        answered = closed = None
        satisfied = None
        cycles = 2 if rng.random() < 0.015 else 1  # reopened once
        start = opened
        for cycle in range(cycles):
            if cycle:
                if closed is None:
                    break
                reopened_at = closed + timedelta(hours=rng.uniform(12, 96))
                if reopened_at > self.end:
                    break
                history.append((reopened_at, agent, "reopened", "客户对处理结果不满意"))
                start, answered, closed, satisfied = reopened_at, None, None, None
                deadline = self.policy.deadline(channel.value, reopened_at, unit)
            if rng.random() < 0.6:
                history.append((start + timedelta(minutes=rng.uniform(5, 90)), agent,
                                "in_progress", ""))
            if rng.random() < 0.025:  # closed without feedback (duplicate, withdrawn)
                at = start + timedelta(hours=rng.uniform(1, 30))
                if at <= self.end:
                    closed = at
                    history.append((at, agent, "closed", "客户撤回"))
                continue
            at = self._answer_time(channel, start, deadline)
            if at > self.end:
                break
            answered = at
            history.append((at, agent, "feedback", "已核实情况并答复客户"))
            if rng.random() < 0.78:
                at = answered + timedelta(hours=rng.uniform(2, 48))
                if at <= self.end:
                    satisfied = rng.random() < 0.9
                    history.append((at, agent, "callback", "满意" if satisfied else "不满意"))
            if rng.random() < 0.985:
                at = answered + timedelta(hours=rng.uniform(4, 96))
                if at <= self.end:
                    closed = at
                    history.append((at, agent, "closed", ""))
        if closed is not None:
            status = WorkOrderStatus.CLOSED
        elif satisfied is not None:
            status = WorkOrderStatus.CALLED_BACK
        elif answered is not None:
            status = WorkOrderStatus.ANSWERED
        elif cycles == 2 and any(h[2] == "reopened" for h in history):
            status = WorkOrderStatus.REOPENED
        else:
            status = WorkOrderStatus.IN_PROGRESS if any(h[2] == "in_progress" for h in history) \
                else WorkOrderStatus.NEW
        self.writer.add("work_order", {
            "id": order_id, "number": f"GD{opened:%Y%m%d}{order_id:05d}", "external_id": None,
            "channel": channel.value, "category": category.value, "mail_number": mail_number,
            "customer_phone": phone, "customer_name": self.w.name() if rng.random() < 0.6 else None,
            "sender_id": sender, "description": description, "priority": priority.value,
            "assigned_unit": unit, "county": county, "status": status.value,
            "opened_at": opened, "deadline": deadline, "answered_at": answered,
            "closed_at": closed, "callback_satisfied": satisfied,
            "responsible_unit": unit if closed is not None and rng.random() < 0.7 else None,
            "contacts": contacts, "pickup_id": pickup_id,
        })
        for at, who, action, detail in sorted(history, key=lambda h: h[0]):
            self.event(order_id, at, who, action, detail)
        self.recent.append((phone, sender))
        if len(self.recent) > 1500:
            del self.recent[:500]
        self.written += 1


def _take_mail(w: _World, mail_by_day: list[list[_Mail]], day_index: int) -> _Mail | None:
    """A mail posted 1-10 days before `day_index` not yet complained about (each used once)."""
    rng = w.rng
    for _ in range(4):
        pool = mail_by_day[max(0, day_index - rng.randrange(1, 11))]
        if pool:
            i = rng.randrange(len(pool))
            pool[i], pool[-1] = pool[-1], pool[i]
            return pool.pop()
    return None


def _seed_pickups(w: _World, writer: _Writer, ids: _Ids, orders: _Orders, end: datetime,
                  count: int, wechat_senders: int) -> None:
    rng = w.rng
    chases = _weighted(rng, {0: 720, 1: 130, 2: 75, 3: 50, 4: 18, 5: 7})
    for _ in range(count):
        day_index = w.day()
        created = w.moment(day_index, w.hour_orders)
        if created > end:
            continue
        pickup_id = ids.take("pickup_order")
        channel = Channel.WECHAT if rng.random() < 0.6 else Channel.HOTLINE_11183
        county = w.county()
        sender = w.openid(rng.randrange(wechat_senders)) if channel is Channel.WECHAT else None
        phone, window = w.phone(), rng.choice(("今天上午", "今天下午", "明天上午", "明天下午"))
        number = f"LS{created:%Y%m%d}{pickup_id:05d}"
        reminders = []
        at = created
        for _ in range(chases()):
            at = at + timedelta(hours=rng.uniform(0.5, 3))
            if at > end:
                break
            reminders.append(at)
        done = (reminders[-1] if reminders else created) + timedelta(hours=rng.uniform(1, 8))
        status = (PickupStatus.BOOKED if done > end else
                  PickupStatus.CANCELLED if rng.random() < 0.04 else PickupStatus.COLLECTED)
        writer.add("pickup_order", {
            "id": pickup_id, "number": number, "sender_id": sender, "channel": channel.value,
            "address": w.address(county), "phone": phone, "time_window": window,
            "status": status.value, "created_at": created,
            "updated_at": min(done, end) if status is not PickupStatus.BOOKED else created,
        })
        for k, moment in enumerate(reminders, 1):
            writer.add("pickup_reminder", {"pickup_id": pickup_id, "turn_key": f"year:{k}",
                                           "at": moment})
        if len(reminders) >= 3:
            extra = []
            if len(reminders) >= 4:
                extra.append((reminders[3], "bot", "priority", "紧急：第4次催揽收"))
            for k, moment in enumerate(reminders[4:], 5):
                extra.append((moment, "bot", "reminder", f"客户第{k}次催揽收"))
            orders.write(
                channel=channel, category=Category.PICKUP_SERVICE, opened=reminders[2],
                county=county, unit=rng.choice(w.outlets[county]), mail_number=None,
                phone=phone, sender=sender,
                description=f"预约揽收 {number} 第3次催促仍未上门（{window}）",
                priority=Priority.URGENT if len(reminders) >= 4 else Priority.HIGH,
                pickup_id=pickup_id, extra_events=extra)


def _seed_orders(w: _World, orders: _Orders, mail_by_day: list[list[_Mail]], end: datetime,
                 count: int, wechat_senders: int) -> None:
    rng = w.rng
    while orders.written < count:
        day_index = w.day()
        opened = w.moment(day_index, w.hour_orders)
        if opened > end:
            continue
        channel = w.channel()
        mix = "platform" if channel in (Channel.PINDUODUO, Channel.CAINIAO) else channel.value
        category = w.categories.get(mix, w.categories["default"])()
        mail = _take_mail(w, mail_by_day, day_index) if category in MAIL_CATEGORIES \
            and rng.random() < 0.9 else None
        county = mail.county if mail is not None else w.county()
        if rng.random() < 0.03:
            county = None
        unit = (mail.unit if mail is not None
                else rng.choice(w.outlets[county]) if county else None)
        sender = w.openid(rng.randrange(wechat_senders)) if channel is Channel.WECHAT else None
        phone = w.phone() if rng.random() < 0.93 else None
        if orders.recent and rng.random() < 0.05:  # the same customer complains again
            phone, sender = rng.choice(orders.recent[-600:])
        description = rng.choice(DESCRIPTIONS[category])
        if phone and rng.random() < 0.3:
            description += f"，联系电话{phone}"
        priority = Priority.HIGH if (channel is Channel.SPB_TRANSFER and rng.random() < 0.6) \
            or rng.random() < 0.04 else Priority.NORMAL
        contacts = 1 if rng.random() < 0.94 else rng.choice((2, 2, 2, 3))
        orders.write(channel=channel, category=category, opened=opened, county=county,
                     unit=unit, mail_number=mail.number if mail else None, phone=phone,
                     sender=sender, description=description, priority=priority,
                     contacts=contacts if mail else 1)


# --- conversations, hand-overs, replies ------------------------------------------------------


def _seed_conversations(w: _World, writer: _Writer, ids: _Ids, end: datetime, count: int,
                        senders: int) -> None:
    rng = w.rng
    agent_rate = {a: 0.55 + 0.35 * i / (len(AGENTS) - 1) for i, a in enumerate(AGENTS)}
    seen: set[tuple[int, str, int]] = set()
    written = 0
    while written < count:
        day_index = w.day()
        sender_n = rng.randrange(senders)
        channel = "wechat" if rng.random() < 0.85 else "rest"
        key = (sender_n, channel, day_index)
        first = w.moment(day_index, w.hour_orders)
        if key in seen or first > end:
            continue
        seen.add(key)
        written += 1
        sender = w.openid(sender_n) if channel == "wechat" else f"rest-{sender_n:08d}"
        writer.add("conversation_day", {"id": ids.take("conversation_day"), "sender_id": sender,
                                        "channel": channel, "day": first.date(),
                                        "messages": rng.randrange(1, 12)})
        if rng.random() >= 0.15:
            continue
        handover_id = ids.take("handover_request")
        agent = rng.choice(AGENTS)
        created = first + timedelta(minutes=rng.uniform(1, 20))
        claimed = created + timedelta(minutes=rng.uniform(0.5, 15))
        closed = claimed + timedelta(minutes=rng.uniform(3, 40))
        if closed > end:
            closed = claimed = None  # type: ignore[assignment]
        writer.add("handover_request", {
            "id": handover_id, "sender_id": sender, "channel": channel,
            "reason": rng.choice(HANDOVER_REASONS), "last_message": "转人工",
            "intent": None, "status": "closed" if closed else "waiting",
            "created_at": created, "updated_at": closed or created,
            "assigned_to": agent if closed else None, "claimed_at": claimed,
            "closed_at": closed})
        if not closed:
            continue
        for k in range(rng.choice((1, 1, 2, 2, 3))):
            at = claimed + (closed - claimed) * (k + 1) / 4
            if rng.random() < 0.15:
                decision, suggested, distance = "written", None, None
                final = "您好，已为您登记，请耐心等待。"
            else:
                suggested = "您好，您的邮件正在运输途中，我们已联系相关网点加快处理。"
                roll = rng.random()
                rate = agent_rate[agent]
                if roll < rate * 0.6:
                    decision, final, distance = "accepted", suggested, 0
                elif roll < rate:
                    distance = rng.randrange(2, 30)
                    decision, final = "edited", suggested + "给您带来不便，敬请谅解。"[:distance]
                else:
                    decision, final, distance = "rejected", None, None
            reply_id = ids.take("agent_reply")
            writer.add("agent_reply", {
                "id": reply_id, "request_key": f"year-{reply_id}", "handover_id": handover_id,
                "sender_id": sender, "channel": channel, "agent": agent,
                "suggestion_kind": "status" if suggested else None,
                "suggested_text": suggested, "final_text": final, "decision": decision,
                "edit_distance": distance, "delivery": "none" if final is None else "sent",
                "delivery_error": "", "created_at": at,
                "delivered_at": at if final is not None else None})


# --- the whole year --------------------------------------------------------------------------


def _reset_sequences(connection: Connection, written: Mapping[str, int]) -> None:
    if connection.dialect.name != "postgresql":
        return
    for table in (name for name in _Writer.ORDER if written[name]):
        connection.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"))


def seed_year(engine: Engine, end: datetime, size: YearSize = YearSize(), seed: int = 2025,
              policy: DeadlinePolicy | None = None, batch: int = 5000,
              progress: Progress | None = None) -> SeedCounts:
    """Write `size` worth of data for the `size.days` days ending at `end` (naive Beijing time).

    The schema must exist (`bot.store.db.create_schema`). Rows already stored are kept; new
    ids continue after theirs. Runs in one transaction and ends with ANALYZE.

    Args:
        engine: the store's engine.
        end: the last moment of the data (nothing happens after it).
        size: how many work orders and tracking events, over how many days.
        seed: the random seed; the same seed and arguments give the same data.
        policy: the deadline policy (default: the packaged policy.yml).
        batch: rows per executemany.
        progress: called with a line of text after each phase.

    Returns:
        The rows written per table.
    """
    say = progress or (lambda _line: None)
    began = clock.perf_counter()
    policy = policy or load_policy()
    rng = random.Random(seed)
    first_day = (end - timedelta(days=size.days - 1)).date()
    w = _World(rng, first_day, size.days)
    wechat_senders = max(10, size.work_orders // 2)
    with engine.begin() as connection:
        ids = _next_ids(connection)
        writer = _Writer(connection, batch)
        serials = itertools.count(rng.randrange(10**7) * 10)
        mail_by_day = _seed_mail(w, writer, ids, end, size.tracking_events, serials)
        writer.flush()
        say(f"mail: {writer.written['mail_item']:,} items, "
            f"{writer.written['tracking_event']:,} scans ({clock.perf_counter() - began:.1f} s)")
        orders = _Orders(w, writer, ids, policy, end)
        pickups = max(1, int(size.work_orders * 0.28))
        _seed_pickups(w, writer, ids, orders, end, pickups, wechat_senders)
        escalations = orders.written
        if escalations > size.work_orders:
            raise ValueError("too few work orders for the pickups' escalations; seed more")
        _seed_orders(w, orders, mail_by_day, end, size.work_orders, wechat_senders)
        writer.flush()
        say(f"work orders: {writer.written['work_order']:,} ({escalations:,} pickup "
            f"escalations), {writer.written['pickup_order']:,} pickups "
            f"({clock.perf_counter() - began:.1f} s)")
        _seed_conversations(w, writer, ids, end, int(size.work_orders * 1.6), wechat_senders)
        writer.flush()
        _reset_sequences(connection, writer.written)
        say(f"conversations: {writer.written['conversation_day']:,} days, "
            f"{writer.written['handover_request']:,} hand-overs "
            f"({clock.perf_counter() - began:.1f} s)")
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    return SeedCounts.of_tables(writer.written, seconds=clock.perf_counter() - began)


# --- command line ----------------------------------------------------------------------------


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"日期格式应为 YYYY-MM-DD：{value!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m bot.bench.bigseed``."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.bench.bigseed",
        description="write a year of realistic data for the benchmarks "
                    "(refuses a store that already has it)")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--end", type=_date, default=None,
                        help="the last day of the data (default: yesterday)")
    parser.add_argument("--work-orders", type=int, default=100_000)
    parser.add_argument("--tracking-events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=2025,
                        help="random seed (same seed, same data)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Seed the year into ``--database-url``; 0 when done, 2 when it cannot or already has it."""
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from bot.config import local_now
    from bot.store.db import create_schema, make_engine

    args = build_parser().parse_args(argv)
    end_day = args.end or local_now().date() - timedelta(days=1)
    end = datetime.combine(end_day, time(23, 59))
    try:
        engine = make_engine(args.database_url)
        try:
            create_schema(engine)
            with engine.connect() as connection:
                seeded = connection.execute(select(func.count(MailItem.id))
                                            .where(MailItem.number.like("EY%"))).scalar_one()
            if seeded:
                print("这个数据库里已经有一年的演示数据（EY 开头的邮件），不再重复写入。",
                      file=sys.stderr)
                return 2
            counts = seed_year(engine, end,
                               YearSize(args.work_orders, args.tracking_events, args.days),
                               seed=args.seed, progress=print)
        finally:
            engine.dispose()
    except (ArgumentError, SQLAlchemyError) as exc:
        print(f"数据库不可用：{type(exc).__name__}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print("\n".join(counts.lines()))
    print(f"{counts.seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The year seeder, at a small size: the promised counts, consistent rows, same seed same data."""
from __future__ import annotations

import hashlib
from datetime import datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.bench.bigseed import YearSize, main, seed_year
from bot.reports.daily import build_daily
from bot.reports.monthly import build_monthly
from bot.reports.periods import Month
from bot.store import workorders as wo
from bot.store.db import SCHEMA, create_schema, make_engine, make_session_factory
from bot.store.models import PickupReminder, TrackingEvent, WorkOrder
from bot.store.status import Category, Channel
from bot.store.uow import uow_factory
from bot.workorders.policy import load_policy

END = datetime(2025, 6, 30, 18, 0)
SIZE = YearSize(work_orders=400, tracking_events=4000, days=45)


def _count(engine: Engine, model) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(model)).scalar_one()


def test_the_promised_counts_are_written(engine: Engine) -> None:
    counts = seed_year(engine, END, SIZE)
    assert counts.work_orders == _count(engine, WorkOrder) == 400
    assert counts.tracking_events == _count(engine, TrackingEvent) >= 4000
    written = counts.per_table()  # every table the seed reports
    for table in SCHEMA.sorted_tables:
        if table.name in written:
            assert _count(engine, table) == written[table.name] > 0, table.name


def test_the_rows_hang_together(engine: Engine) -> None:
    seed_year(engine, END, SIZE)
    with engine.connect() as c:
        assert c.execute(select(func.max(TrackingEvent.occurred_at))).scalar_one() <= END
        assert c.execute(select(func.max(WorkOrder.opened_at))).scalar_one() <= END
        assert c.execute(select(func.count()).select_from(WorkOrder)
                         .where(WorkOrder.deadline <= WorkOrder.opened_at)).scalar_one() == 0
        # Closed orders carry closed_at, open ones do not.
        assert c.execute(select(func.count()).select_from(WorkOrder).where(
            (WorkOrder.status == "closed") != WorkOrder.closed_at.is_not(None))).scalar_one() == 0
        # Every pickup chased 3+ times has its escalation order, urgent from the 4th chase.
        chased = (select(PickupReminder.pickup_id, func.count().label("n"))
                  .group_by(PickupReminder.pickup_id).subquery())
        rows = c.execute(select(chased.c.n, WorkOrder.priority, WorkOrder.category)
                         .select_from(chased)
                         .outerjoin(WorkOrder, WorkOrder.pickup_id == chased.c.pickup_id)
                         .where(chased.c.n >= 3)).all()
        assert rows
        for n, priority, category in rows:
            assert category == Category.PICKUP_SERVICE.value
            assert priority == ("urgent" if n >= 4 else "high")
        channels = set(c.execute(select(WorkOrder.channel).distinct()).scalars())
        assert channels == {ch.value for ch in Channel}


def test_the_same_seed_gives_the_same_data(tmp_path) -> None:  # type: ignore[no-untyped-def]
    digests = []
    for name in ("a", "b"):
        engine = make_engine(f"sqlite:///{tmp_path}/{name}.db")
        create_schema(engine)
        seed_year(engine, END, SIZE, seed=7)
        with engine.connect() as c:
            rows = c.execute(select(WorkOrder.number, WorkOrder.channel, WorkOrder.county,
                                    WorkOrder.opened_at, WorkOrder.answered_at,
                                    WorkOrder.customer_phone).order_by(WorkOrder.id)).all()
            scans = c.execute(select(func.count(), func.max(TrackingEvent.description))).one()
        digests.append(hashlib.sha256(repr((rows, scans)).encode()).hexdigest())
        engine.dispose()
    assert digests[0] == digests[1]


def test_the_store_keeps_working_after_the_seed(engine: Engine) -> None:
    seed_year(engine, END, SIZE)
    uows = uow_factory(make_session_factory(engine))
    # New rows get fresh ids after the seeded ones (PostgreSQL's sequences were moved on).
    opened = wo.open_work_order(uows, load_policy(), wo.NewWorkOrder(
        Channel.WECHAT, Category.OTHER, "seed 之后的新工单"), END)
    assert opened.created
    report = build_monthly(uows, Month(2025, 6), END)
    assert report.kpi("received").value > 200
    assert 0 < report.kpi("timeliness").value < 1
    daily = build_daily(uows, END.date(), END)
    assert daily.abnormal_items >= 0


def test_sizes_too_small_are_refused() -> None:
    with pytest.raises(ValueError):
        YearSize(work_orders=1)


def test_the_command_line_seeds_once(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path}/year.db"
    argv = ["--database-url", url, "--end", "2025-06-30", "--work-orders", "300",
            "--tracking-events", "3000", "--days", "30"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "work_orders               300" in out
    assert main(argv) == 2
    assert "已经有一年的演示数据" in capsys.readouterr().err

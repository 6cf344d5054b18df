"""Import of other channels' work-order exports, on SQLite and PostgreSQL, with the real policy.

The fixture files are written by the tests into tmp_path: Excel files with real date-time
cells, CSV files in GBK and in UTF-8 with BOM.
"""
from __future__ import annotations

import csv
import io
import itertools
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Sequence

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from bot.store.models import WorkOrder
from bot.store.status import Category, Channel, Priority
from bot.store.uow import UnitOfWork, UowFactory
from bot.store.workorders import find_work_orders, get_work_order
from bot.text.tracking import make_ems13, make_s10
from bot.workorders import importer
from bot.workorders.__main__ import main
from bot.workorders.importer import (
    MissingColumns,
    ParsedRow,
    RawRow,
    RowError,
    UnreadableFile,
    import_file,
    parse_row,
    read_rows,
)
from bot.workorders.policy import DeadlinePolicy, load_policy

# Received times are Wednesday 2025-06-11; the import runs the next morning.
RECEIVED = datetime(2025, 6, 11, 10, 0)
NOW = datetime(2025, 6, 12, 9, 0)

MAIL_A = make_s10("EA", "12345678")              # EA123456785CN
MAIL_B = make_ems13("10", "87654321", "20")      # 1087654321620
MAIL_BAD = MAIL_A[:10] + str((int(MAIL_A[10]) + 1) % 10) + MAIL_A[11:]  # wrong check digit
PHONE = "13812345678"
PHONE_MASKED = "138****5678"

HEADER = ["工单编号", "受理时间", "邮件号", "联系电话", "客户姓名", "投诉类别", "问题描述", "区县", "优先级"]


@pytest.fixture(scope="module")
def rules() -> DeadlinePolicy:
    return load_policy()


def row(external_id: Any = "12345-001", received: Any = "2025-06-11 10:00", mail: Any = MAIL_A,
        phone: Any = PHONE, name: Any = "张三", category: Any = "延误",
        description: Any = "邮件五天没有动静", county: Any = "蒙自", priority: Any = "") -> list[Any]:
    return [external_id, received, mail, phone, name, category, description, county, priority]


def write_xlsx(path: Path, rows: Sequence[Sequence[Any]], header: Sequence[str] = HEADER) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(header))
    for values in rows:
        sheet.append(list(values))
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            if isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
    workbook.save(path)
    return path


def write_csv(path: Path, rows: Sequence[Sequence[Any]], encoding: str = "utf-8-sig",
              delimiter: str = ",", header: Sequence[str] = HEADER) -> Path:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def count_orders(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(WorkOrder)).scalar_one()


def reasons(report: importer.ImportReport) -> dict[int, str]:
    return {error.row_number: error.reason for error in report.rejected}


# --------------------------------------------------------------------------- file formats


def test_xlsx_with_datetime_cells_imports(tmp_path: Path, uows: UowFactory,
                                          rules: DeadlinePolicy) -> None:
    path = write_xlsx(tmp_path / "12345.xlsx", [
        # numeric cells as Excel keeps them: order number, phone
        row(202506110001, RECEIVED, MAIL_A, 13812345678, "张三", "破损", "外箱压坏，杯子碎了",
            "腾冲", "加急"),
        row("202506110002", datetime(2025, 6, 11, 10, 5, 30), MAIL_B, "0871-63019518", None,
            "遗失", "一直没收到", "河口瑶族自治县", "特急"),
    ])
    report = import_file(uows, rules, path, Channel.GOV_12345, NOW)
    assert [(o.row_number, o.external_id) for o in report.imported] == [
        (2, "202506110001"), (3, "202506110002")]
    assert not report.rejected and not report.already and not report.linked

    first = get_work_order(uows, rules, report.imported[0].order_number, NOW)
    assert (first.channel, first.category, first.priority) == (
        Channel.GOV_12345, Category.DAMAGED, Priority.HIGH)
    assert (first.mail_number, first.customer_phone, first.county) == (MAIL_A, PHONE, "腾冲市")
    assert first.opened_at == RECEIVED and first.deadline == RECEIVED + timedelta(hours=24)
    assert first.history[0].actor == "import:12345"
    second = get_work_order(uows, rules, report.imported[1].order_number, NOW)
    assert (second.category, second.priority, second.customer_phone) == (
        Category.LOST, Priority.URGENT, "087163019518")
    assert second.opened_at == datetime(2025, 6, 11, 10, 5, 30)
    assert second.customer_name is None


@pytest.mark.parametrize("encoding, delimiter", [
    ("gbk", ","), ("utf-8-sig", ","), ("utf-8", "\t"), ("gb18030", "\t")])
def test_csv_in_gbk_and_utf8_imports(tmp_path: Path, uows: UowFactory, rules: DeadlinePolicy,
                                     encoding: str, delimiter: str) -> None:
    path = write_csv(tmp_path / "pdd.csv", [
        row("PDD-1", "2025/6/11 10:05", description="快递员态度恶劣，还骂人", category="服务态度"),
        row("PDD-2", "2025-06-11T10:07:00", mail="", phone="", county="红河州蒙自市",
            category="乱收费", description="上门揽收多收了10元"),
    ], encoding=encoding, delimiter=delimiter)
    report = import_file(uows, rules, path, Channel.PINDUODUO, NOW)
    assert [o.row_number for o in report.imported] == [2, 3] and not report.rejected
    orders = {o.external_id: o for o in
              (get_work_order(uows, rules, x.order_number, NOW) for x in report.imported)}
    assert orders["PDD-1"].description == "快递员态度恶劣，还骂人"  # decoded, not mojibake
    assert orders["PDD-1"].category is Category.ATTITUDE
    assert orders["PDD-1"].opened_at == datetime(2025, 6, 11, 10, 5)
    assert orders["PDD-2"].category is Category.IMPROPER_FEE
    assert orders["PDD-2"].mail_number is None and orders["PDD-2"].customer_phone is None
    assert orders["PDD-2"].county == "蒙自市"


def test_header_synonyms_title_row_and_extra_columns(tmp_path: Path) -> None:
    header = ["序号", "工单号", "派单时间", "运单号", "客户电话", "联系人", "问题类型",
              "投诉内容", "所属区县", "紧急程度", "承办单位"]
    content = [
        ["12345政务服务便民热线工单导出"],   # a title line above the header
        header,
        [1, "A-1", "2025-06-11 10:00", MAIL_A, PHONE, "李四", "时效", "太慢了", "版纳",
         "一般", "某某局"],
        [],
        [2, "A-2", "2025-06-11 10:00", "", "", "", "其他", "咨询", "昆明市五华区", "", ""],
        [3, "", "", "", "", "", "", "", "", "", "只有无关列有值"],
    ]
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(content)
    path = tmp_path / "12345.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")

    rows = list(read_rows(path))
    assert [r.row_number for r in rows] == [3, 5]  # blank and irrelevant rows skipped
    assert set(rows[0].values) == {"external_id", "received_at", "mail_number", "customer_phone",
                                   "customer_name", "category", "description", "county", "priority"}
    first, second = (parse_row(r, Channel.GOV_12345, NOW) for r in rows)
    assert isinstance(first, ParsedRow) and isinstance(second, ParsedRow)
    assert first.request.category is Category.DELAY and first.request.priority is Priority.NORMAL
    assert first.request.customer_name == "李四"
    assert first.request.county == "版纳"          # a prefecture, not a county: kept as written
    assert second.request.county == "昆明市五华区"  # not one of ours: kept as written


def test_most_specific_header_wins(tmp_path: Path) -> None:
    header = ["编号", "工单编号", "受理时间", "类别", "投诉类别", "内容", "问题描述"]
    path = write_csv(tmp_path / "x.csv", [
        ["1", "W-9", "2025-06-11 10:00", "咨询", "丢失", "序号列", "包裹丢了"]], header=header)
    (raw,) = read_rows(path)
    parsed = parse_row(raw, Channel.CAINIAO, NOW)
    assert isinstance(parsed, ParsedRow)
    assert (parsed.external_id, parsed.request.category, parsed.request.description) == (
        "W-9", Category.LOST, "包裹丢了")


@pytest.mark.parametrize("header, missing", [
    (["工单编号", "受理时间", "邮件号", "问题描述"], ["投诉类别"]),
    (["编号", "类别", "内容"], ["受理时间"]),
    (["邮件号", "联系电话"], ["工单编号", "受理时间", "投诉类别", "问题描述"]),
])
def test_missing_required_columns_are_named(tmp_path: Path, header: list[str],
                                            missing: list[str]) -> None:
    path = write_csv(tmp_path / "x.csv", [["x"] * len(header)], header=header)
    with pytest.raises(MissingColumns) as exc:
        list(read_rows(path))
    assert [c.label for c in exc.value.missing] == missing
    for label in missing:
        assert label in str(exc.value)


@pytest.mark.parametrize("name, content, message", [
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, ".xls"),
    ("broken.xlsx", b"PK\x03\x04 not really a zip", "Excel"),
    ("fake.xlsx", b"just text", ".xlsx"),
    ("empty.csv", b"", "empty"),
    ("report.pdf", b"%PDF-1.4", "unsupported"),
    ("binary.csv", b"\x81\x30\xff\x00", "encoding"),
    ("nul.csv", b"abc,\x00\x01,def", "binary"),
])
def test_unreadable_files(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UnreadableFile, match=message.replace(".", r"\.")):
        list(read_rows(path))


# --------------------------------------------------------------------------- row validation


@pytest.mark.parametrize("value, expected", [
    (datetime(2025, 6, 11, 10, 5), datetime(2025, 6, 11, 10, 5)),
    (datetime(2025, 6, 11, 10, 4, 59, 999_000), datetime(2025, 6, 11, 10, 5)),
    (45819.5, datetime(2025, 6, 11, 12, 0)),                 # an Excel serial number
    ("2025-06-11 10:05", datetime(2025, 6, 11, 10, 5)),
    ("2025/6/11 10:05", datetime(2025, 6, 11, 10, 5)),
    ("2025-06-11T10:05:00", datetime(2025, 6, 11, 10, 5)),
    ("2025-06-11 10:05:07", datetime(2025, 6, 11, 10, 5, 7)),
    ("2025年6月11日 10:05", datetime(2025, 6, 11, 10, 5)),
    ("2025-06-11T02:05:00+00:00", datetime(2025, 6, 11, 10, 5)),  # UTC → Beijing time
])
def test_received_time_formats(value: Any, expected: datetime) -> None:
    assert importer.parse_time(value) == expected


@pytest.mark.parametrize("value, reason", [
    ("2025-06-11", "时刻"), ("2025-13-11 10:00", "有效日期"), ("昨天上午", "无法识别"),
    ("", "为空"), (None, "为空"), (12, "无法识别"),
])
def test_bad_received_times(value: Any, reason: str) -> None:
    result = importer.parse_time(value)
    assert isinstance(result, str) and reason in result and " / " in result


@pytest.mark.parametrize("text, category", [
    ("延误", Category.DELAY), ("延迟", Category.DELAY), ("时效", Category.DELAY),
    ("丢失", Category.LOST), ("遗失", Category.LOST), ("损毁", Category.DAMAGED),
    ("破损", Category.DAMAGED), ("内件短少", Category.CONTENTS_MISSING),
    ("短少", Category.CONTENTS_MISSING), ("投递服务", Category.DELIVERY_SERVICE),
    ("收寄服务", Category.PICKUP_SERVICE), ("揽收", Category.PICKUP_SERVICE),
    ("服务态度", Category.ATTITUDE), ("态度", Category.ATTITUDE),
    ("违规收费", Category.IMPROPER_FEE), ("乱收费", Category.IMPROPER_FEE),
    ("信息泄露", Category.DATA_LEAK), ("泄露", Category.DATA_LEAK), ("其他", Category.OTHER),
    (" 延 误 ", Category.DELAY), ("邮件延误投诉", Category.DELAY), ("delay", Category.DELAY),
    ("咨询", None), ("延误、破损", None), ("", None),
])
def test_category_names(text: str, category: Category | None) -> None:
    assert importer.parse_category(text) is category


def test_each_bad_row_is_rejected_with_its_row_number_and_the_good_rows_land(
        tmp_path: Path, uows: UowFactory, rules: DeadlinePolicy) -> None:
    future = (NOW + timedelta(minutes=10)).strftime("%Y-%m-%d %H:%M")
    almost_now = (NOW + timedelta(minutes=4)).strftime("%Y-%m-%d %H:%M")
    path = write_xlsx(tmp_path / "mixed.xlsx", [
        row("G-1", RECEIVED),                                       # 2 good
        row("", RECEIVED, mail=MAIL_B),                             # 3 no order number
        row("G-3", "明天", mail=MAIL_B),                             # 4 unreadable time
        row("G-4", future, mail=MAIL_B),                            # 5 in the future
        row("G-5", RECEIVED, mail=MAIL_BAD),                        # 6 wrong check digit
        row("G-6", RECEIVED, mail=MAIL_B, phone="138123456789"),    # 7 bad phone
        row("G-7", RECEIVED, mail=MAIL_B, category="咨询"),          # 8 unknown category
        [None] * len(HEADER),                                       # 9 blank: skipped
        row("G-9", RECEIVED, mail=MAIL_B, description="   "),       # 10 no description
        row("G-10", RECEIVED, mail=MAIL_B, priority="很急"),         # 11 unknown priority
        row("G-1", RECEIVED, mail=MAIL_B),                          # 12 duplicate of row 2
        row("G-12", RECEIVED, mail="98123"),                        # 13 not a mail number
        row("G-13", almost_now, mail=MAIL_B),                       # 14 good: within 5 min
        row("G-14", RECEIVED, mail="", phone="", category="违规收费"),  # 15 good
        row("G-15", "2025-06-11", mail="", category="其他", description=""),  # 16 two problems
    ])
    report = import_file(uows, rules, path, Channel.CAINIAO, NOW)

    assert [o.row_number for o in report.imported] == [2, 14, 15]
    found = reasons(report)
    assert sorted(found) == [3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 16]
    expected = {
        3: ("工单编号为空", "order number"),
        4: ("受理时间无法识别", "unreadable received time"),
        5: ("受理时间在未来", "in the future"),
        6: ("邮件号校验位错误", "check digit"),
        7: ("联系电话格式不正确", "invalid phone"),
        8: ("未知的投诉类别", "unknown complaint category"),
        10: ("问题描述为空", "description"),
        11: ("未知的优先级", "unknown priority"),
        12: ("与第2行重复", "duplicate order number"),
        13: ("邮件号格式无法识别", "unrecognised mail number"),
        16: ("没有时刻", "问题描述为空"),
    }
    for number, (chinese, english) in expected.items():
        assert chinese in found[number] and english in found[number], (number, found[number])
    assert MAIL_BAD in found[6]
    assert "138123456789" not in found[7] and "6789" in found[7]
    assert {e.row_number: e.external_id for e in report.rejected}[12] == "G-1"
    stored = find_work_orders(uows, rules, NOW, mail_number=MAIL_A)
    assert [o.external_id for o in stored] == ["G-1"]


# --------------------------------------------------------------------------- the store


def test_second_run_imports_nothing_twice(tmp_path: Path, engine: Engine, uows: UowFactory,
                                          rules: DeadlinePolicy) -> None:
    path = write_csv(tmp_path / "11183.csv", [
        row("H-1", mail=MAIL_A), row("H-2", mail=MAIL_B), row("H-3", mail="", category="态度")])
    first = import_file(uows, rules, path, Channel.HOTLINE_11183, NOW)
    assert len(first.imported) == 3
    orders = count_orders(engine)

    again = import_file(uows, rules, path, Channel.HOTLINE_11183, NOW + timedelta(hours=1))
    assert (len(again.imported), len(again.linked), len(again.rejected)) == (0, 0, 0)
    assert [(o.row_number, o.order_number) for o in again.already] == [
        (o.row_number, o.order_number) for o in first.imported]
    assert count_orders(engine) == orders == 3
    # The same numbers from another channel are other orders (uniqueness is per channel);
    # with the same mails and categories they link to the open ones.
    other = import_file(uows, rules, path, Channel.GOV_12345, NOW)
    assert [o.row_number for o in other.linked] == [2, 3]
    assert [o.row_number for o in other.imported] == [4]
    assert count_orders(engine) == 4


def test_same_mail_and_category_link_to_one_order(tmp_path: Path, engine: Engine,
                                                  uows: UowFactory, rules: DeadlinePolicy) -> None:
    path = write_xlsx(tmp_path / "pdd.xlsx", [
        # The later complaint comes first in the file; the earlier one opens the order.
        row("P-2", datetime(2025, 6, 11, 15, 0), MAIL_A, category="延迟", description="催了还没到",
            priority="紧急"),
        row("P-1", datetime(2025, 6, 11, 9, 0), MAIL_A, category="延误", description="三天没更新"),
        row("P-3", datetime(2025, 6, 11, 9, 30), MAIL_A, category="破损", description="外包装破了"),
    ])
    report = import_file(uows, rules, path, Channel.PINDUODUO, NOW)
    assert [o.row_number for o in report.imported] == [3, 4]
    assert [o.row_number for o in report.linked] == [2]
    assert count_orders(engine) == 2

    delay = get_work_order(uows, rules, report.linked[0].order_number, NOW)
    assert delay.number == report.imported[0].order_number
    assert delay.contacts == 2 and delay.external_id == "P-1"
    assert delay.opened_at == datetime(2025, 6, 11, 9, 0)
    assert delay.priority is Priority.URGENT  # raised by the linked complaint
    assert [h.action for h in delay.history] == ["created", "linked", "priority"]
    assert "催了还没到" in delay.history[1].detail

    # Again: every row was imported before, the linked one too; the count does not grow.
    again = import_file(uows, rules, path, Channel.PINDUODUO, NOW)
    assert [o.row_number for o in again.already] == [2, 3, 4] and not again.linked
    assert again.already[0].order_number == delay.number
    assert get_work_order(uows, rules, delay.number, NOW).contacts == 2
    assert count_orders(engine) == 2
    # A new complaint about the same mail from the same channel still links.
    more = write_xlsx(tmp_path / "more.xlsx", [
        row("P-4", datetime(2025, 6, 11, 16, 0), MAIL_A, category="延误", description="还没到")])
    assert [o.row_number for o in import_file(uows, rules, more, Channel.PINDUODUO, NOW).linked] == [2]
    assert get_work_order(uows, rules, delay.number, NOW).contacts == 3


def test_deadline_counts_from_the_received_time(tmp_path: Path, uows: UowFactory,
                                                rules: DeadlinePolicy) -> None:
    path = write_xlsx(tmp_path / "direct.xlsx", [row("D-1", datetime(2025, 6, 11, 10, 0))])
    # Imported on Friday: 10 working hours still count from Wednesday 10:00 → Thursday 15:00.
    report = import_file(uows, rules, path, Channel.DIRECT_11183, datetime(2025, 6, 13, 9, 0))
    order = get_work_order(uows, rules, report.imported[0].order_number, datetime(2025, 6, 13, 9, 0))
    assert order.opened_at == datetime(2025, 6, 11, 10, 0)
    assert order.deadline == datetime(2025, 6, 12, 15, 0)
    assert order.overdue


def test_dry_run_writes_nothing_but_sorts_the_rows(tmp_path: Path, engine: Engine,
                                                   uows: UowFactory, rules: DeadlinePolicy) -> None:
    first = write_csv(tmp_path / "a.csv", [row("R-1", mail=MAIL_A)])
    import_file(uows, rules, first, Channel.STATE_GRID, NOW)
    path = write_csv(tmp_path / "b.csv", [
        row("R-1", mail=MAIL_A),                           # already imported
        row("R-2", mail=MAIL_A),                           # links to R-1's open order
        row("R-3", mail=MAIL_B), row("R-4", mail=MAIL_B),  # new, then linked within the file
        row("R-5", mail=MAIL_B, category="不知道"),          # rejected
    ])
    report = import_file(uows, rules, path, Channel.STATE_GRID, NOW, dry_run=True)
    assert report.dry_run
    assert [o.row_number for o in report.already] == [2]
    assert [o.row_number for o in report.linked] == [3, 5]
    assert [o.row_number for o in report.imported] == [4]
    assert [e.row_number for e in report.rejected] == [6]
    assert count_orders(engine) == 1
    real = import_file(uows, rules, path, Channel.STATE_GRID, NOW)
    assert [(len(x)) for x in (real.imported, real.already, real.linked, real.rejected)] == [
        1, 1, 2, 1]


def failing_commits(uows: UowFactory, fail: Callable[[int], bool]) -> UowFactory:
    """Units of work whose n-th commit (counted over all of them) raises if `fail(n)`."""
    commits = itertools.count(1)

    def factory() -> UnitOfWork:
        uow = uows()
        real_commit = uow.commit

        def commit() -> None:
            if fail(next(commits)):
                raise OperationalError("INSERT INTO work_order ...", {"phone": PHONE},
                                       Exception(f"deadlock detected for {PHONE}"))
            real_commit()

        uow.commit = commit  # type: ignore[method-assign]
        return uow

    return factory


def test_a_database_error_rejects_its_row_and_the_import_goes_on(
        tmp_path: Path, engine: Engine, uows: UowFactory, rules: DeadlinePolicy) -> None:
    path = write_csv(tmp_path / "x.csv", [
        row("E-1", "2025-06-11 10:00", MAIL_A), row("E-2", "2025-06-11 10:01", MAIL_B),
        row("E-3", "2025-06-11 10:02", mail="")])
    report = import_file(failing_commits(uows, lambda n: n == 2), rules, path,
                         Channel.GOV_12345, NOW)
    assert [o.row_number for o in report.imported] == [2, 4]
    (error,) = report.rejected
    assert error.row_number == 3 and "数据库错误" in error.reason and "database error" in error.reason
    assert PHONE not in error.reason and PHONE_MASKED in error.reason
    assert report.aborted is None and count_orders(engine) == 2


def test_an_unusable_database_stops_the_import(tmp_path: Path, engine: Engine, uows: UowFactory,
                                               rules: DeadlinePolicy) -> None:
    path = write_csv(tmp_path / "x.csv", [
        row(f"F-{i}", f"2025-06-11 10:0{i}", mail="", category="其他") for i in range(5)])
    committed: list[int] = []

    def dying() -> UnitOfWork:
        # The server goes away after two orders were written.
        if len(committed) >= 2:
            raise OperationalError("connect", {}, Exception("could not connect to server"))
        uow = uows()
        real_commit = uow.commit

        def commit() -> None:
            real_commit()
            committed.append(1)

        uow.commit = commit  # type: ignore[method-assign]
        return uow

    report = import_file(dying, rules, path, Channel.GOV_12345, NOW)
    assert [o.row_number for o in report.imported] == [2, 3]
    assert [e.row_number for e in report.rejected] == [4]
    assert report.aborted is not None
    assert "已处理 3 行" in report.aborted and "2 valid rows not imported" in report.aborted
    assert count_orders(engine) == 2


def test_parse_row_keeps_store_fields() -> None:
    raw = RawRow(7, {"external_id": " '00123 ", "received_at": "2025-06-11 10:00",
                     "mail_number": "ea 1234 5678 5cn", "customer_phone": "+86 138 1234 5678",
                     "category": "丢失", "description": "  没收到  ", "county": "腾冲县",
                     "priority": "优先"})
    parsed = parse_row(raw, "11183_direct", NOW)
    assert isinstance(parsed, ParsedRow)
    request = parsed.request
    assert (parsed.row_number, parsed.external_id, parsed.received_at) == (7, "00123", RECEIVED)
    assert (request.channel, request.category, request.priority) == (
        Channel.DIRECT_11183, Category.LOST, Priority.HIGH)
    assert (request.mail_number, request.customer_phone, request.county, request.description) == (
        MAIL_A, PHONE, "腾冲市", "没收到")
    assert request.external_id == "00123"

    too_long = parse_row(RawRow(8, {**raw.values, "external_id": "X" * 65}), "12345", NOW)
    assert isinstance(too_long, RowError) and "工单编号过长" in too_long.reason


# --------------------------------------------------------------------------- the command line


def cli(tmp_path: Path, path: Path, *extra: str) -> int:
    return main(["import", str(path), "--channel", extra[0] if extra else "12345",
                 "--database-url", f"sqlite:///{tmp_path}/postdesk.db", *extra[1:]])


def test_cli_exit_codes_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    good = write_xlsx(tmp_path / "good.xlsx", [row("C-1", RECEIVED), row("C-2", RECEIVED, MAIL_B)])
    assert cli(tmp_path, good) == 0
    out = capsys.readouterr().out
    assert "imported:                2" in out and "rejected:                    0" in out

    assert cli(tmp_path, good) == 0  # the second run: everything already there
    out = capsys.readouterr().out
    assert "imported:                0" in out and "already imported:        2" in out

    mixed = write_csv(tmp_path / "mixed.csv", [
        row("C-3", mail=MAIL_A), row("C-4", mail=MAIL_BAD)], encoding="gbk")
    assert cli(tmp_path, mixed, "pinduoduo") == 1
    out = capsys.readouterr().out
    assert "并入未结工单 linked to open order: 1" in out
    assert "第3行 row 3 (C-4) 拒绝 / rejected: 邮件号校验位错误" in out
    assert "拼多多 (pinduoduo)" in out


def test_cli_dry_run_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    good = write_csv(tmp_path / "good.csv", [row("C-1")])
    assert cli(tmp_path, good, "cainiao", "--dry-run") == 0
    assert "dry run" in capsys.readouterr().out
    assert cli(tmp_path, good, "菜鸟") == 0  # the Chinese channel name is accepted too
    assert "imported:                1" in capsys.readouterr().out


def test_cli_missing_required_column_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = write_csv(tmp_path / "x.csv", [["A-1", "2025-06-11 10:00", "太慢"]],
                     header=["工单编号", "受理时间", "内容"])
    assert cli(tmp_path, path) == 2
    err = capsys.readouterr().err
    assert "投诉类别" in err and "missing required column" in err and "受理时间" not in err


@pytest.mark.parametrize("name, content", [("old.xls", b"\xd0\xcf\x11\xe0" + b"\0" * 60),
                                           ("gone.csv", None)])
def test_cli_unreadable_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture, name: str,
                                     content: bytes | None) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    assert cli(tmp_path, path) == 2
    assert capsys.readouterr().err


def test_cli_unknown_channel_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = write_csv(tmp_path / "x.csv", [row()])
    with pytest.raises(SystemExit) as exc:
        cli(tmp_path, path, "taobao")
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unknown channel" in err and "state_grid" in err


def test_cli_prints_phones_masked_only(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad_phone = "138123456789"
    path = write_csv(tmp_path / "x.csv", [
        row("M-1", mail=MAIL_A, phone=PHONE, description=f"请回电 {PHONE}"),
        row("M-2", mail=MAIL_A, phone="0871-63019518", description="同一邮件又来投诉"),
        row("M-3", mail=MAIL_B, phone=bad_phone, description=f"我的电话 {bad_phone}"),
        row("M-4", mail=MAIL_B, phone=PHONE, category=f"电话{PHONE}"),
    ])
    assert cli(tmp_path, path) == 1
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    for raw in (PHONE, bad_phone, "63019518", "087163019518"):
        assert raw not in printed
    assert "********6789" in printed   # the invalid phone, masked
    assert PHONE_MASKED in printed     # quoted in the unknown category, masked
    assert "linked to" in printed      # row 3 printed, without its phone

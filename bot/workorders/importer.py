"""Import of work orders handed over by other channels (12345, 拼多多, 菜鸟, 11183, ...).

The channels export Excel (``.xlsx``) or CSV files with a Chinese header row.
:func:`read_rows` reads a file's rows keyed by field name, :func:`parse_row` validates one row
into a work-order request or says why it cannot be imported, and :func:`import_file` opens a
work order for each good row through :func:`bot.store.workorders.open_work_order`. The store
imports a channel's order only once (by channel and 工单编号) and links a second complaint about
the same mail and category to the open order, so running the same file again is harmless.

Row numbers are those the user sees in Excel: the header is normally row 1, the first order
row 2. Messages are in Chinese and English and never show a raw phone number.
"""
from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import text as sql_text
from sqlalchemy.exc import SQLAlchemyError

from bot.store.models import as_store_time
from bot.store.status import Category, Channel, Priority
from bot.store.uow import UowFactory
from bot.store.workorders import DeadlineRules, NewWorkOrder, WorkOrderError, open_work_order
from bot.text import gazetteer, phones, tracking
from bot.text.masking import mask_phone, mask_text

# A received time this far after "now" is a clock error of the exporting system, not an order.
FUTURE_TOLERANCE = timedelta(minutes=5)
# How many non-blank rows at the top may precede the header (a title line, an export date).
HEADER_SEARCH_ROWS = 10
# Column widths of the work_order table (longer values would fail on PostgreSQL).
MAX_LENGTHS = {"external_id": 64, "customer_name": 64, "county": 64}

CSV_SUFFIXES = (".csv", ".txt", ".tsv")
XLSX_SUFFIXES = (".xlsx", ".xlsm")


@dataclass(frozen=True)
class Column:
    """A column the importer understands.

    Attributes:
        field: the field name rows are keyed by.
        label: the usual Chinese column name, used in messages.
        english: the English name, used in messages.
        synonyms: the header texts accepted for it, most specific first.
        required: whether a file without this column cannot be imported.
    """

    field: str
    label: str
    english: str
    synonyms: tuple[str, ...]
    required: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("external_id", "工单编号", "order number",
           ("工单编号", "工单号", "工单ID", "编号"), True),
    Column("received_at", "受理时间", "received time", ("受理时间", "派单时间", "创建时间"), True),
    Column("mail_number", "邮件号", "mail number",
           ("邮件号", "邮件号码", "运单号", "运单号码", "快递单号")),
    Column("customer_phone", "联系电话", "phone", ("联系电话", "客户电话", "手机号", "手机号码")),
    Column("customer_name", "客户姓名", "customer name", ("客户姓名", "联系人")),
    Column("category", "投诉类别", "category", ("投诉类别", "问题类型", "类别"), True),
    Column("description", "问题描述", "description", ("问题描述", "投诉内容", "内容"), True),
    Column("county", "区县", "county", ("区县", "所属区县", "县区")),
    Column("priority", "优先级", "priority", ("优先级", "紧急程度")),
)
COLUMNS_BY_FIELD = {column.field: column for column in COLUMNS}

# Category names as the channels write them; the English values are accepted too.
CATEGORY_NAMES: dict[str, Category] = {
    **{category.label: category for category in Category},
    **{category.value: category for category in Category},
    "延迟": Category.DELAY, "时效": Category.DELAY,
    "遗失": Category.LOST, "丢件": Category.LOST,
    "破损": Category.DAMAGED, "损坏": Category.DAMAGED,
    "短少": Category.CONTENTS_MISSING,
    "投递": Category.DELIVERY_SERVICE,
    "揽收": Category.PICKUP_SERVICE, "收寄": Category.PICKUP_SERVICE,
    "态度": Category.ATTITUDE,
    "乱收费": Category.IMPROPER_FEE, "收费": Category.IMPROPER_FEE,
    "泄露": Category.DATA_LEAK, "泄漏": Category.DATA_LEAK, "信息泄漏": Category.DATA_LEAK,
    "其它": Category.OTHER,
}
# Words a longer category text is recognised by ("邮件延误问题"), when only one category matches.
_CATEGORY_KEYWORDS: tuple[tuple[str, Category], ...] = tuple(
    (name, category) for name, category in CATEGORY_NAMES.items()
    if not name.isascii()
)

PRIORITY_NAMES: dict[str, Priority] = {
    "普通": Priority.NORMAL, "一般": Priority.NORMAL,
    "优先": Priority.HIGH, "加急": Priority.HIGH,
    "紧急": Priority.URGENT, "特急": Priority.URGENT,
    **{priority.value: priority for priority in Priority},
}

_SPACES = re.compile(r"[\s\u3000\ufeff]+")
_HEADER_NOTE = re.compile(r"[（(](?:必填|选填|可选|非必填)[)）]$")
_DATE_TIME = re.compile(
    r"(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:(?:T|\s+|(?<=日))(?P<H>\d{1,2})\s*[:：时]\s*(?P<M>\d{1,2})"
    r"(?:\s*[:：分]\s*(?P<S>\d{1,2})(?:\.\d{1,6})?\s*秒?)?)?"
)
_PHONE_SEPARATORS = re.compile(r"[\s,，、;；/|或]+")
_SCIENTIFIC = re.compile(r"\d(?:\.\d+)?[eE]\+?\d+")


class ImportFileError(Exception):
    """The file as a whole cannot be imported (the message says why, in Chinese and English)."""


class UnreadableFile(ImportFileError):
    """The file is missing, of an unsupported kind, or cannot be decoded."""


class MissingColumns(ImportFileError):
    """The header lacks required columns.

    Attributes:
        missing: the required columns not found.
    """

    def __init__(self, missing: Sequence[Column]) -> None:
        self.missing = tuple(missing)
        zh = "、".join(f"{c.label}（{'/'.join(c.synonyms)}）" for c in self.missing)
        en = ", ".join(c.english for c in self.missing)
        super().__init__(f"缺少必需的列：{zh} / missing required column(s): {en}")


@dataclass(frozen=True)
class RawRow:
    """One non-blank data row as read from the file.

    Attributes:
        row_number: the row number as Excel shows it (the header is normally row 1).
        values: cell values keyed by :attr:`Column.field`; only the columns found in the header.
    """

    row_number: int
    values: dict[str, object]


@dataclass(frozen=True)
class ParsedRow:
    """A row that passed validation.

    Attributes:
        row_number: the row number as Excel shows it.
        external_id: the channel's own number of the order (工单编号).
        received_at: when the channel received the complaint (naive Beijing time).
        request: what to open the work order with.
    """

    row_number: int
    external_id: str
    received_at: datetime
    request: NewWorkOrder


@dataclass(frozen=True)
class RowError:
    """A rejected row and why (each reason in Chinese and English)."""

    row_number: int
    reason: str
    external_id: str | None = None


@dataclass(frozen=True)
class RowOutcome:
    """What became of a good row.

    Attributes:
        row_number: the row number as Excel shows it.
        external_id: the channel's number of the order.
        order_number: our work order the row was imported into or linked to (None in a dry run
            for an order not yet written).
    """

    row_number: int
    external_id: str
    order_number: str | None


@dataclass
class ImportReport:
    """The outcome of importing one file.

    Attributes:
        channel: the channel the file came from.
        dry_run: nothing was written; the outcomes say what an import would do.
        imported: rows that opened a new work order.
        already: rows imported before (same channel and 工单编号); nothing written.
        linked: rows linked to an open order for the same mail and category.
        rejected: rows not imported, with the reasons.
        aborted: why the import stopped early (the database became unusable), else None.
    """

    channel: Channel
    dry_run: bool = False
    imported: list[RowOutcome] = field(default_factory=list)
    already: list[RowOutcome] = field(default_factory=list)
    linked: list[RowOutcome] = field(default_factory=list)
    rejected: list[RowError] = field(default_factory=list)
    aborted: str | None = None

    @property
    def done(self) -> int:
        """Rows dealt with: imported, already there, linked or rejected."""
        return len(self.imported) + len(self.already) + len(self.linked) + len(self.rejected)


# --------------------------------------------------------------------------- reading


def header_key(value: object) -> str:
    """Normalise a header cell for matching: no spaces, no ``*`` marks, no "(必填)" note."""
    key = _SPACES.sub("", "" if value is None else str(value)).strip("*＊")
    return _HEADER_NOTE.sub("", key).lower()


def resolve_header(cells: Sequence[object],
                   columns: Sequence[Column] = COLUMNS) -> dict[str, int]:
    """Map each known field to the index of its column in a header row.

    The most specific synonym present wins (工单编号 over 编号); among equal headers, the
    leftmost. Unknown columns are ignored.

    Args:
        cells: the header row.
        columns: the columns to look for (the work-order import's by default).
    """
    positions: dict[str, int] = {}
    for index, cell in enumerate(cells):
        positions.setdefault(header_key(cell), index)
    found: dict[str, int] = {}
    for column in columns:
        for synonym in column.synonyms:
            at = positions.get(header_key(synonym))
            if at is not None and at not in found.values():
                found[column.field] = at
                break
    return found


def _missing(found: dict[str, int]) -> list[Column]:
    return [c for c in COLUMNS if c.required and c.field not in found]


def is_blank(value: object) -> bool:
    """Whether a cell is empty: None, or nothing but white space."""
    return value is None or (isinstance(value, str) and not _SPACES.sub("", value))


def read_rows(path: Path | str) -> Iterator[RawRow]:
    """Read the data rows of an ``.xlsx`` or ``.csv`` export.

    The header is the first of the top non-blank rows that names every required column (so a
    title line above it is tolerated). Blank rows are skipped. CSV files may be UTF-8 (with or
    without BOM), UTF-16 with BOM, or GB18030/GBK, comma- or tab-separated.

    Args:
        path: the file.

    Yields:
        The non-blank rows after the header, keyed by field name.

    Raises:
        UnreadableFile: the file is missing, of an unsupported kind, or undecodable.
        MissingColumns: no header row names all required columns.
    """
    with contextlib.closing(read_cells(Path(path))) as rows:
        found: dict[str, int] | None = None
        best: dict[str, int] | None = None
        seen = 0
        for row_number, cells in rows:
            if found is None:
                if all(is_blank(cell) for cell in cells):
                    continue
                candidate = resolve_header(cells)
                if not _missing(candidate):
                    found = candidate
                    continue
                if best is None or len(candidate) > len(best):
                    best = candidate
                seen += 1
                if seen >= HEADER_SEARCH_ROWS:
                    break
                continue
            values = {name: cells[index] if index < len(cells) else None
                      for name, index in found.items()}
            if all(is_blank(value) for value in values.values()):
                continue
            yield RawRow(row_number, values)
        if found is None:
            if best is None:
                raise UnreadableFile("文件是空的，没有表头行 / the file is empty: no header row")
            raise MissingColumns(_missing(best))


def read_cells(path: Path) -> Generator[tuple[int, Sequence[object]], None, None]:
    """Rows of the file as (row number, cell values), blank rows included."""
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise UnreadableFile(f"无法打开文件 {path} / cannot open the file: "
                             f"{exc.strerror or exc}") from None
    suffix = path.suffix.lower()
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableFile(
            "这是旧版 .xls 或加密的 Excel 文件，请在 Excel 中另存为 .xlsx 或 CSV / "
            "an old .xls or encrypted Excel file: save it as .xlsx or CSV"
        )
    if head.startswith(b"PK\x03\x04"):
        return _xlsx_cells(path)
    if suffix in XLSX_SUFFIXES:
        raise UnreadableFile(f"{path.name} 不是有效的 .xlsx 文件 / not a valid .xlsx file")
    if suffix in CSV_SUFFIXES:
        return _csv_cells(path)
    raise UnreadableFile(
        f"不支持的文件类型 {suffix or '(无扩展名)'}，请使用 .xlsx 或 .csv / "
        f"unsupported file type {suffix or '(none)'}: use .xlsx or .csv"
    )


def _xlsx_cells(path: Path) -> Generator[tuple[int, Sequence[object]], None, None]:
    from openpyxl import load_workbook  # only when an Excel file is read

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # InvalidFileException, BadZipFile, XML errors of a damaged file
        raise UnreadableFile(f"无法读取 Excel 文件（可能已损坏） / cannot read the Excel file "
                             f"(damaged?): {type(exc).__name__}: {exc}") from None
    try:
        if not workbook.worksheets:
            raise UnreadableFile("Excel 文件没有工作表 / the workbook has no worksheet")
        sheet = workbook.worksheets[0]
        # Exporters often write a wrong size record; read every cell actually there.
        sheet.reset_dimensions()
        yield from enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1)
    finally:
        workbook.close()


def decode_csv(data: bytes) -> str:
    """Decode CSV bytes: UTF-16 with BOM, UTF-8 (BOM optional), else GB18030 (covers GBK).

    Raises:
        UnreadableFile: none of these encodings fits.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableFile("无法识别文件编码（应为 UTF-8 或 GBK） / "
                         "unknown encoding: expected UTF-8 or GBK")


def _delimiter(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    return "\t" if first.count("\t") > first.count(",") else ","


def _csv_cells(path: Path) -> Generator[tuple[int, Sequence[object]], None, None]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"无法打开文件 {path} / cannot open the file: "
                             f"{exc.strerror or exc}") from None
    text = decode_csv(data)
    if "\x00" in text:
        raise UnreadableFile("文件含有二进制内容，不是 CSV / binary content: not a CSV file")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    try:
        # A record is one Excel row even when a quoted description spans several lines.
        yield from enumerate(reader, start=1)
    except csv.Error as exc:
        raise UnreadableFile(f"CSV 格式错误（第{reader.line_num}行附近） / malformed CSV near line "
                             f"{reader.line_num}: {exc}") from None


# --------------------------------------------------------------------------- parsing


def cell_text(value: object) -> str:
    """A cell as trimmed text; integral numbers without ".0"; ``="..."`` unwrapped."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    result = str(value).replace("\x00", "").strip(" \t\r\n\u3000\ufeff")
    if result.startswith('="') and result.endswith('"') and len(result) >= 3:
        result = result[2:-1].strip()
    return result


def cell_code(value: object) -> str:
    """A number-like cell (order, mail or phone number), without a text-forcing apostrophe."""
    return cell_text(value).lstrip("'").strip()


def echo(value: str, limit: int = 40) -> str:
    """A cell value fit to quote in a message: phone and ID numbers masked, length capped."""
    shown = mask_text(value)
    return shown if len(shown) <= limit else shown[:limit] + "…"


def _whole_second(moment: datetime) -> datetime:
    rounded = moment + timedelta(microseconds=500_000) if moment.microsecond >= 500_000 else moment
    return rounded.replace(microsecond=0)


def parse_time(value: object) -> datetime | str:
    """Read a received time: an Excel date-time cell or serial number, or text such as
    ``2025-06-11 10:05``, ``2025/6/11 10:05``, ``2025-06-11T10:05:00`` or
    ``2025年6月11日 10:05``.

    Returns:
        The time as naive Beijing time (to the second), or the reason it cannot be read.
    """
    if isinstance(value, datetime):
        return _whole_second(as_store_time(value))
    if isinstance(value, (date, time)):
        return "受理时间缺少日期或时刻 / received time lacks the date or the time of day"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 20_000 < value < 100_000:  # an Excel serial date-time (1954-2173)
            from openpyxl.utils.datetime import from_excel

            return _whole_second(from_excel(value))
        return f"受理时间无法识别（{echo(cell_text(value))}） / unreadable received time"
    raw = cell_text(value)
    if not raw:
        return "受理时间为空 / received time is empty"
    match = _DATE_TIME.fullmatch(raw)
    if match is not None:
        if match["H"] is None:
            return (f"受理时间只有日期没有时刻（{echo(raw)}） / "
                    "received time has a date but no time of day")
        try:
            return datetime(int(match["y"]), int(match["m"]), int(match["d"]),
                            int(match["H"]), int(match["M"]), int(match["S"] or 0))
        except ValueError:
            return f"受理时间不是有效日期（{echo(raw)}） / received time is not a valid date"
    try:
        return _whole_second(as_store_time(datetime.fromisoformat(raw)))
    except ValueError:
        return f"受理时间无法识别（{echo(raw)}） / unreadable received time"


def parse_category(value: str) -> Category | None:
    """Map a category as the channels write it (延误, 延迟, 时效, 破损, 乱收费, ...) to a Category.

    A longer text ("邮件延误投诉") is accepted when the words in it name exactly one category.
    """
    key = _SPACES.sub("", value)
    if not key:
        return None
    exact = CATEGORY_NAMES.get(key) or CATEGORY_NAMES.get(key.lower())
    if exact is not None:
        return exact
    named = {category for word, category in _CATEGORY_KEYWORDS if word in key}
    return named.pop() if len(named) == 1 else None


def parse_priority(value: str) -> Priority | None:
    """Map 普通/一般, 优先/加急, 紧急/特急 (or the English values) to a Priority."""
    key = _SPACES.sub("", value)
    return PRIORITY_NAMES.get(key) or PRIORITY_NAMES.get(key.lower())


def normalise_county(value: str) -> str:
    """The official name of one of our counties ("腾冲" → "腾冲市", "红河州蒙自市" → "蒙自市");
    anything else, a prefecture name included, is kept as written."""
    name = _SPACES.sub("", value)
    place = gazetteer.lookup(name)
    if place is not None:
        return place.name if place.level == "county" else name
    rest = re.sub(r"^云南省?", "", name)
    for form in sorted(gazetteer.aliases(), key=len, reverse=True):
        prefecture = gazetteer.aliases()[form]
        if prefecture.level == "prefecture" and rest.startswith(form) and rest != form:
            county = gazetteer.lookup(rest[len(form):])
            if (county is not None and county.level == "county"
                    and county.prefecture == prefecture.name):
                return county.name
            break
    return name


def parse_mail_number(raw: str) -> tuple[str | None, str | None]:
    """(normalised mail number, None) or (None, reason)."""
    number = tracking.parse(raw)
    if number is None:
        hint = "，疑似被 Excel 转成了科学计数法" if _SCIENTIFIC.fullmatch(raw) else ""
        hint_en = " (looks like Excel scientific notation)" if hint else ""
        return None, (f"邮件号格式无法识别（{echo(raw)}）{hint} / "
                      f"unrecognised mail number format{hint_en}")
    if number.check_ok is False:
        return None, (f"邮件号校验位错误（{number.value}） / "
                      f"mail number check digit is wrong ({number.value})")
    return number.value, None


def parse_phone(raw: str) -> str | None:
    """Digits of the phone number in a cell; of the first one when the cell lists several
    ("138..., 0871-..."). None when the cell holds anything else."""
    found = phones.find_all(raw)
    if not found:
        return None
    rest = raw
    for phone in reversed(found):
        rest = rest[:phone.start] + rest[phone.end:]
    return found[0].digits if not _PHONE_SEPARATORS.sub("", rest) else None


def _too_long(name: str, value: str) -> str | None:
    limit = MAX_LENGTHS.get(name)
    if limit is not None and len(value) > limit:
        column = COLUMNS_BY_FIELD[name]
        return (f"{column.label}过长（{len(value)}字，最多{limit}字） / "
                f"{column.english} too long ({len(value)} > {limit} characters)")
    return None


def parse_row(raw: RawRow, channel: Channel | str, now: datetime) -> ParsedRow | RowError:
    """Validate one row into a work-order request, or give every reason it cannot be imported.

    Args:
        raw: the row, keyed by field name.
        channel: the channel the file came from.
        now: the current time; a received time more than five minutes later is refused.

    Returns:
        A :class:`ParsedRow`, or a :class:`RowError` listing all problems of the row.
    """
    channel = Channel(channel)
    now = as_store_time(now)
    values = raw.values
    problems: list[str] = []

    external_id = cell_code(values.get("external_id"))
    if not external_id:
        problems.append("工单编号为空 / order number (工单编号) is empty")

    received = parse_time(values.get("received_at"))
    if isinstance(received, str):
        problems.append(received)
    elif received > now + FUTURE_TOLERANCE:
        problems.append(f"受理时间在未来（{received:%Y-%m-%d %H:%M}） / "
                        "received time is in the future")

    mail_number: str | None = None
    mail_raw = cell_code(values.get("mail_number"))
    if mail_raw:
        mail_number, reason = parse_mail_number(mail_raw)
        if reason:
            problems.append(reason)

    phone: str | None = None
    phone_raw = cell_code(values.get("customer_phone"))
    if phone_raw:
        phone = parse_phone(phone_raw)
        if phone is None:
            problems.append(f"联系电话格式不正确（{mask_phone(phone_raw)}） / invalid phone number")

    category_raw = cell_text(values.get("category"))
    category = parse_category(category_raw)
    if not category_raw:
        problems.append("投诉类别为空 / category (投诉类别) is empty")
    elif category is None:
        known = "、".join(c.label for c in Category)
        problems.append(f"未知的投诉类别（{echo(category_raw)}），应为：{known} / "
                        "unknown complaint category")

    description = cell_text(values.get("description"))
    if not description:
        problems.append("问题描述为空 / description (问题描述) is empty")

    priority = Priority.NORMAL
    priority_raw = cell_text(values.get("priority"))
    if priority_raw:
        found = parse_priority(priority_raw)
        if found is None:
            problems.append(f"未知的优先级（{echo(priority_raw)}），"
                            "应为：普通/一般、优先/加急、紧急/特急 / unknown priority")
        else:
            priority = found

    county_raw = cell_text(values.get("county"))
    county = normalise_county(county_raw) if county_raw else None
    name = cell_text(values.get("customer_name")) or None
    for field_name, value in (("external_id", external_id), ("customer_name", name or ""),
                              ("county", county or "")):
        reason = _too_long(field_name, value)
        if reason:
            problems.append(reason)

    if problems:
        return RowError(raw.row_number, "; ".join(problems), external_id or None)
    assert isinstance(received, datetime) and category is not None
    return ParsedRow(
        row_number=raw.row_number,
        external_id=external_id,
        received_at=received,
        request=NewWorkOrder(
            channel=channel, category=category, description=description,
            mail_number=mail_number, customer_phone=phone, customer_name=name,
            county=county, priority=priority, external_id=external_id,
        ),
    )


# --------------------------------------------------------------------------- importing


def _database_error(exc: SQLAlchemyError) -> str:
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = echo(detail[0], 160) if detail else type(exc).__name__
    return f"数据库错误，本行未导入 / database error, row not imported: {first}"


def _database_usable(uow_factory: UowFactory) -> bool:
    try:
        with uow_factory() as uow:
            uow.session.execute(sql_text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


def _check_rows(rows: Iterable[RawRow], channel: Channel, now: datetime,
                report: ImportReport) -> list[ParsedRow]:
    """Parse every row; bad rows and later duplicates of a 工单编号 go to ``report.rejected``."""
    first_row: dict[str, int] = {}
    good: list[ParsedRow] = []
    for raw in rows:
        parsed = parse_row(raw, channel, now)
        external_id = parsed.external_id
        if external_id and external_id in first_row:
            reason = (f"工单编号 {external_id} 与第{first_row[external_id]}行重复 / "
                      f"duplicate order number {external_id}, "
                      f"first seen in row {first_row[external_id]}")
            if isinstance(parsed, RowError):
                reason = f"{reason}; {parsed.reason}"
            report.rejected.append(RowError(raw.row_number, reason, external_id))
            continue
        if external_id:
            first_row[external_id] = raw.row_number
        if isinstance(parsed, RowError):
            report.rejected.append(parsed)
        else:
            good.append(parsed)
    return good


def _preview(uow_factory: UowFactory, row: ParsedRow, actor: str, planned: set[tuple[str, str]],
             report: ImportReport) -> None:
    """Sort a row as an import would, without writing."""
    request = row.request
    category = Category(request.category).value
    with uow_factory() as uow:
        done = uow.work_orders.by_external_id(Channel(request.channel).value, row.external_id)
        if done is not None:
            report.already.append(RowOutcome(row.row_number, row.external_id, done.number))
            return
        if request.mail_number:
            existing = uow.work_orders.open_for_mail(request.mail_number, category)
            if existing is not None or (request.mail_number, category) in planned:
                number = existing.number if existing is not None else None
                report.linked.append(RowOutcome(row.row_number, row.external_id, number))
                return
            planned.add((request.mail_number, category))
    report.imported.append(RowOutcome(row.row_number, row.external_id, None))


def _open(uow_factory: UowFactory, rules: DeadlineRules, row: ParsedRow, actor: str,
          report: ImportReport) -> None:
    opened = open_work_order(uow_factory, rules, row.request, now=row.received_at, actor=actor)
    outcome = RowOutcome(row.row_number, row.external_id, opened.order.number)
    if opened.duplicate_import:
        report.already.append(outcome)
    elif opened.created:
        report.imported.append(outcome)
    else:
        report.linked.append(outcome)


def import_file(
    uow_factory: UowFactory, rules: DeadlineRules, path: Path | str, channel: Channel | str,
    now: datetime, dry_run: bool = False,
) -> ImportReport:
    """Import the work orders of one channel's export.

    Every row is validated first; bad rows are rejected with their reasons and the others are
    imported in the order the channel received them (so the earliest complaint about a mail
    opens the order and later ones link to it). Each order's deadline counts from its received
    time. A row imported before (same channel and 工单编号, whether it opened its order or was
    linked to one) is reported as already imported.
    A database error rejects its row; if the database is then unusable the import stops and
    ``report.aborted`` says how far it got.

    Args:
        uow_factory: opens a unit of work.
        rules: the deadline policy.
        path: the ``.xlsx`` or ``.csv`` file.
        channel: the channel the file came from.
        now: the current time (received times later than this are refused).
        dry_run: validate and sort the rows as an import would, without writing.

    Returns:
        The report; its lists are in row order.

    Raises:
        ImportFileError: the file cannot be read or lacks required columns; nothing was imported.
    """
    channel = Channel(channel)
    now = as_store_time(now)
    report = ImportReport(channel=channel, dry_run=dry_run)
    good = _check_rows(read_rows(path), channel, now, report)
    actor = f"import:{channel.value}"
    planned: set[tuple[str, str]] = set()
    for position, row in enumerate(sorted(good, key=lambda r: (r.received_at, r.row_number))):
        try:
            if dry_run:
                _preview(uow_factory, row, actor, planned, report)
            else:
                _open(uow_factory, rules, row, actor, report)
        except WorkOrderError as exc:
            report.rejected.append(RowError(
                row.row_number, f"工单未能打开：{exc} / the work order could not be opened",
                row.external_id))
        except SQLAlchemyError as exc:
            report.rejected.append(RowError(row.row_number, _database_error(exc), row.external_id))
            if not _database_usable(uow_factory):
                left = len(good) - position - 1
                report.aborted = (
                    f"数据库不可用，导入中止：已处理 {report.done} 行，{left} 行合格数据未导入；"
                    f"恢复后可重新导入同一文件（已导入的不会重复） / database unusable, import "
                    f"stopped: {report.done} rows done, {left} valid rows not imported; run the "
                    f"same file again once it is back (rows already imported are skipped)"
                )
                break
    for outcomes in (report.imported, report.already, report.linked, report.rejected):
        outcomes.sort(key=lambda outcome: outcome.row_number)
    return report

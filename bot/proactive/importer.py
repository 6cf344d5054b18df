"""Imports of the proactive service: VIP customers and mail to watch, from ``.xlsx``/``.csv``.

Files are read and cells cleaned by the work-order import's helpers (`bot.workorders.importer`:
Excel and CSV in UTF-8 or GBK, a title line above the header tolerated, Excel's number
mangling caught); every row is checked and a rejected row is reported with its row number (as
Excel shows it) and the reason, never with a raw phone number. Importing the same file again
changes nothing: customers are matched by name, watched mail by number and reason.
"""
from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.store.models import OPENID_MAX, PROJECT_MAX, VIP_NAME_MAX
from bot.store.proactive import (
    ProactiveError,
    VipRecord,
    WatchEntry,
    save_vips,
    vip_ids_by_name,
    watch,
)
from bot.store.uow import UowFactory
from bot.workorders.importer import (
    Column,
    MissingColumns,
    RowError,
    UnreadableFile,
    cell_code,
    cell_text,
    echo,
    is_blank,
    parse_mail_number,
    parse_phone,
    read_cells,
    resolve_header,
)

VIP_COLUMNS: tuple[Column, ...] = (
    Column("name", "客户名称", "customer", ("客户名称", "大客户名称", "单位名称", "客户"), True),
    Column("contact_name", "联系人", "contact", ("联系人", "联系人姓名")),
    Column("contact_phone", "联系电话", "phone", ("联系电话", "手机号", "手机号码", "电话")),
    Column("unit", "所属单位", "unit", ("所属单位", "所属网点", "营业部", "单位")),
    Column("account_manager", "客户经理", "account manager", ("客户经理", "经理")),
    Column("openid", "微信openid", "WeChat openid", ("微信openid", "openid", "微信")),
    Column("consent", "同意通知", "consent", ("同意通知", "是否同意通知", "通知")),
)
WATCH_COLUMNS: tuple[Column, ...] = (
    Column("mail_number", "邮件号", "mail number",
           ("邮件号", "邮件号码", "运单号", "运单号码", "快递单号"), True),
)

_OPENID = re.compile(r"[A-Za-z0-9_-]{6,%d}" % OPENID_MAX)
_YES = {"是", "同意", "y", "yes", "1", "true", "√", "已同意"}
_NO = {"否", "不同意", "n", "no", "0", "false", "", "×", "未同意"}
_LIMITS = {"contact_name": 64, "unit": 128, "account_manager": 64}
# Header search like the work-order import: a few lines may precede the header.
HEADER_SEARCH_ROWS = 10


def read_table(path: Path, columns: Sequence[Column]) -> Iterator[tuple[int, dict[str, object]]]:
    """The non-blank data rows of `path` as (Excel row number, values by field).

    Raises:
        UnreadableFile: missing, unsupported or undecodable file, or no header at all.
        MissingColumns: no header row names every required column.
    """
    required = [c for c in columns if c.required]
    with contextlib.closing(read_cells(path)) as rows:
        found: dict[str, int] | None = None
        seen = 0
        for row_number, cells in rows:
            if found is None:
                if all(is_blank(cell) for cell in cells):
                    continue
                candidate = resolve_header(cells, columns)
                if all(c.field in candidate for c in required):
                    found = candidate
                    continue
                seen += 1
                if seen >= HEADER_SEARCH_ROWS:
                    break
                continue
            values = {name: cells[i] if i < len(cells) else None for name, i in found.items()}
            if not all(is_blank(v) for v in values.values()):
                yield row_number, values
        if found is None:
            if seen == 0:
                raise UnreadableFile("文件是空的，没有表头行 / the file is empty: no header row")
            raise MissingColumns(required)


@dataclass
class ImportResult:
    """What an import did: rows written (added/updated/watched), already there, rejected."""

    added: int = 0
    updated: int = 0
    already: int = 0
    rejected: list[RowError] = field(default_factory=list)


def _consent(raw: str) -> bool | None:
    value = raw.strip().lower()
    if value in _YES:
        return True
    if value in _NO:
        return False
    return None


def parse_vip_row(row_number: int, values: dict[str, object]) -> VipRecord | RowError:
    """Check one VIP customer row."""
    name = cell_text(values.get("name"))
    if not name:
        return RowError(row_number, "客户名称为空 / customer name is empty")
    if len(name) > VIP_NAME_MAX:
        return RowError(row_number, f"客户名称超过 {VIP_NAME_MAX} 字 / customer name too long")
    texts = {key: cell_text(values.get(key)) for key in _LIMITS}
    for key, limit in _LIMITS.items():
        if len(texts[key]) > limit:
            return RowError(row_number, f"{key} 超过 {limit} 字 / {key} too long", name[:40])
    raw_phone = cell_code(values.get("contact_phone"))
    phone = parse_phone(raw_phone) if raw_phone else ""
    if phone is None:
        return RowError(row_number, f"联系电话无法识别（{echo(raw_phone)}） / "
                                    "unrecognised phone number", name[:40])
    openid = cell_code(values.get("openid")) or None
    if openid is not None and not _OPENID.fullmatch(openid):
        return RowError(row_number, "微信openid格式不对 / malformed WeChat openid", name[:40])
    consent = _consent(cell_text(values.get("consent")))
    if consent is None:
        given = echo(cell_text(values.get("consent")))
        return RowError(row_number, f"同意通知应填“是”或“否”（{given}） / consent must be 是 or 否",
                        name[:40])
    return VipRecord(name=name, contact_name=texts["contact_name"], contact_phone=phone,
                     unit=texts["unit"], account_manager=texts["account_manager"],
                     openid=openid, consent=consent)


def import_vips(uow_factory: UowFactory, path: Path, now: datetime) -> ImportResult:
    """Import VIP customers from `path`; good rows are saved, bad ones reported.

    Raises:
        UnreadableFile, MissingColumns: the file as a whole cannot be read.
    """
    result = ImportResult()
    good: list[tuple[int, VipRecord]] = []
    names: dict[str, int] = {}
    openids: dict[str, int] = {}
    for row_number, values in read_table(path, VIP_COLUMNS):
        parsed = parse_vip_row(row_number, values)
        if isinstance(parsed, RowError):
            result.rejected.append(parsed)
            continue
        if parsed.name in names:
            result.rejected.append(RowError(row_number, f"与第{names[parsed.name]}行客户重复 / "
                                            f"same customer as row {names[parsed.name]}",
                                            parsed.name[:40]))
            continue
        if parsed.openid and parsed.openid in openids:
            result.rejected.append(RowError(row_number, f"openid 与第{openids[parsed.openid]}行"
                                            "相同 / openid already on another row",
                                            parsed.name[:40]))
            continue
        names[parsed.name] = row_number
        if parsed.openid:
            openids[parsed.openid] = row_number
        good.append((row_number, parsed))
    for row_number, record in good:  # one by one: a clash with a stored customer is that row's
        try:
            added, updated = save_vips(uow_factory, [record], now)
        except ProactiveError as exc:
            result.rejected.append(RowError(row_number, str(exc), record.name[:40]))
            continue
        result.added += added
        result.updated += updated
    return result


def import_watch(uow_factory: UowFactory, path: Path, now: datetime, *, reason: str,
                 project: str | None = None, vip_name: str | None = None) -> ImportResult:
    """Put the mail numbers of `path` on watch for `reason` (``project`` with its name,
    ``te_an``, or ``vip`` with the customer's name).

    Raises:
        ProactiveError: no project name, or an unknown VIP customer.
        UnreadableFile, MissingColumns: the file as a whole cannot be read.
    """
    vip_id = None
    if reason == "project":
        if not project or not project.strip() or len(project) > PROJECT_MAX:
            raise ProactiveError(f"重点项目需要名称（最多 {PROJECT_MAX} 字）")
        project = project.strip()
    if reason == "vip":
        vip_id = vip_ids_by_name(uow_factory).get((vip_name or "").strip())
        if vip_id is None:
            raise ProactiveError(f"没有名为“{(vip_name or '')[:40]}”的大客户，请先导入大客户")
    result = ImportResult()
    entries: list[WatchEntry] = []
    seen: set[str] = set()
    for row_number, values in read_table(path, WATCH_COLUMNS):
        raw = cell_code(values.get("mail_number"))
        number, problem = (parse_mail_number(raw) if raw
                           else (None, "邮件号为空 / mail number empty"))
        if number is None:
            result.rejected.append(RowError(row_number, problem or ""))
            continue
        if number in seen:
            result.already += 1
            continue
        seen.add(number)
        entries.append(WatchEntry(number, reason, project if reason == "project" else None,
                                  vip_id))
    result.added = watch(uow_factory, entries, now)
    result.already += len(entries) - result.added
    return result

"""The trainers' NLU inbox in the workbench.

* ``GET /trainer/inbox``: messages the bot misread (filters: status, reason, intent,
  confidence, date, channel). Before listing, new messages are collected from Rasa's
  tracker store, at most once every `COLLECT_EVERY_S` seconds per process.
* ``POST /api/trainer/candidates/{id}/annotate`` ``{"intent", "entities": [{start, end,
  entity}]}`` and ``POST /api/trainer/candidates/{id}/discard``.
* ``POST /api/trainer/export``: regenerate ``data/nlu/reviewed_<topic>.yml``; answers the summary.

A candidate id that is not a positive integer within the store's range is a 404; a JSON body
too large or too deep, an intent over `MAX_INTENT_CHARS` or more than `MAX_ENTITY_SPANS`
spans, a 400 (`bot.workbench.keys.json_body`). The intents and entities offered are the
domain's, read once on startup (`keys.VOCABULARY`).

Trainers see what customers wrote with phones, ID numbers, e-mails, street addresses and names
masked, every character in its place, so the offsets of an entity marked on the page are the
offsets in the stored text.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.store.accounts import Role
from bot.text.dates import iso_local
from bot.trainer import export as exporter
from bot.trainer import inbox
from bot.trainer.candidates import (
    REASON_LABELS,
    STATUS_LABELS,
    CandidateNotFound,
    CandidateStatus,
    CandidateView,
    Span,
    TrainerError,
)
from bot.trainer.collect import CollectResult, collect
from bot.trainer.pii import review_text
from bot.trainer.vocabulary import Vocabulary
from bot.workbench import keys
from bot.workbench.auth import current_account, require_role
from bot.workbench.keys import (
    TRAINER_PATHS,
    UOWS,
    VOCABULARY,
    BadInput,
    in_thread,
    json_body,
    json_error,
    json_ok,
    path_id,
    text_field,
)
from bot.workbench.views import render

logger = logging.getLogger(__name__)

COLLECT_EVERY_S = 30.0
COLLECT_WINDOW = timedelta(days=30)  # how far back a first collect looks
PAGE_LIMIT = 200
# Limits of an annotation (longer ones are refused with 400 before the inbox looks at them).
MAX_INTENT_CHARS = 64
MAX_ENTITY_SPANS = 50

# The Chinese names of the intents (the NLU taxonomy's 中文 column), shown next to the names;
# which intents there are is the domain's business (`keys.VOCABULARY`), not this table's.
INTENT_LABELS = {
    "greet": "问候", "goodbye": "告别", "thank": "感谢", "affirm": "肯定", "deny": "否定",
    "bot_challenge": "问是否机器人", "request_human": "转人工", "inform": "提供信息",
    "track_mail": "查件", "delivery_delay": "延误/催派", "not_received": "显示签收未收到",
    "delivery_service": "投递服务", "lost_item": "丢失", "damaged_item": "破损/短少",
    "staff_attitude": "服务态度", "fee_dispute": "收费争议", "complaint_progress": "投诉进度",
    "escalate_complaint": "升级/申诉", "change_delivery": "改派", "return_intercept": "退回/拦截",
    "schedule_pickup": "预约寄件", "urge_pickup": "催揽收", "ask_fee": "资费咨询",
    "ask_delivery_time": "时效咨询", "claim_compensation": "理赔/赔偿",
    "ask_prohibited_items": "禁寄/限寄", "ask_outlet": "网点/营业时间",
    "collect_parcel": "取件方式",
    "satisfied": "满意", "unsatisfied": "不满意/未解决", "out_of_scope": "无关",
}
ENTITY_LABELS = {
    "tracking_number": "邮件号", "phone_number": "电话", "location": "地点",
    "mail_category": "特殊邮件", "item": "物品", "product": "邮政产品",
}
CHANNEL_LABELS = {"rest": "网页/App", "wechat": "微信", "unknown": "未知"}


@dataclass(frozen=True)
class TrainerPaths:
    """Where export reads and writes (tests point these at a copy)."""

    data_dir: Path = exporter.DATA_DIR
    heldout_dir: Path = exporter.HELDOUT_DIR
    domain_path: Path | None = None  # None: the project's domain.yml


class Collector:
    """Runs `collect` in a thread, at most once every `interval` seconds."""

    def __init__(self, interval: float = COLLECT_EVERY_S) -> None:
        self.interval = interval
        self.last_run: float | None = None
        self.last_result: CollectResult | None = None
        self.last_error: str | None = None
        self._lock: asyncio.Lock | None = None

    def due(self) -> bool:
        """Whether `interval` has passed since the last run (or there was none)."""
        return self.last_run is None or time.monotonic() - self.last_run >= self.interval

    async def maybe_run(self, app: web.Application, now: datetime) -> None:
        """Collect the messages of the `COLLECT_WINDOW` before `now`, unless done lately."""
        if not self.due():
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not self.due():  # another request collected while this one waited
                return
            settings = app[keys.SETTINGS]
            try:
                self.last_result = await in_thread(
                    collect, app[UOWS], settings.tracker_store_url, now - COLLECT_WINDOW,
                    now)
                self.last_error = None
            except Exception:  # noqa: BLE001 - the inbox still lists what it has
                logger.exception("collecting NLU candidates failed")
                self.last_error = "暂时无法从会话记录收集新消息，下面是已收集的消息"
            self.last_run = time.monotonic()


COLLECTOR = web.AppKey("postdesk.trainer_collector", Collector)
_EXPORT_LOCK = web.AppKey("postdesk.trainer_export_lock", dict)


def _spans_for_page(spans: list[Span], text: str,
                    vocabulary: Vocabulary) -> list[dict[str, Any]]:
    """Spans the page can show and edit: domain entities, inside the text, not overlapping."""
    out: list[dict[str, Any]] = []
    end = 0
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        if (span.entity in vocabulary.entities and end <= span.start < span.end <= len(text)):
            out.append({"start": span.start, "end": span.end, "entity": span.entity})
            end = span.end
    return out


def candidate_json(view: CandidateView, vocabulary: Vocabulary) -> dict[str, Any]:
    """A candidate as the page shows it: text masked, times in Beijing time."""
    annotated = view.intent is not None
    initial_spans = view.entities if annotated else view.predicted_entities
    guess = view.intent or view.suggested_intent or view.predicted_intent
    return {
        "id": view.id, "text": review_text(view.text), "channel": view.channel,
        "channel_label": CHANNEL_LABELS.get(view.channel, view.channel),
        "received_at": iso_local(view.received_at),
        "received_label": f"{view.received_at:%Y-%m-%d %H:%M}",
        "reason": view.reason, "reason_label": view.reason_label,
        "predicted_intent": view.predicted_intent,
        "confidence": None if view.confidence is None else round(view.confidence, 3),
        "confidence_label": "" if view.confidence is None else f"{view.confidence:.0%}",
        "suggested_intent": view.suggested_intent, "reported_by": view.reported_by,
        "status": view.status, "status_label": view.status_label,
        "intent": view.intent, "note": view.note, "reviewed_by": view.reviewed_by,
        "initial_intent": guess if guess in vocabulary.intents else "",
        "entities": _spans_for_page(initial_spans, view.text, vocabulary),
    }


@dataclass
class Filters:
    """The inbox filters from the query string (anything invalid is dropped with a message)."""

    status: str = CandidateStatus.NEW.value
    reason: str = ""
    intent: str = ""
    channel: str = ""
    min_confidence: float | None = None
    max_confidence: float | None = None
    date_from: date | None = None
    date_to: date | None = None

    @property
    def active(self) -> bool:
        """Whether any filter differs from the default (new candidates, nothing else)."""
        return any((self.status != CandidateStatus.NEW.value, self.reason, self.intent,
                    self.channel, self.min_confidence is not None,
                    self.max_confidence is not None, self.date_from, self.date_to))

    def query(self) -> dict[str, Any]:
        """The filters as keyword arguments of `inbox.list_candidates` (unset ones None)."""
        return {"status": self.status or None, "reason": self.reason or None,
                "intent": self.intent or None, "channel": self.channel or None,
                "min_confidence": self.min_confidence, "max_confidence": self.max_confidence,
                "date_from": self.date_from, "date_to": self.date_to}


def parse_filters(query: Any, vocabulary: Vocabulary) -> tuple[Filters, list[str]]:
    """Filters from the page's query string, and what could not be understood."""
    errors: list[str] = []
    filters = Filters()
    status = query.get("status", CandidateStatus.NEW.value)
    if status in STATUS_LABELS or status == "":
        filters.status = status
    else:
        errors.append("未知的状态")
    reason = query.get("reason", "")
    if reason in REASON_LABELS or reason == "":
        filters.reason = reason
    else:
        errors.append("未知的来源")
    intent = query.get("intent", "")
    if intent in vocabulary.intents or intent == "":
        filters.intent = intent
    else:
        errors.append("未知的意图")
    filters.channel = query.get("channel", "")[:32]
    for key, label in (("min_confidence", "最低置信度"), ("max_confidence", "最高置信度")):
        raw = query.get(key, "").strip()
        if not raw:
            continue
        try:
            value = float(raw.rstrip("%")) / (100 if raw.endswith("%") else 1)
        except ValueError:
            value = -1.0
        if 0.0 <= value <= 1.0:
            setattr(filters, key, value)
        else:
            errors.append(f"{label}应是 0 到 1 之间的小数")
    for key, label in (("date_from", "开始日期"), ("date_to", "结束日期")):
        raw = query.get(key, "").strip()
        if not raw:
            continue
        try:
            setattr(filters, key, date.fromisoformat(raw))
        except ValueError:
            errors.append(f"{label}格式应为 2025-06-10")
    return filters, errors


def _vocabulary(app: web.Application) -> Vocabulary:
    return app[VOCABULARY]


@require_role(Role.TRAINER)
async def inbox_page(request: web.Request) -> web.StreamResponse:
    """GET /trainer/inbox: the candidates matching the filters (collects new ones first)."""
    app = request.app
    collector = app[COLLECTOR]
    await collector.maybe_run(app, keys.now(request))
    vocabulary = _vocabulary(app)
    filters, errors = parse_filters(request.query, vocabulary)
    uows = app[UOWS]
    views = await in_thread(lambda: inbox.list_candidates(uows, limit=PAGE_LIMIT,
                                                           **filters.query()))
    by_status = await in_thread(inbox.count_by, uows, "status")
    channels = await in_thread(inbox.count_by, uows, "channel")
    rows = [candidate_json(v, vocabulary) for v in views]
    for row in rows:
        row["entities_json"] = json.dumps(row["entities"])
    collected = collector.last_result
    return render(request, "trainer_inbox.html", {
        "rows": rows, "filters": filters, "errors": errors, "limit": PAGE_LIMIT,
        "statuses": STATUS_LABELS, "reasons": REASON_LABELS,
        "by_status": by_status,
        "channels": {c: CHANNEL_LABELS.get(c, c) for c in channels},
        "intents": [(i, INTENT_LABELS.get(i, "")) for i in vocabulary.intents],
        "vocabulary_json": json.dumps({
            "intents": [{"name": i, "label": INTENT_LABELS.get(i, "")}
                        for i in vocabulary.intents],
            "entities": [{"name": e, "label": ENTITY_LABELS.get(e, "")}
                         for e in vocabulary.entities]}, ensure_ascii=False),
        "collect_error": collector.last_error,
        "collect_added": collected.total if collected is not None else None,
        "tracker_found": collected.tracker_found if collected is not None else True,
    })


@require_role(Role.TRAINER)
async def annotate(request: web.Request) -> web.StreamResponse:
    """POST /api/trainer/candidates/{id}/annotate: store the intent and entity spans."""
    account = current_account(request)
    assert account is not None
    candidate_id = path_id(request)
    body = await json_body(request)
    intent = text_field(body, "intent", MAX_INTENT_CHARS, "意图")
    entities = body.get("entities", [])
    if isinstance(entities, list) and len(entities) > MAX_ENTITY_SPANS:
        raise BadInput(f"实体标注太多（最多 {MAX_ENTITY_SPANS} 个）")
    paths, now = request.app[TRAINER_PATHS], keys.now(request)
    try:
        view = await in_thread(lambda: inbox.annotate(
            request.app[UOWS], candidate_id, intent or "", entities,
            account.username, now, domain_path=paths.domain_path))
    except CandidateNotFound as exc:
        return json_error(str(exc), 404)
    except TrainerError as exc:
        return json_error(str(exc), 400)
    return json_ok({"candidate": candidate_json(view, _vocabulary(request.app))})


@require_role(Role.TRAINER)
async def discard(request: web.Request) -> web.StreamResponse:
    """POST /api/trainer/candidates/{id}/discard: keep it out of the training data."""
    account = current_account(request)
    assert account is not None
    try:
        view = await in_thread(inbox.discard, request.app[UOWS], path_id(request),
                               account.username, keys.now(request))
    except CandidateNotFound as exc:
        return json_error(str(exc), 404)
    return json_ok({"candidate": candidate_json(view, _vocabulary(request.app))})


@require_role(Role.TRAINER)
async def run_export(request: web.Request) -> web.StreamResponse:
    """POST /api/trainer/export: regenerate the reviewed training files; answer the summary."""
    paths, now = request.app[TRAINER_PATHS], keys.now(request)
    locks = request.app[_EXPORT_LOCK]
    lock = locks.setdefault("lock", asyncio.Lock())
    async with lock:
        try:
            result = await in_thread(lambda: exporter.export(
                request.app[UOWS], paths.data_dir, paths.heldout_dir, now,
                domain_path=paths.domain_path))
        except (OSError, ValueError) as exc:
            logger.exception("export of the reviewed annotations failed")
            return json_error(f"导出失败：{exc}", 500)
    return json_ok({"export": result.as_dict()})


def setup_routes(app: web.Application) -> None:
    """The trainer pages and their API."""
    if TRAINER_PATHS not in app:
        app[TRAINER_PATHS] = TrainerPaths()
    app[COLLECTOR] = Collector()
    app[_EXPORT_LOCK] = {}
    app.router.add_get("/trainer/inbox", inbox_page, name="trainer_inbox")
    app.router.add_post("/api/trainer/candidates/{id}/annotate", annotate)
    app.router.add_post("/api/trainer/candidates/{id}/discard", discard)
    app.router.add_post("/api/trainer/export", run_export)

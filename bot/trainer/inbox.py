"""The trainers' NLU inbox: customer messages the bot did not understand well enough.

A message becomes a *candidate* (`NluCandidate`) for one of four reasons:

* ``fallback``: Rasa's FallbackClassifier answered ``nlu_fallback``;
* ``low_confidence``: the top intent's confidence was below a threshold;
* ``rejected_suggestion``: an agent rejected the reply the workbench suggested for it;
* ``corrected``: an agent said which intent it really was (`record_correction`);
* ``clarified``: the bot was unsure and asked "您是想……还是……？" (``action_clarify``), and the
  customer picked one of the offered requests: the message comes labelled with the pick.

`collect` reads the first two and the picks from Rasa's SQL tracker store and the third from
the desk's `AgentReply` rows (`bot.trainer.collect`). Trainers then annotate a candidate
(intent and entity spans, checked against the domain: `bot.trainer.vocabulary`) or discard
it; `bot.trainer.export` writes the annotations into ``data/nlu``.

The store keeps the raw text; trainers see it through `review_text` (`bot.trainer.pii`), which
masks phones, ID numbers, e-mail addresses, street addresses and names without changing the
length, so entity offsets chosen on the masked text are the offsets in the raw text.

This module holds the review services; what a candidate is (its reasons, statuses, spans and
errors) is `bot.trainer.candidates`. The tables are in
`bot.store.models` (`NluCandidate`, `CollectCursor`), their queries in
`bot.store.repositories.InboxRepository` (``uow.inbox``).
"""
from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError

from bot.store.models import NluCandidate, as_store_time
from bot.store.uow import UnitOfWork, UowFactory
from bot.trainer.candidates import (
    SAME_MESSAGE_WINDOW,
    CandidateNotFound,
    CandidateStatus,
    CandidateView,
    Reason,
    TrainerError,
    candidate_view,
    dump_spans,
    is_message,
)
from bot.trainer.vocabulary import domain_vocabulary, validate_annotation


def record_correction(uows: UowFactory, sender_id: str, channel: str, text: str,
                      received_at: datetime, predicted_intent: str | None,
                      confidence: float | None, corrected_intent: str, agent: str,
                      *, domain_path: Path | None = None) -> CandidateView:
    """An agent says the bot misread a customer's message: put it in the inbox as 'corrected'.

    When the message is already in the inbox (same sender and text, received within two
    minutes), that candidate takes the agent's intent instead of a second one being added.

    Args:
        uows: the operational store.
        sender_id, channel, text: the customer's message.
        received_at: when the customer sent it.
        predicted_intent, confidence: what the bot understood.
        corrected_intent: the intent the agent chose (a domain intent).
        agent: the agent's username.
        domain_path: the domain file (default ``domain.yml``).

    Raises:
        TrainerError: the intent is not in the domain, or the text is empty or a button payload.
    """
    if corrected_intent not in domain_vocabulary(domain_path).intents:
        raise TrainerError(f"意图“{corrected_intent}”不在领域文件的意图列表中")
    if not is_message(text):
        raise TrainerError("这条消息没有可标注的文字")
    received_at = as_store_time(received_at)
    with uows() as uow:
        window = (received_at - SAME_MESSAGE_WINDOW, received_at + SAME_MESSAGE_WINDOW)
        row = uow.inbox.same_message(sender_id, text, *window, lock=True)
        if row is None:
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
            row = NluCandidate(
                source_key=f"correction:{sender_id}:{received_at.isoformat()}:{digest}",
                sender_id=sender_id, channel=channel[:32], text=text, received_at=received_at,
                predicted_intent=predicted_intent, confidence=confidence,
                predicted_entities="[]", status=CandidateStatus.NEW.value, entities="[]")
            uow.inbox.add(row)
        row.reason = Reason.CORRECTED.value
        row.suggested_intent = corrected_intent
        row.reported_by = agent
        try:
            uow.commit()
        except IntegrityError:  # the same correction sent twice at once
            uow.rollback()
            row = uow.inbox.same_message(sender_id, text, *window, lock=True)
            if row is None:  # not the same correction after all: the error stands
                raise
        return candidate_view(row)


# --- review -------------------------------------------------------------------------------


def _locked(uow: UnitOfWork, candidate_id: int) -> NluCandidate:
    row = uow.inbox.lock(candidate_id)
    if row is None:
        raise CandidateNotFound(f"没有编号为 {candidate_id} 的候选消息")
    return row


def annotate(uows: UowFactory, candidate_id: int, intent: str, entities: Any, reviewer: str,
             now: datetime, *, domain_path: Path | None = None) -> CandidateView:
    """Record a trainer's annotation (any earlier one, or a discard, is replaced).

    Args:
        uows: the operational store.
        candidate_id: the candidate.
        intent: a domain intent.
        entities: a list of ``{"start", "end", "entity", "value"?}`` over the raw text
            (the same offsets as on the masked text); spans may not overlap.
        reviewer: the trainer's username.
        now: the current time.
        domain_path: the domain file (default ``domain.yml``).

    Raises:
        CandidateNotFound: no such candidate.
        TrainerError: the intent or an entity is not in the domain, or a span is invalid.
    """
    vocabulary = domain_vocabulary(domain_path)
    with uows() as uow:
        row = _locked(uow, candidate_id)
        spans = validate_annotation(row.text, intent, entities, vocabulary)
        row.intent = intent
        row.entities = dump_spans(spans)
        row.status = CandidateStatus.ANNOTATED.value
        row.note = None
        row.reviewed_by = reviewer
        row.reviewed_at = as_store_time(now)
        uow.commit()
        return candidate_view(row)


def discard(uows: UowFactory, candidate_id: int, reviewer: str, now: datetime) -> CandidateView:
    """Keep a candidate out of the training data (an exported one leaves it on the next export).

    Raises:
        CandidateNotFound: no such candidate.
    """
    with uows() as uow:
        row = _locked(uow, candidate_id)
        row.status = CandidateStatus.DISCARDED.value
        row.note = None
        row.reviewed_by = reviewer
        row.reviewed_at = as_store_time(now)
        uow.commit()
        return candidate_view(row)


def get_candidate(uows: UowFactory, candidate_id: int) -> CandidateView | None:
    """One candidate, or None."""
    with uows() as uow:
        row = uow.inbox.get(candidate_id)
        return candidate_view(row) if row is not None else None


def _day_start(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return as_store_time(value)
    return datetime(value.year, value.month, value.day)


def list_candidates(
    uows: UowFactory,
    *,
    status: str | None = None,
    reason: str | None = None,
    intent: str | None = None,
    min_confidence: float | None = None,
    max_confidence: float | None = None,
    date_from: date | datetime | None = None,
    date_to: date | datetime | None = None,
    channel: str | None = None,
    limit: int = 200,
) -> list[CandidateView]:
    """Candidates matching every filter given, newest first.

    Args:
        uows: the operational store.
        status, reason, channel: exact values (None: any).
        intent: the bot's predicted intent, the agent's suggestion or the trainer's choice.
        min_confidence, max_confidence: bounds (inclusive) on the bot's confidence; a
            candidate without one is left out when either is given.
        date_from: received at or after (a date means its first moment).
        date_to: received before (a date means the end of that day).
        limit: at most this many.
    """
    received_before = None
    if date_to is not None:
        received_before = (_day_start(date_to) + timedelta(days=1)
                           if not isinstance(date_to, datetime) else as_store_time(date_to))
    with uows() as uow:
        rows = uow.inbox.search(
            status=status, reason=reason, channel=channel, intent=intent,
            min_confidence=min_confidence, max_confidence=max_confidence,
            received_from=_day_start(date_from) if date_from is not None else None,
            received_before=received_before, limit=limit)
        return [candidate_view(r) for r in rows]


def count_by(uows: UowFactory, column: str) -> dict[str, int]:
    """How many candidates per ``status``, ``reason`` or ``channel``."""
    with uows() as uow:
        return uow.inbox.count_by(column)

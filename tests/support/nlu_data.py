"""Reading the NLU example files as people wrote them: the intents of the taxonomy, the
examples per intent, and the plain text used to find the same example written twice."""
from __future__ import annotations

import re
from pathlib import Path

import yaml  # type: ignore[import-untyped,unused-ignore]  # no types-PyYAML installed

TAXONOMY_INTENTS = {
    "greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "request_human", "inform",
    "track_mail", "delivery_delay", "not_received", "delivery_service", "lost_item",
    "damaged_item", "staff_attitude", "fee_dispute", "complaint_progress", "escalate_complaint",
    "change_delivery", "return_intercept", "schedule_pickup", "urge_pickup", "ask_fee",
    "ask_delivery_time", "claim_compensation", "ask_prohibited_items", "ask_outlet",
    "collect_parcel", "satisfied", "unsatisfied", "out_of_scope",
}


def plain(text: str) -> str:
    """Text without entity markup, punctuation or spaces, for duplicate checks."""
    text = re.sub(r"\[([^\]]+)\](\([^)]+\)|\{[^}]+\})", r"\1", text)
    return re.sub(r"[\s，。！？,.!?~～、]", "", text).lower()


def examples_in(folder: Path) -> dict[str, list[str]]:
    """The example lines of every intent in the folder's *.yml files (markup kept)."""
    out: dict[str, list[str]] = {}
    for path in sorted(folder.glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            if "intent" in block:
                lines = [l.strip()[2:] for l in block["examples"].splitlines() if l.strip()]
                out.setdefault(block["intent"], []).extend(lines)
    return out

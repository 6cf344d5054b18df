"""Rasa's button payloads, ``/intent{"entity": "value"}``: written by the bot, read back later."""
from __future__ import annotations

import json
from typing import Any, Iterable, Mapping, Optional, Sequence


def payload(intent: str, entities: Iterable[Mapping[str, Any]],
            carried: Sequence[str] = ()) -> str:
    """The payload that sends `intent` with the first value of each entity type in `carried`."""
    values: dict[str, str] = {}
    for e in entities:
        name, value = e.get("entity"), e.get("value")
        if name in carried and value and name not in values:
            values[str(name)] = str(value)
    return f"/{intent}{json.dumps(values, ensure_ascii=False)}" if values else f"/{intent}"


def intent_of_payload(text: Optional[str]) -> Optional[str]:
    """The intent of a ``/intent{...}`` payload, or None for a message a person typed."""
    text = (text or "").strip()
    if not text.startswith("/"):
        return None
    name = text[1:].split("{", 1)[0].strip()
    return name or None

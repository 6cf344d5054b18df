"""The domain's intents and entities, and the check of a trainer's annotation against them."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]  # no types-PyYAML installed

from bot.config import PROJECT_ROOT
from bot.trainer.candidates import Span, TrainerError

DOMAIN_FILE = PROJECT_ROOT / "domain.yml"
MAX_ENTITY_VALUE = 100


@dataclass(frozen=True)
class Vocabulary:
    """The intents and entities of the domain, in the domain's order."""

    intents: tuple[str, ...]
    entities: tuple[str, ...]


_vocabulary_cache: dict[tuple[str, int], Vocabulary] = {}


def _names(items: Any) -> list[str]:
    names = []
    for item in items or []:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict):  # "- intent: {use_entities: ...}"
            names.extend(str(k) for k in item)
    return names


def domain_vocabulary(domain_path: Path | None = None) -> Vocabulary:
    """The intents and entities of ``domain.yml`` (re-read when the file changes).

    Args:
        domain_path: the domain file (default: the project's ``domain.yml``).
    """
    path = Path(domain_path or DOMAIN_FILE)
    key = (str(path), path.stat().st_mtime_ns)
    cached = _vocabulary_cache.get(key)
    if cached is None:
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        cached = Vocabulary(tuple(_names(content.get("intents"))),
                            tuple(_names(content.get("entities"))))
        _vocabulary_cache[key] = cached
    return cached


def _as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def validate_annotation(text: str, intent: str, entities: Any,
                        vocabulary: Vocabulary) -> list[Span]:
    """Check an annotation against the domain and the message; return the spans in order.

    Raises:
        TrainerError: naming the first problem, in Chinese.
    """
    if not isinstance(intent, str) or not intent:
        raise TrainerError("请选择意图")
    if intent not in vocabulary.intents:
        raise TrainerError(f"意图“{intent}”不在领域文件的意图列表中")
    if entities is None:
        entities = []
    if not isinstance(entities, list):
        raise TrainerError("实体必须是一个列表")
    spans: list[Span] = []
    for n, item in enumerate(entities, 1):
        if not isinstance(item, dict):
            raise TrainerError(f"第 {n} 个实体格式不对")
        start, end = _as_int(item.get("start")), _as_int(item.get("end"))
        name = item.get("entity")
        if start is None or end is None:
            raise TrainerError(f"第 {n} 个实体缺少起止位置")
        if not isinstance(name, str) or name not in vocabulary.entities:
            raise TrainerError(f"第 {n} 个实体的类型“{name}”不在领域文件的实体列表中")
        if not 0 <= start < end <= len(text):
            raise TrainerError(f"第 {n} 个实体（{name}）的位置 {start}–{end} 超出了消息范围"
                               f"（消息共 {len(text)} 个字）")
        if text[start].isspace() or text[end - 1].isspace():
            raise TrainerError(f"第 {n} 个实体（{name}）的首尾不能是空格")
        value = item.get("value")
        if value is not None:
            if not isinstance(value, str) or not value.strip():
                raise TrainerError(f"第 {n} 个实体（{name}）的取值必须是文字")
            if len(value) > MAX_ENTITY_VALUE or re.search(r"[\r\n{}\[\]]", value):
                raise TrainerError(f"第 {n} 个实体（{name}）的取值不能超过 {MAX_ENTITY_VALUE} 字，"
                                   "也不能包含换行、方括号或花括号")
            if value == text[start:end]:
                value = None
        spans.append(Span(start, end, name, value))
    spans.sort(key=lambda s: (s.start, s.end))
    for before, after in zip(spans, spans[1:]):
        if after.start < before.end:
            raise TrainerError(f"实体 {before.entity}（第 {before.start + 1}–{before.end} 字）和 "
                               f"{after.entity}（第 {after.start + 1}–{after.end} 字）重叠了")
    return spans

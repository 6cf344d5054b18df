"""Evaluate a trained model on the held-out split: intents and entities as the product sees them.

``python -m bot.nlu.evaluate --model models/postdesk.tar.gz --data tests/nlu --out reports``
writes ``intent_report.json``, ``entity_report.json``, ``errors.json`` and
``intent_confusion_matrix.png``. Entities are scored on the final parse (after the postal
extractor merged its entities over DIET's), by exact type and character span.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

from bot.text.masking import mask_text

FALLBACK = "nlu_fallback"


@dataclass
class Example:
    """One held-out message with its gold labels."""

    text: str
    intent: str
    entities: list[tuple[str, int, int]]


@dataclass
class Result:
    """Scores of one evaluation run."""

    intent_report: dict[str, Any]
    entity_report: dict[str, dict[str, float]]
    errors: list[dict[str, Any]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)

    @property
    def intent_macro_f1(self) -> float:
        return float(self.intent_report["macro avg"]["f1-score"])

    def entity_f1(self, entity: str) -> float:
        return float(self.entity_report.get(entity, {}).get("f1", 0.0))


def load_examples(path: Path) -> list[Example]:
    """Read Rasa YAML training-data files (a file or a folder) into examples."""
    from rasa.shared.nlu.training_data.loading import load_data

    files = sorted(path.glob("*.yml")) if path.is_dir() else [path]
    data = load_data(str(files[0])).merge(*[load_data(str(f)) for f in files[1:]])
    return [
        Example(
            text=m.get("text"),
            intent=m.get("intent"),
            entities=[(e["entity"], e["start"], e["end"]) for e in m.get("entities") or []],
        )
        for m in data.intent_examples
    ]


def entity_scores(
    gold: Iterable[list[tuple[str, int, int]]], pred: Iterable[list[tuple[str, int, int]]]
) -> dict[str, dict[str, float]]:
    """Precision, recall and F1 per entity type, by exact type and span."""
    tp: Counter = Counter()
    fp: Counter = Counter()
    fn: Counter = Counter()
    for g, p in zip(gold, pred):
        gs, ps = set(g), set(p)
        for e in gs & ps:
            tp[e[0]] += 1
        for e in ps - gs:
            fp[e[0]] += 1
        for e in gs - ps:
            fn[e[0]] += 1
    report = {}
    for name in sorted(set(tp) | set(fp) | set(fn)):
        p = tp[name] / (tp[name] + fp[name]) if tp[name] + fp[name] else 0.0
        r = tp[name] / (tp[name] + fn[name]) if tp[name] + fn[name] else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        report[name] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4),
                        "support": tp[name] + fn[name]}
    return report


async def _parse_all(model: Path, texts: Sequence[str], progress: bool) -> list[dict[str, Any]]:
    import logging

    import structlog
    from rasa.core.agent import Agent
    from tqdm import tqdm

    # Rasa logs every parse at debug level through structlog; keep the report readable.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    agent = Agent.load(str(model))
    return [await agent.parse_message(t)
            for t in tqdm(texts, desc=f"evaluating {model.name}", unit="msg", disable=not progress)]


def evaluate(model: Path, examples: Sequence[Example], progress: bool = False) -> Result:
    """Parse every example with the model and score intents and entities."""
    from sklearn.metrics import classification_report, confusion_matrix

    parses = asyncio.run(_parse_all(model, [e.text for e in examples], progress))
    y_true = [e.intent for e in examples]
    y_pred = [p["intent"]["name"] for p in parses]
    labels = sorted(set(y_true) | set(y_pred))
    report = classification_report(y_true, y_pred, labels=sorted(set(y_true)),
                                   output_dict=True, zero_division=0)
    gold_ents = [e.entities for e in examples]
    pred_ents = [[(x["entity"], x["start"], x["end"]) for x in p.get("entities", [])]
                 for p in parses]
    errors = []
    for ex, p, pe in zip(examples, parses, pred_ents):
        wrong_entities = set(ex.entities) ^ set(pe)
        if p["intent"]["name"] != ex.intent or wrong_entities:
            errors.append({
                "text": mask_text(ex.text),
                "intent": ex.intent,
                "predicted": p["intent"]["name"],
                "confidence": round(float(p["intent"].get("confidence") or 0), 3),
                "entity_mismatches": sorted(f"{n}:{ex.text[s:e] and mask_text(ex.text[s:e])}"
                                            for n, s, e in wrong_entities),
            })
    cm = confusion_matrix(y_true, y_pred, labels=labels).tolist()
    return Result(report, entity_scores(gold_ents, pred_ents), errors, labels, cm)


def plot_confusion(result: Result, path: Path) -> None:
    """Write the intent confusion matrix as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(result.labels)
    fig, ax = plt.subplots(figsize=(max(8, n * 0.45), max(7, n * 0.42)))
    ax.imshow(result.confusion, cmap="Blues")
    ax.set_xticks(range(n), result.labels, rotation=90, fontsize=8)
    ax.set_yticks(range(n), result.labels, fontsize=8)
    for i, row in enumerate(result.confusion):
        for j, v in enumerate(row):
            if v:
                ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                        color="white" if i == j else "black")
    ax.set_xlabel("predicted intent")
    ax.set_ylabel("true intent")
    ax.set_title(f"Held-out intents (macro F1 {result.intent_macro_f1:.3f})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_reports(result: Result, out: Path) -> None:
    """Write the JSON reports and the confusion-matrix PNG under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    dump = lambda obj, name: (out / name).write_text(  # noqa: E731
        json.dumps(obj, ensure_ascii=False, indent=2), encoding="utf-8")
    dump(result.intent_report, "intent_report.json")
    dump(result.entity_report, "entity_report.json")
    dump(result.errors, "errors.json")
    plot_confusion(result, out / "intent_confusion_matrix.png")


def summary(result: Result) -> str:
    """A printable table of the scores."""
    lines = [f"{'intent':<22}{'precision':>10}{'recall':>8}{'f1':>8}{'n':>5}"]
    for name, r in sorted(result.intent_report.items()):
        if isinstance(r, dict) and name not in ("macro avg", "weighted avg", "micro avg"):
            lines.append(f"{name:<22}{r['precision']:>10.3f}{r['recall']:>8.3f}"
                         f"{r['f1-score']:>8.3f}{int(r['support']):>5}")
    lines.append(f"intent macro F1: {result.intent_macro_f1:.4f}")
    lines.append(f"{'entity':<22}{'precision':>10}{'recall':>8}{'f1':>8}{'n':>5}")
    for name, r in result.entity_report.items():
        lines.append(f"{name:<22}{r['precision']:>10.3f}{r['recall']:>8.3f}{r['f1']:>8.3f}"
                     f"{r['support']:>5}")
    lines.append(f"{len(result.errors)} examples with an error (see errors.json)")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line: evaluate and write the reports."""
    parser = argparse.ArgumentParser(prog="python -m bot.nlu.evaluate", description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("models/postdesk.tar.gz"))
    parser.add_argument("--data", type=Path, default=Path("tests/nlu"))
    parser.add_argument("--out", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)
    if not args.model.exists():
        print(f"no model at {args.model}: run 'make train'", file=sys.stderr)
        return 1
    result = evaluate(args.model, load_examples(args.data))
    write_reports(result, args.out)
    print(summary(result))
    print(f"reports written to {args.out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())

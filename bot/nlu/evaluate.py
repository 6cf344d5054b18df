"""Evaluate a trained model as customers will meet it: intents and entities, honestly counted.

``python -m bot.nlu.evaluate --model models/postdesk.tar.gz`` (what ``make evaluate`` calls)
scores the model on

* the in-distribution held-out split (``tests/nlu/*.yml``, written like the training data),
* the realistic set (``tests/nlu/realistic/*.yml``, one file per register, written by people
  who never saw the training data), and, only with ``--sealed``, its sealed part
  (``tests/nlu/realistic/sealed/``), which is kept for the final verdict and never iterated on,
* ``realistic+numbers``: the realistic set's requests and complaints, each with a made-up order
  number, tracking number or mobile number put before or after it (seeded, so every run sees
  the same messages). The request does not change, so neither should the intent: this measures
  how far a number alone pulls the model (and the baseline) off, and whether the number is
  still found as an entity,
* the conversations set (``tests/nlu/conversations/*.yml``) and, with ``--sealed``, its sealed
  part (``conversations/sealed/``): customer turns of chats, calls and posts written as whole
  conversations by people who never saw the taxonomy nor the training data, each turn labelled
  afterwards by two annotators who saw only the taxonomy and the conversation (kept where they
  agreed). Unlike the realistic set, nobody wrote these to a label, so they come out the way
  real messages do: replies that lean on what the agent asked, several problems at once,
  remarks about the goods. It is the set that behaves most like real customer messages.

A message the model sends to ``nlu_fallback`` counts as wrong. Each set gets accuracy,
macro-F1 and the fallback rate, per intent and per register, beside a plain baseline: TF-IDF
character 1-3-grams and a logistic regression trained on the same ``data/nlu``, and the
difference between the two with a 95% paired-bootstrap interval (`paired_difference`). Reports go to
``--out``: ``summary.json``, ``intent_report.json``, ``entity_report.json``, ``errors.json``
(held-out), ``misses_<set>.txt`` (every miss, for reading; not for the sealed part) and
``intent_confusion_matrix.png``. Entities are scored on the final parse (after the postal
extractor merged its entities over DIET's), by exact type and character span.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

from bot.text.masking import mask_text

FALLBACK = "nlu_fallback"
HELD_OUT = "held-out"
REALISTIC = "realistic"
SEALED = "sealed"
CONVERSATIONS = "conversations"
CONVERSATIONS_SEALED = "conversations-sealed"
# Entities the realistic sets annotate (the others are left unmarked there).
REALISTIC_ENTITIES = ("tracking_number", "phone_number")
WITH_NUMBERS = "realistic+numbers"
# Intents whose label a number cannot change (a reply, a greeting or a survey answer with a
# number in it may be `inform`, so those are left out of the derived set).
REQUEST_INTENTS = (
    "request_human", "track_mail", "delivery_delay", "not_received", "delivery_service",
    "lost_item", "damaged_item", "staff_attitude", "fee_dispute", "complaint_progress",
    "escalate_complaint", "change_delivery", "return_intercept", "schedule_pickup",
    "urge_pickup", "ask_fee", "ask_delivery_time", "claim_compensation",
    "ask_prohibited_items", "ask_outlet", "collect_parcel",
)


@dataclass
class Example:
    """One evaluation message with its gold labels and the register (file) it comes from."""

    text: str
    intent: str
    entities: list[tuple[str, int, int]]
    register: str = ""


@dataclass
class Prediction:
    """What the model (or the baseline) said of one example."""

    intent: str
    confidence: float
    runner_up: str = ""
    runner_up_confidence: float = 0.0


@dataclass
class Result:
    """Scores of one evaluation run."""

    intent_report: dict[str, Any]
    entity_report: dict[str, dict[str, float]]
    errors: list[dict[str, Any]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)
    predictions: list[Prediction] = field(default_factory=list)

    @property
    def intent_macro_f1(self) -> float:
        """Macro-averaged F1 over the intents (every intent weighs the same)."""
        return float(self.intent_report["macro avg"]["f1-score"])

    @property
    def accuracy(self) -> float:
        """Share of messages whose intent is right (a fallback is wrong)."""
        return accuracy([e.intent for e in self.examples], [p.intent for p in self.predictions])

    @property
    def fallback_rate(self) -> float:
        """Share of messages that fell back (nlu_fallback) instead of getting an intent."""
        return _share(p.intent == FALLBACK for p in self.predictions)

    def entity_f1(self, entity: str) -> float:
        """F1 of `entity` (0.0 when it never occurs)."""
        return float(self.entity_report.get(entity, {}).get("f1", 0.0))

    def by_register(self) -> dict[str, dict[str, float]]:
        """Accuracy, macro-F1, fallback rate and size per register."""
        return by_register(self.examples, [p.intent for p in self.predictions])


def _share(flags: Iterable[bool]) -> float:
    flags = list(flags)
    return sum(flags) / len(flags) if flags else 0.0


def accuracy(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Exact-intent accuracy; ``nlu_fallback`` never equals a gold intent, so it counts wrong."""
    return _share(g == p for g, p in zip(gold, predicted))


def macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Macro-F1 over the gold intents (a fallback is a miss of the gold intent)."""
    from sklearn.metrics import f1_score

    if not gold:
        return 0.0
    return float(f1_score(gold, predicted, labels=sorted(set(gold)), average="macro",
                          zero_division=0))


def by_register(examples: Sequence[Example],
                predicted: Sequence[str]) -> dict[str, dict[str, float]]:
    """Accuracy, macro-F1, fallback rate and size of each register of `examples`."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, example in enumerate(examples):
        groups[example.register or "-"].append(i)
    out = {}
    for register, idx in sorted(groups.items()):
        gold = [examples[i].intent for i in idx]
        pred = [predicted[i] for i in idx]
        out[register] = {"n": len(idx), "accuracy": round(accuracy(gold, pred), 4),
                         "macro_f1": round(macro_f1(gold, pred), 4),
                         "fallback": round(_share(p == FALLBACK for p in pred), 4)}
    return out


def load_examples(path: Path) -> list[Example]:
    """Read Rasa YAML files (a file, or the ``*.yml`` directly in a folder) into examples.

    Each example's register is the name of its file (``phone_asr.yml`` → ``phone_asr``).
    """
    from rasa.shared.nlu.training_data.loading import load_data

    files = sorted(path.glob("*.yml")) if path.is_dir() else [path]
    out = []
    for f in files:
        for m in load_data(str(f)).intent_examples:
            out.append(Example(
                text=m.get("text"),
                intent=m.get("intent"),
                entities=[(e["entity"], e["start"], e["end"]) for e in m.get("entities") or []],
                register=f.stem,
            ))
    return out


def evaluation_sets(root: Path, sealed: bool = False,
                    numbers: bool = True) -> dict[str, list[Example]]:
    """The sets under ``root`` (tests/nlu): held-out, realistic, realistic with numbers added
    (unless `numbers` is false), conversations and, when asked, the sealed parts."""
    sets = {HELD_OUT: load_examples(root)}
    if (root / REALISTIC).is_dir():
        sets[REALISTIC] = load_examples(root / REALISTIC)
        if numbers:
            sets[WITH_NUMBERS] = with_numbers(sets[REALISTIC])
    if sealed:
        if not (root / REALISTIC / SEALED).is_dir():
            raise FileNotFoundError(f"no sealed set under {root / REALISTIC / SEALED}")
        sets[SEALED] = load_examples(root / REALISTIC / SEALED)
    if (root / CONVERSATIONS).is_dir():
        sets[CONVERSATIONS] = load_examples(root / CONVERSATIONS)
        if sealed and (root / CONVERSATIONS / SEALED).is_dir():
            sets[CONVERSATIONS_SEALED] = load_examples(root / CONVERSATIONS / SEALED)
    return sets


def with_numbers(examples: Sequence[Example], seed: int = 12) -> list[Example]:
    """The requests among `examples`, each with a made-up number before or after the text.

    One in three gets an order number (18-19 digits, or a dated one with a dash: no entity),
    one a valid S10 or 13-digit EMS tracking number and one an 11-digit mobile number (gold
    entities); the example's own entity spans move with the text.
    """
    import random

    from bot.text.tracking import make_ems13, make_s10

    rng = random.Random(seed)

    def digits(n: int) -> str:
        return "".join(rng.choice("0123456789") for _ in range(n))

    out = []
    for e in examples:
        if e.intent not in REQUEST_INTENTS:
            continue
        kind = rng.choice(("order", "tracking", "phone"))
        if kind == "order":
            number, entity = rng.choice((digits(18), f"{digits(6)}-{digits(15)}")), None
        elif kind == "tracking":
            number = (make_s10(rng.choice(("EA", "EB", "CX", "RR", "KA")), digits(8))
                      if rng.random() < 0.5 else make_ems13(rng.choice(("10", "11")), digits(8)))
            entity = "tracking_number"
        else:
            number, entity = "1" + rng.choice("3578") + digits(9), "phone_number"
        if rng.random() < 0.5:
            text, shift, start = f"{number} {e.text}", len(number) + 1, 0
        else:
            text, shift, start = f"{e.text} {number}", 0, len(e.text) + 1
        entities = [(n, s + shift, t + shift) for n, s, t in e.entities]
        if entity:
            entities.append((entity, start, start + len(number)))
        out.append(Example(text, e.intent, sorted(entities, key=lambda x: x[1]), e.register))
    return out


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
        precision = tp[name] / (tp[name] + fp[name]) if tp[name] + fp[name] else 0.0
        recall = tp[name] / (tp[name] + fn[name]) if tp[name] + fn[name] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        report[name] = {"precision": round(precision, 4), "recall": round(recall, 4),
                        "f1": round(f1, 4), "support": tp[name] + fn[name]}
    return report


def quiet_parse_logs() -> None:
    """Rasa logs every parse at debug level through structlog: keep reports readable."""
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))


async def _parse_all(model: Path, batches: Sequence[Sequence[str]],
                     progress: bool) -> list[list[dict[str, Any]]]:
    from rasa.core.agent import Agent
    from tqdm import tqdm

    quiet_parse_logs()
    agent = Agent.load(str(model))
    total = sum(len(b) for b in batches)
    out = []
    with tqdm(total=total, desc=f"evaluating {model.name}", unit="msg",
              disable=not progress) as bar:
        for texts in batches:
            parsed = []
            for text in texts:
                parsed.append(await agent.parse_message(text))
                bar.update(1)
            out.append(parsed)
    return out


def real_ranking(parse: dict[str, Any]) -> list[dict[str, Any]]:
    """The classifier's ranking without the ``nlu_fallback`` entry Rasa puts on top."""
    return [r for r in parse.get("intent_ranking") or [] if r.get("name") != FALLBACK]


def prediction_of(parse: dict[str, Any]) -> Prediction:
    """The parse's intent and the best other real intent (for reading the misses)."""
    top = parse.get("intent") or {}
    others = [r for r in real_ranking(parse) if r.get("name") != top.get("name")]
    second = others[0] if others else {}
    return Prediction(top.get("name") or FALLBACK, float(top.get("confidence") or 0.0),
                      second.get("name") or "", float(second.get("confidence") or 0.0))


def score(examples: Sequence[Example], parses: Sequence[dict[str, Any]],
          entity_types: Optional[Sequence[str]] = None) -> Result:
    """Score parses against the examples' gold labels.

    Args:
        entity_types: only these entity types are scored (None: all).
    """
    from sklearn.metrics import classification_report, confusion_matrix

    y_true = [e.intent for e in examples]
    predictions = [prediction_of(p) for p in parses]
    y_pred = [p.intent for p in predictions]
    labels = sorted(set(y_true) | set(y_pred))
    report = classification_report(y_true, y_pred, labels=sorted(set(y_true)),
                                   output_dict=True, zero_division=0)
    keep = (lambda name: True) if entity_types is None else (lambda name: name in entity_types)
    gold_ents = [[x for x in e.entities if keep(x[0])] for e in examples]
    pred_ents = [[(x["entity"], x["start"], x["end"]) for x in p.get("entities", [])
                  if keep(x["entity"])] for p in parses]
    errors = []
    for ex, gold, p, pe in zip(examples, gold_ents, predictions, pred_ents):
        wrong_entities = set(gold) ^ set(pe)
        if p.intent != ex.intent or wrong_entities:
            errors.append({
                "register": ex.register,
                "text": mask_text(ex.text),
                "intent": ex.intent,
                "predicted": p.intent,
                "confidence": round(p.confidence, 3),
                "runner_up": p.runner_up,
                "runner_up_confidence": round(p.runner_up_confidence, 3),
                "entity_mismatches": sorted(f"{n}:{ex.text[s:e] and mask_text(ex.text[s:e])}"
                                            for n, s, e in wrong_entities),
            })
    cm = confusion_matrix(y_true, y_pred, labels=labels).tolist()
    return Result(report, entity_scores(gold_ents, pred_ents), errors, labels, cm,
                  list(examples), predictions)


def evaluate(model: Path, examples: Sequence[Example], progress: bool = False) -> Result:
    """Parse every example with the model and score intents and entities."""
    return evaluate_sets(model, {HELD_OUT: list(examples)}, progress)[HELD_OUT]


def evaluate_sets(model: Path, sets: dict[str, list[Example]],
                  progress: bool = False) -> dict[str, Result]:
    """Load the model once and score each named set (realistic sets: number entities only)."""
    names = list(sets)
    parsed = asyncio.run(_parse_all(model, [[e.text for e in sets[n]] for n in names], progress))
    return {n: score(sets[n], p, None if n == HELD_OUT else REALISTIC_ENTITIES)
            for n, p in zip(names, parsed)}


class Baseline:
    """The plain baseline: TF-IDF character 1-3-grams and a logistic regression.

    Trained on the same training data as the model, so that the difference measures what the
    model adds over a bag of character n-grams.
    """

    def __init__(self) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3),
                                          sublinear_tf=True)
        self.model = LogisticRegression(C=10.0, max_iter=3000)

    def fit(self, texts: Sequence[str], intents: Sequence[str]) -> "Baseline":
        """Fit the character n-gram model on `texts` labelled with `intents`; returns self."""
        self.model.fit(self.vectorizer.fit_transform(texts), intents)
        return self

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The intent the baseline gives each text."""
        return list(self.model.predict(self.vectorizer.transform(texts)))

    @classmethod
    def trained_on(cls, data: Path) -> "Baseline":
        """Fit on the intent examples of the Rasa training data under ``data``."""
        from rasa.shared.nlu.training_data.loading import load_data

        files = sorted(data.rglob("*.yml")) if data.is_dir() else [data]
        examples = [m for f in files for m in load_data(str(f)).intent_examples
                    if m.get("intent") and m.get("text")]
        return cls().fit([m.get("text") for m in examples], [m.get("intent") for m in examples])


# Resamples of the paired bootstrap: enough for a stable 95% interval on a few thousand messages.
BOOTSTRAP_RESAMPLES = 2000


def paired_difference(gold: Sequence[str], model: Sequence[str], base: Sequence[str],
                      resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> dict[str, Any]:
    """Model accuracy minus baseline accuracy on the same messages, with a 95% interval.

    The interval is a paired bootstrap: messages are drawn with replacement and both systems
    are scored on the same draw, so a message both get right (or wrong) adds no noise. On a
    few hundred hard messages a difference of one or two points is often inside it; the
    counts of messages only one of the two gets right say where the difference comes from.
    """
    import numpy as np

    n = len(gold)
    if n == 0:
        return {"difference": 0.0, "low": 0.0, "high": 0.0, "only_model": 0, "only_base": 0}
    delta = np.array([int(m == g) - int(b == g) for g, m, b in zip(gold, model, base)],
                     dtype=np.int8)
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, 2_000_000 // n)  # resamples drawn at once, to bound memory
    for start in range(0, resamples, chunk):
        rows = min(chunk, resamples - start)
        draws = rng.integers(0, n, size=(rows, n))
        means[start:start + rows] = delta[draws].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return {"difference": round(float(delta.mean()), 4), "low": round(float(low), 4),
            "high": round(float(high), 4), "only_model": int((delta == 1).sum()),
            "only_base": int((delta == -1).sum())}


def set_summary(result: Result, baseline: Optional[Sequence[str]] = None) -> dict[str, Any]:
    """The figures of one set, and the baseline's on the same examples."""
    gold = [e.intent for e in result.examples]
    out: dict[str, Any] = {
        "n": len(gold),
        "accuracy": round(result.accuracy, 4),
        "macro_f1": round(result.intent_macro_f1, 4),
        "fallback_rate": round(result.fallback_rate, 4),
        "registers": result.by_register(),
        "entities": result.entity_report,
    }
    if baseline is not None:
        out["baseline"] = {
            "accuracy": round(accuracy(gold, baseline), 4),
            "macro_f1": round(macro_f1(gold, baseline), 4),
            "registers": by_register(result.examples, baseline),
            "difference": paired_difference(gold, [p.intent for p in result.predictions],
                                            baseline),
        }
    return out


def misses_text(result: Result, baseline: Optional[Sequence[str]] = None) -> str:
    """Every miss, register by register, masked: what it was, what the model said, the text."""
    base = baseline or [""] * len(result.examples)
    rows = sorted(
        ((e.register, e.intent, p, b, e.text) for e, p, b in
         zip(result.examples, result.predictions, base) if p.intent != e.intent),
        key=lambda r: (r[0], r[1]))
    lines = [f"# {len(rows)} of {len(result.examples)} messages missed "
             "(gold -> model (confidence) / runner-up / baseline)"]
    register = None
    for reg, gold, p, b, text in rows:
        if reg != register:
            lines.append(f"\n## {reg}")
            register = reg
        lines.append(f"{gold} -> {p.intent} ({p.confidence:.2f}) / {p.runner_up} "
                     f"({p.runner_up_confidence:.2f}) / {b or '-'}\t{mask_text(text)}")
    return "\n".join(lines) + "\n"


def plot_confusion(result: Result, path: Path, title: str = "Held-out intents") -> None:
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
    ax.set_title(f"{title} (macro F1 {result.intent_macro_f1:.3f})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _dump(obj: Any, path: Path) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2), encoding="utf-8")


def write_reports(result: Result, out: Path) -> None:
    """Write the held-out JSON reports and the confusion-matrix PNG under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    _dump(result.intent_report, out / "intent_report.json")
    _dump(result.entity_report, out / "entity_report.json")
    _dump(result.errors, out / "errors.json")
    plot_confusion(result, out / "intent_confusion_matrix.png")


def summary(result: Result) -> str:
    """A printable per-intent table of one set's scores."""
    lines = [f"{'intent':<22}{'precision':>10}{'recall':>8}{'f1':>8}{'n':>5}"]
    for name, r in sorted(result.intent_report.items()):
        if isinstance(r, dict) and name not in ("macro avg", "weighted avg", "micro avg"):
            lines.append(f"{name:<22}{r['precision']:>10.3f}{r['recall']:>8.3f}"
                         f"{r['f1-score']:>8.3f}{int(r['support']):>5}")
    lines.append(f"intent macro F1: {result.intent_macro_f1:.4f}   accuracy: "
                 f"{result.accuracy:.4f}   fallback: {result.fallback_rate:.1%}")
    lines.append(f"{'entity':<22}{'precision':>10}{'recall':>8}{'f1':>8}{'n':>5}")
    for name, r in result.entity_report.items():
        lines.append(f"{name:<22}{r['precision']:>10.3f}{r['recall']:>8.3f}{r['f1']:>8.3f}"
                     f"{r['support']:>5}")
    return "\n".join(lines)


def overview(figures: dict[str, dict[str, Any]]) -> str:
    """Model against baseline, set by set and register by register."""
    lines = [f"{'set / register':<28}{'n':>5}{'acc':>8}{'F1':>8}{'fallbk':>8}"
             f"{'base acc':>10}{'base F1':>9}   model - base [95% interval] (only model / "
             "only base right)"]
    for name, fig in figures.items():
        base = fig.get("baseline", {})
        d = base.get("difference")
        gap = (f"   {d['difference']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}] "
               f"({d['only_model']} / {d['only_base']})" if d else "")
        lines.append(f"{name:<28}{fig['n']:>5}{fig['accuracy']:>8.3f}{fig['macro_f1']:>8.3f}"
                     f"{fig['fallback_rate']:>8.1%}{base.get('accuracy', 0):>10.3f}"
                     f"{base.get('macro_f1', 0):>9.3f}{gap}")
        if name == HELD_OUT:
            continue
        for reg, r in fig["registers"].items():
            b = base.get("registers", {}).get(reg, {})
            lines.append(f"  {reg:<26}{r['n']:>5}{r['accuracy']:>8.3f}{r['macro_f1']:>8.3f}"
                         f"{r['fallback']:>8.1%}{b.get('accuracy', 0):>10.3f}"
                         f"{b.get('macro_f1', 0):>9.3f}")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line: evaluate every set, beside the baseline, and write the reports."""
    parser = argparse.ArgumentParser(prog="python -m bot.nlu.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("models/postdesk.tar.gz"))
    parser.add_argument("--data", type=Path, default=Path("tests/nlu"),
                        help="the evaluation root (held-out *.yml, realistic/, conversations/, "
                             "and their sealed/)")
    parser.add_argument("--train-data", type=Path, default=Path("data/nlu"),
                        help="what the baseline is trained on (the model's training data)")
    parser.add_argument("--sealed", action="store_true",
                        help="also score the sealed parts (figures only, no list of misses)")
    parser.add_argument("--out", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)
    if not args.model.exists():
        print(f"no model at {args.model}: run 'make train'", file=sys.stderr)
        return 1
    sets = evaluation_sets(args.data, sealed=args.sealed)
    results = evaluate_sets(args.model, sets, progress=sys.stderr.isatty())
    baseline = Baseline.trained_on(args.train_data)
    args.out.mkdir(parents=True, exist_ok=True)
    figures = {}
    for name, result in results.items():
        base = baseline.predict([e.text for e in result.examples])
        figures[name] = set_summary(result, base)
        if name not in (SEALED, CONVERSATIONS_SEALED):
            (args.out / f"misses_{name}.txt").write_text(misses_text(result, base),
                                                          encoding="utf-8")
    write_reports(results[HELD_OUT], args.out)
    _dump(figures, args.out / "summary.json")
    print(f"== {HELD_OUT}\n{summary(results[HELD_OUT])}\n")
    print(overview(figures))
    print(f"\nreports written to {args.out}/ (misses_*.txt lists every miss)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

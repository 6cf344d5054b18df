"""How a setting of the intent model reads writers it has never seen, without the test sets.

``python -m bot.nlu.crossval`` holds out the conversation-round writers of ``data/nlu`` (each
``conversations_*.yml`` file is one writer's turns, labelled by two annotators) a few files at
a time, fits the blend's linear model (`bot.nlu.intent_blend.fit_linear`, about nine tenths of
the blend) on everything else, and scores the held-out turns: the top intent, with no fallback
threshold. Over 8 folds that is about 9,200 turns by 40 writers, twelve times the conversations
set's iterating part, so a setting can be chosen here and the evaluation sets kept for judging.

``--set pinyin=false`` (repeatable) scores the component's configuration with that change
beside the configuration of ``config.yml``, fold by fold on the same turns, with the paired
difference and its 95% interval (`bot.nlu.evaluate.paired_difference`).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import yaml  # type: ignore[import-untyped,unused-ignore]  # no types-PyYAML installed

from bot.nlu.evaluate import accuracy, paired_difference

WRITER_FILES = "conversations_*.yml"
BLEND = "bot.nlu.intent_blend.BlendedIntentClassifier"


@dataclass
class Turn:
    """A training example and the file it came from."""

    message: Any  # rasa Message, tokenized
    source: str


def _options(pipeline: List[Dict[str, Any]], name: str,
             defaults: Dict[str, Any]) -> Dict[str, Any]:
    """The options of the pipeline's component `name` over `defaults`."""
    own = next((c for c in pipeline if c.get("name") == name), None)
    if own is None:
        raise ValueError(f"the pipeline has no {name}")
    return {**defaults, **{k: v for k, v in own.items() if k != "name"}}


def read_pipeline(config_file: Path) -> List[Dict[str, Any]]:
    """The NLU pipeline of `config_file`."""
    return yaml.safe_load(config_file.read_text(encoding="utf-8"))["pipeline"]


def blend_config(pipeline: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The blend component's configuration in `pipeline`, over its defaults."""
    from bot.nlu.intent_blend import BlendedIntentClassifier

    return _options(pipeline, BLEND, BlendedIntentClassifier.get_default_config())


def load_turns(data: Path, pipeline: List[Dict[str, Any]]) -> List[Turn]:
    """Every intent example of the ``*.yml`` files in `data`, tokenized by the pipeline's
    JiebaTokenizer (with the dictionary it names)."""
    from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
    from rasa.shared.nlu.training_data.loading import load_data

    options = _options(pipeline, "JiebaTokenizer", JiebaTokenizer.get_default_config())
    # create() loads the user dictionary; the model storage is only read when persisting.
    jieba = JiebaTokenizer.create(options, None, None, None)  # type: ignore[arg-type,unused-ignore]
    turns: List[Turn] = []
    for path in sorted(data.glob("*.yml")):
        examples = [m for m in load_data(str(path)).intent_examples if m.get("text")]
        jieba.process(examples)
        turns.extend(Turn(message, path.stem) for message in examples)
    return turns


def writer_folds(sources: Sequence[str], folds: int, seed: int) -> List[List[str]]:
    """The writers' files shuffled with `seed` and dealt into `folds` groups."""
    writers = sorted({s for s in sources if Path(s + ".yml").match(WRITER_FILES)})
    if len(writers) < folds:
        raise ValueError(f"{len(writers)} writers' files ({WRITER_FILES}) for {folds} folds")
    random.Random(seed).shuffle(writers)
    return [sorted(writers[i::folds]) for i in range(folds)]


def predict_held_out(turns: Sequence[Turn], fold_of: Sequence[Optional[int]], folds: int,
                     config: Dict[str, Any]) -> List[Optional[str]]:
    """Each writer turn's intent by a linear model fitted without its fold (None elsewhere);
    `fold_of` gives each turn's fold, None for turns no fold holds out."""
    from bot.nlu.intent_blend import fit_linear

    predicted: List[Optional[str]] = [None] * len(turns)
    for fold in range(folds):
        train = [t.message for t, f in zip(turns, fold_of) if f != fold]
        test = [i for i, f in enumerate(fold_of) if f == fold]
        features, clf = fit_linear(train, config)
        scores = clf.predict_proba(features.transform([turns[i].message for i in test]))
        for i, row in zip(test, scores.argmax(axis=1)):
            predicted[i] = str(clf.classes_[row])
    return predicted


def fold_accuracies(gold: Sequence[str], predicted: Sequence[str],
                    fold_of: Sequence[int], folds: int) -> List[float]:
    """Accuracy on each fold's turns."""
    return [round(accuracy([g for g, f in zip(gold, fold_of) if f == fold],
                           [p for p, f in zip(predicted, fold_of) if f == fold]), 4)
            for fold in range(folds)]


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` with the value read as YAML (``pinyin=false``, ``C=5``)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    return key.strip(), yaml.safe_load(value)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Print (and with --out write) the leave-writers-out accuracy of one or two settings."""
    parser = argparse.ArgumentParser(prog="python -m bot.nlu.crossval", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("data/nlu"))
    parser.add_argument("--config", type=Path, default=Path("config.yml"))
    parser.add_argument("--folds", type=int, default=8)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        type=parse_override, metavar="KEY=VALUE",
                        help="score the blend's configuration with this change beside it")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)

    try:
        pipeline = read_pipeline(args.config)
        config = blend_config(pipeline)
        unknown = [k for k, _ in args.overrides if k not in config]
        if unknown:
            parser.error(f"not a setting of {BLEND}: {', '.join(unknown)}")
        turns = load_turns(args.data, pipeline)
        groups = writer_folds([t.source for t in turns], args.folds, args.seed)
    except (OSError, ValueError, KeyError) as exc:
        print(f"crossval: {exc}", file=sys.stderr)
        return 2

    fold_by_writer = {w: k for k, group in enumerate(groups) for w in group}
    fold_of = [fold_by_writer.get(t.source) for t in turns]
    writer_turns = [i for i, f in enumerate(fold_of) if f is not None]
    held_folds = [f for f in fold_of if f is not None]
    gold = [turns[i].message.get("intent") for i in writer_turns]
    settings = {"configured": config}
    if args.overrides:
        settings["changed"] = {**config, **dict(args.overrides)}
    report: Dict[str, Any] = {"writers": sum(len(g) for g in groups), "folds": groups,
                              "turns": len(writer_turns), "settings": {}}
    answers = {}
    for name, setting in settings.items():
        predicted = predict_held_out(turns, fold_of, args.folds, setting)
        answers[name] = [predicted[i] or "" for i in writer_turns]
        report["settings"][name] = {
            "config": {k: setting[k] for k in sorted(setting)},
            "accuracy": round(accuracy(gold, answers[name]), 4),
            "folds": fold_accuracies(gold, answers[name], held_folds, args.folds)}
        print(f"{name:>10}: {report['settings'][name]['accuracy']:.3f} on {len(gold)} turns of "
              f"{report['writers']} writers; folds "
              + " ".join(f"{a:.3f}" for a in report["settings"][name]["folds"]))
    if "changed" in answers:
        diff = paired_difference(gold, answers["changed"], answers["configured"])
        ahead = sum(c > b for c, b in zip(report["settings"]["changed"]["folds"],
                                          report["settings"]["configured"]["folds"]))
        report["difference"] = {**diff, "folds_ahead": ahead}
        print(f"changed - configured: {diff['difference']:+.4f} "
              f"[{diff['low']:+.4f}, {diff['high']:+.4f}] "
              f"({diff['only_model']} turns only the change gets right, "
              f"{diff['only_base']} only the configured); ahead in {ahead} folds of {args.folds}")
    if args.out:
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

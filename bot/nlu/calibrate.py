"""Choose the fallback thresholds on the sets most like real messages, not on the data we wrote.

``python -m bot.nlu.calibrate --model models/postdesk.tar.gz`` parses the conversations set
(``tests/nlu/conversations``) and the realistic set (``tests/nlu/realistic``), iterating parts
only, the held-out split and a list of noise messages once, then replays the pipeline's
fallback rule (`bot.nlu.scoped_fallback`) on each parse's ranking for a grid of
``threshold`` × ``ambiguity_threshold``:

* real requests: accuracy with a fallback counted wrong, and the share that falls back;
* out-of-scope and noise: the share *caught* (answered ``out_of_scope`` or sent to fallback,
  rather than routed into a service flow).

It prints the grid and the best pair (highest accuracy on the conversations set, then on the
realistic set, among those that still catch at least ``--min-caught`` of the noise);
``config.yml`` takes the values by hand, so a change of thresholds is a reviewed change.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from bot.nlu.evaluate import (
    CONVERSATIONS,
    FALLBACK,
    HELD_OUT,
    REALISTIC,
    Example,
    _parse_all,
    evaluation_sets,
    real_ranking,
)
from bot.nlu.scoped_fallback import OUT_OF_SCOPE, OUT_OF_SCOPE_FLOOR, falls_back

# Not customer language: what a mis-tap, a cat on the keyboard or a stray paste looks like.
NOISE = [
    "asdfghjkl", "qwertyuiop", "zxcvb", "jjjjjjj", "。。。。。。", "？？", "…", "hhhhhhhh",
    "啊啊啊啊啊啊", "哈哈哈哈哈哈哈", "嗯嗯嗯", "😂😂😂", "🙏🙏", "👍", "[微笑]", "[捂脸][捂脸]",
    "aaaaaaa", "lkjhgf", "fdsa fdsa", "ppppp", "／／／", "~~~~", "dsfsdfsdf", "ggggg",
    "哦哦哦哦", "额额额", "1+1", "abc123xyz", "呃呃", "嘿嘿嘿", "sdjfkl;", "tttt", "xx",
    "。", "！！！", "???", "ok ok ok ok", "mmmmm", "wwwww", "哒哒哒哒",
]
THRESHOLDS = [0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5]
AMBIGUITIES = [0.0, 0.01, 0.02, 0.03, 0.05, 0.08]


@dataclass(frozen=True)
class Reading:
    """The classifier's two best real intents before the fallback rule, and the message."""

    gold: str
    first: str
    first_confidence: float
    second_confidence: float
    text: Optional[str] = None


def reading(gold: str, parse: dict[str, Any]) -> Reading:
    """The ranking without Rasa's inserted ``nlu_fallback`` entry."""
    ranking = real_ranking(parse)
    if not ranking:
        top = parse.get("intent") or {}
        ranking = [top] if top.get("name") not in (None, FALLBACK) else []
    first = ranking[0] if ranking else {"name": FALLBACK, "confidence": 0.0}
    second = ranking[1] if len(ranking) > 1 else {"confidence": 0.0}
    return Reading(gold, first["name"], float(first.get("confidence") or 0.0),
                   float(second.get("confidence") or 0.0), parse.get("text"))


def decide(r: Reading, threshold: float, ambiguity: float,
           floor: float = OUT_OF_SCOPE_FLOOR) -> str:
    """What the pipeline's fallback rule (`bot.nlu.scoped_fallback.falls_back`) makes of `r`."""
    if falls_back(r.first, r.first_confidence, r.second_confidence, threshold, ambiguity, floor,
                  r.text):
        return FALLBACK
    return r.first


@dataclass(frozen=True)
class Point:
    """The figures of one pair of thresholds."""

    threshold: float
    ambiguity: float
    realistic_accuracy: float
    realistic_fallback: float
    heldout_accuracy: float
    caught: float
    # Turns written without labels and labelled afterwards: the set most like real messages.
    conversations_accuracy: float = 0.0


def _share(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def point(threshold: float, ambiguity: float, realistic: Sequence[Reading],
          heldout: Sequence[Reading], noise: Sequence[Reading],
          conversations: Sequence[Reading] = ()) -> Point:
    """Replay the rule on every reading with these thresholds (each reading decided once)."""
    def said(readings: Sequence[Reading]) -> list[tuple[str, str]]:
        return [(r.gold, decide(r, threshold, ambiguity)) for r in readings]

    real = said(realistic)
    junk = [s for gold, s in real if gold == OUT_OF_SCOPE] + [s for _, s in said(noise)]
    return Point(
        threshold, ambiguity,
        _share([s == gold for gold, s in real]),
        _share([s == FALLBACK for gold, s in real if gold != OUT_OF_SCOPE]),
        _share([s == gold for gold, s in said(heldout)]),
        _share([s in (FALLBACK, OUT_OF_SCOPE) for s in junk]),
        _share([s == gold for gold, s in said(conversations)]),
    )


def best(points: Sequence[Point], min_caught: float) -> Optional[Point]:
    """The most accurate pair on the conversations set (then the realistic set) that still
    catches enough noise."""
    good = [p for p in points if p.caught >= min_caught]
    if not good:
        return None
    # Ties: more noise caught, then the held-out split, then a wider ambiguity band (close
    # calls are clarified rather than guessed), then the lower threshold.
    return max(good, key=lambda p: (round(p.conversations_accuracy, 4),
                                    round(p.realistic_accuracy, 4), round(p.caught, 4),
                                    round(p.heldout_accuracy, 4), p.ambiguity, -p.threshold))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line: parse once, replay the grid, print it and the best pair."""
    parser = argparse.ArgumentParser(prog="python -m bot.nlu.calibrate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("models/postdesk.tar.gz"))
    parser.add_argument("--data", type=Path, default=Path("tests/nlu"))
    parser.add_argument("--min-caught", type=float, default=0.85,
                        help="share of out-of-scope and noise messages that must be caught")
    args = parser.parse_args(argv)
    import asyncio

    sets = evaluation_sets(args.data, numbers=False)
    realistic: list[Example] = sets.get(REALISTIC, [])
    conversations: list[Example] = sets.get(CONVERSATIONS, [])
    heldout = sets[HELD_OUT]
    texts = [[e.text for e in realistic], [e.text for e in heldout], NOISE,
             [e.text for e in conversations]]
    parsed = asyncio.run(_parse_all(args.model, texts, sys.stderr.isatty()))
    r_real = [reading(e.intent, p) for e, p in zip(realistic, parsed[0])]
    r_held = [reading(e.intent, p) for e, p in zip(heldout, parsed[1])]
    r_noise = [reading(OUT_OF_SCOPE, p) for p in parsed[2]]
    r_conv = [reading(e.intent, p) for e, p in zip(conversations, parsed[3])]
    points = [point(t, a, r_real, r_held, r_noise, r_conv)
              for t in THRESHOLDS for a in AMBIGUITIES]
    print(f"{'threshold':>9}{'ambig':>7}{'conv acc':>10}{'real acc':>10}{'real fb':>9}"
          f"{'held acc':>10}{'caught':>8}")
    for p in points:
        print(f"{p.threshold:>9.2f}{p.ambiguity:>7.2f}{p.conversations_accuracy:>10.3f}"
              f"{p.realistic_accuracy:>10.3f}{p.realistic_fallback:>9.1%}"
              f"{p.heldout_accuracy:>10.3f}{p.caught:>8.1%}")
    chosen = best(points, args.min_caught)
    if chosen is None:
        print(f"no pair catches {args.min_caught:.0%} of the noise")
        return 1
    print(f"best: threshold {chosen.threshold}, ambiguity_threshold {chosen.ambiguity} "
          f"(conversations accuracy {chosen.conversations_accuracy:.3f}, realistic accuracy "
          f"{chosen.realistic_accuracy:.3f}, caught {chosen.caught:.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The deployment gate: a new model goes into service only if it is no worse than the one there.

Both models are scored on the same held-out split (tests/nlu) and, where both have it, on the
realistic set (tests/nlu/realistic, written by people who never saw the training data) and the
conversations set (tests/nlu/conversations: turns written without labels and labelled
afterwards, the set most like real messages). The candidate is refused when its intent
macro-F1 is lower than the deployed model's, when any intent's F1 drops by more than
`MAX_INTENT_DROP` (3 points), when its accuracy on the realistic set (a fallback counted wrong)
is lower, or when its accuracy on the conversations set is lower by more than
`CONVERSATIONS_TOLERANCE`; the verdict names each reason.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_INTENT_DROP = 0.03
# The conversations set is small (774 messages) and hard (about 0.7), so one retraining moves
# it by a few messages either way: within 2 points, fifteen messages fewer right pass, sixteen
# refuse.
CONVERSATIONS_TOLERANCE = 0.02
# Float noise only: a report rounded to 4 places must not refuse an identical model.
_EPSILON = 1e-9


@dataclass(frozen=True)
class Verdict:
    """The gate's answer and the comparison behind it."""

    deploy: bool
    reasons: list[str]
    macro_before: float | None
    macro_after: float
    intent_deltas: dict[str, float]  # intent -> candidate F1 minus deployed F1


def metrics_of(results: dict[str, Any]) -> dict[str, Any]:
    """The registry's metrics of an evaluation (`bot.nlu.evaluate.evaluate_sets`' results by
    set name: the held-out split, and the realistic and conversations sets when there are)."""
    from bot.nlu.evaluate import CONVERSATIONS, HELD_OUT, REALISTIC

    result, realistic, conversations = (results[HELD_OUT], results.get(REALISTIC),
                                        results.get(CONVERSATIONS))
    intents = {name: round(float(row["f1-score"]), 4)
               for name, row in result.intent_report.items()
               if isinstance(row, dict) and name not in ("macro avg", "weighted avg", "micro avg")}
    return {
        "macro_f1": round(result.intent_macro_f1, 4),
        "intents": intents,
        "entities": {name: row["f1"] for name, row in result.entity_report.items()},
        "examples": int(result.intent_report.get("macro avg", {}).get("support", 0)),
        **({"realistic_accuracy": round(realistic.accuracy, 4)} if realistic is not None else {}),
        **({"conversations_accuracy": round(conversations.accuracy, 4)}
           if conversations is not None else {}),
    }


def _accuracy_drop(candidate: dict[str, Any], deployed: dict[str, Any], key: str, name: str,
                   tolerance: float) -> list[str]:
    """The reason to refuse when the candidate's `key` accuracy is lower than the deployed
    model's by more than `tolerance` (none when either model lacks the figure)."""
    before, after = deployed.get(key), candidate.get(key)
    if before is None or after is None or float(after) >= float(before) - tolerance - _EPSILON:
        return []
    allowed = f", more than {tolerance * 100:.0f}" if tolerance else ""
    return [f"accuracy on the {name} dropped from {float(before):.4f} to {float(after):.4f} "
            f"({(float(after) - float(before)) * 100:+.1f} points{allowed})"]


def judge(candidate: dict[str, Any], deployed: dict[str, Any] | None,
          max_intent_drop: float = MAX_INTENT_DROP,
          conversations_tolerance: float = CONVERSATIONS_TOLERANCE) -> Verdict:
    """Compare a candidate's metrics with the deployed model's.

    With no deployed model (the first one) the candidate passes. A set one of the two models
    was not scored on (recorded before the set existed) is left out of the comparison.
    """
    after = float(candidate["macro_f1"])
    if deployed is None:
        return Verdict(True, [], None, after, {})
    before = float(deployed["macro_f1"])
    reasons = []
    if after < before - _EPSILON:
        reasons.append(f"intent macro-F1 dropped from {before:.4f} to {after:.4f} "
                       f"({(after - before) * 100:+.1f} points)")
    reasons += _accuracy_drop(candidate, deployed, "realistic_accuracy", "realistic set", 0.0)
    reasons += _accuracy_drop(candidate, deployed, "conversations_accuracy", "conversations set",
                              conversations_tolerance)
    old, new = deployed.get("intents", {}), candidate.get("intents", {})
    deltas = {name: round(float(new.get(name, 0.0)) - float(old[name]), 4) for name in old}
    for name, delta in sorted(deltas.items(), key=lambda item: item[1]):
        if delta < -max_intent_drop - _EPSILON:
            reasons.append(f"intent {name}: F1 dropped from {old[name]:.4f} to "
                           f"{float(new.get(name, 0.0)):.4f} ({delta * 100:+.1f} points, "
                           f"more than {max_intent_drop * 100:.0f})")
    return Verdict(not reasons, reasons, before, after, deltas)


def report(verdict: Verdict) -> str:
    """The comparison as the trainer reads it: overall, the intents that moved, the verdict."""
    lines = []
    if verdict.macro_before is None:
        lines.append(f"intent macro-F1 {verdict.macro_after:.4f} (no model in service yet)")
    else:
        lines.append(f"intent macro-F1 {verdict.macro_before:.4f} -> {verdict.macro_after:.4f} "
                     f"({(verdict.macro_after - verdict.macro_before) * 100:+.1f} points)")
    moved = [(n, d) for n, d in sorted(verdict.intent_deltas.items(), key=lambda i: i[1]) if d]
    for name, delta in moved:
        lines.append(f"  {name:<24} {delta * 100:+.1f} points")
    if verdict.deploy:
        lines.append("gate: PASSED")
    else:
        lines.append("gate: REFUSED")
        lines += [f"  - {reason}" for reason in verdict.reasons]
    return "\n".join(lines)

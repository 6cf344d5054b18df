"""The evaluation counts honestly: a fallback is wrong, registers are scored apart, the
baseline is trained on the same data, and the sealed part is read only when asked."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.nlu import calibrate
from bot.nlu.evaluate import (
    FALLBACK,
    Baseline,
    Example,
    accuracy,
    by_register,
    evaluation_sets,
    macro_f1,
    main,
    misses_text,
    overview,
    paired_difference,
    score,
    set_summary,
    with_numbers,
)


def parse(intent: str, confidence: float, *others: tuple[str, float]) -> dict:
    ranking = [{"name": intent, "confidence": confidence}]
    ranking += [{"name": n, "confidence": c} for n, c in others]
    return {"intent": {"name": intent, "confidence": confidence}, "intent_ranking": ranking,
            "entities": []}


def test_a_fallback_counts_as_wrong() -> None:
    gold = ["track_mail", "track_mail", "ask_fee", "ask_fee"]
    said = ["track_mail", FALLBACK, "ask_fee", FALLBACK]
    assert accuracy(gold, said) == 0.5
    assert macro_f1(gold, said) == pytest.approx(2 / 3)  # each intent: P 1, R 0.5


def test_registers_are_scored_apart() -> None:
    examples = [Example("a", "track_mail", [], "dialect"), Example("b", "ask_fee", [], "dialect"),
                Example("c", "track_mail", [], "reviews")]
    figures = by_register(examples, ["track_mail", FALLBACK, "ask_fee"])
    assert figures["dialect"] == {"n": 2, "accuracy": 0.5, "macro_f1": 0.5, "fallback": 0.5}
    assert figures["reviews"]["accuracy"] == 0.0 and figures["reviews"]["n"] == 1


def test_misses_are_listed_masked_with_the_runner_up() -> None:
    examples = [Example("我电话13812345678 件咋个还不到", "delivery_delay", [], "dialect"),
                Example("到哪了", "track_mail", [], "wechat_oneliners")]
    result = score(examples, [parse(FALLBACK, 0.3, ("delivery_delay", 0.28)),
                              parse("track_mail", 0.9)])
    text = misses_text(result, ["delivery_delay", "track_mail"])
    assert "1 of 2 messages missed" in text
    assert "delivery_delay -> nlu_fallback (0.30) / delivery_delay (0.28) / delivery_delay" in text
    assert "13812345678" not in text and "138****5678" in text
    assert result.accuracy == 0.5 and result.fallback_rate == 0.5


def test_the_difference_from_the_baseline_is_paired_and_bounded() -> None:
    gold = ["track_mail"] * 100
    # 30 messages only the model gets right, 10 only the baseline, 40 both, 20 neither.
    model = ["track_mail"] * 70 + ["ask_fee"] * 30
    base = ["ask_fee"] * 30 + ["track_mail"] * 40 + ["track_mail"] * 10 + ["ask_fee"] * 20
    d = paired_difference(gold, model, base)
    assert d["difference"] == pytest.approx(0.2)
    assert (d["only_model"], d["only_base"]) == (30, 10)
    assert 0.0 < d["low"] < 0.2 < d["high"] < 0.4
    assert paired_difference(gold, model, base) == d  # seeded: the same interval every run
    # As many messages each way: no difference, and the interval spans both signs.
    even = paired_difference(gold, model, ["ask_fee"] * 30 + ["track_mail"] * 70)
    assert even["difference"] == 0.0 and even["low"] < 0.0 < even["high"]
    # The same answers: nothing to tell apart, however many messages.
    assert paired_difference(gold, model, model) == {
        "difference": 0.0, "low": 0.0, "high": 0.0, "only_model": 0, "only_base": 0}
    assert paired_difference([], [], [])["difference"] == 0.0


def test_the_overview_shows_the_difference_with_its_interval() -> None:
    examples = [Example(str(i), "track_mail", [], "wechat_oneliners") for i in range(4)]
    result = score(examples, [parse("track_mail", 0.9)] * 3 + [parse(FALLBACK, 0.2)])
    figures = {"conversations": set_summary(result, ["ask_fee"] * 4)}
    assert figures["conversations"]["baseline"]["difference"]["difference"] == 0.75
    table = overview(figures)
    assert "model - base [95% interval]" in table
    assert "+0.750 [" in table and "(3 / 0)" in table


def write_set(folder: Path, name: str, intent: str, lines: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    body = "".join(f"    - {line}\n" for line in lines)
    (folder / f"{name}.yml").write_text(
        f'version: "3.1"\nnlu:\n- intent: {intent}\n  examples: |\n{body}', encoding="utf-8")


def test_the_sealed_part_is_read_only_when_asked(tmp_path: Path) -> None:
    write_set(tmp_path, "tracking", "track_mail", ["到哪了", "查件"])
    write_set(tmp_path / "realistic", "dialect", "track_mail", ["我的件走到哪点了嘛"])
    write_set(tmp_path / "realistic" / "sealed", "dialect", "track_mail", ["件到哪点喽"])
    assert set(evaluation_sets(tmp_path)) == {"held-out", "realistic", "realistic+numbers"}
    assert set(evaluation_sets(tmp_path, numbers=False)) == {"held-out", "realistic"}
    sets = evaluation_sets(tmp_path, sealed=True)
    assert [e.register for e in sets["realistic"]] == ["dialect"]
    assert [e.text for e in sets["sealed"]] == ["件到哪点喽"]
    with pytest.raises(FileNotFoundError):
        evaluation_sets(tmp_path / "realistic", sealed=True)


def test_the_conversations_set_and_its_sealed_part(tmp_path: Path) -> None:
    write_set(tmp_path, "tracking", "track_mail", ["到哪了"])
    write_set(tmp_path / "realistic", "dialect", "track_mail", ["我的件走到哪点了嘛"])
    write_set(tmp_path / "realistic" / "sealed", "dialect", "track_mail", ["件到哪点喽"])
    write_set(tmp_path / "conversations", "ecommerce_chat", "inform", ["就是那个蓝色的"])
    write_set(tmp_path / "conversations" / "sealed", "phone_asr", "affirm", ["对对对 就是"])
    sets = evaluation_sets(tmp_path, numbers=False)
    assert set(sets) == {"held-out", "realistic", "conversations"}
    # the conversations are not part of the held-out split (only *.yml directly in the root)
    assert [e.text for e in sets["held-out"]] == ["到哪了"]
    assert [(e.register, e.intent) for e in sets["conversations"]] == [("ecommerce_chat", "inform")]
    sealed = evaluation_sets(tmp_path, sealed=True, numbers=False)
    assert [e.text for e in sealed["conversations-sealed"]] == ["对对对 就是"]


def test_numbers_are_added_to_requests_with_their_entities() -> None:
    from bot.text import phones, tracking

    examples = [Example("寄到 昆明多少钱", "ask_fee", [("location", 3, 5)], "wechat"),
                Example("好的", "affirm", [], "wechat"),
                Example("件到哪了", "track_mail", [], "dialect")] * 20
    derived = with_numbers(examples)
    assert derived == with_numbers(examples)            # seeded: every run scores the same text
    assert len(derived) == 40 and {e.intent for e in derived} == {"ask_fee", "track_mail"}
    kinds = set()
    for e in derived:
        original = "寄到 昆明多少钱" if e.intent == "ask_fee" else "件到哪了"
        assert e.text.startswith(original + " ") or e.text.endswith(" " + original)
        number = e.text.replace(original, "").strip()
        spans = {n: e.text[s:t] for n, s, t in e.entities}
        if e.intent == "ask_fee":
            assert spans["location"] == "昆明"
        if "tracking_number" in spans:
            assert spans["tracking_number"] == number and tracking.parse(number).check_ok
            kinds.add("tracking")
        elif "phone_number" in spans:
            assert spans["phone_number"] == number and phones.normalise(number) == number
            kinds.add("phone")
        else:
            assert tracking.find_all(number) == [] and phones.find_all(number) == []
            kinds.add("order")
    assert kinds == {"tracking", "phone", "order"}


def test_the_baseline_learns_from_the_training_data(tmp_path: Path) -> None:
    write_set(tmp_path, "a", "track_mail", ["快递到哪了", "查一下物流", "包裹到哪里了", "件到哪了"])
    write_set(tmp_path, "b", "ask_fee", ["寄件多少钱", "运费怎么算", "邮费多少", "寄到昆明几块钱"])
    baseline = Baseline.trained_on(tmp_path)
    assert baseline.predict(["我的快递到哪了", "寄过去要多少钱"]) == ["track_mail", "ask_fee"]


def test_a_missing_model_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["--model", str(tmp_path / "none.tar.gz")]) == 1
    assert "make train" in capsys.readouterr().err


def reading(gold: str, first: str, p1: float, p2: float) -> calibrate.Reading:
    return calibrate.Reading(gold, first, p1, p2)


def test_the_fallback_rule_is_replayed_as_rasa_applies_it() -> None:
    sure, weak, close = (reading("ask_fee", "ask_fee", 0.6, 0.1),
                         reading("ask_fee", "ask_fee", 0.25, 0.1),
                         reading("ask_fee", "ask_fee", 0.45, 0.44))
    assert calibrate.decide(sure, 0.3, 0.03) == "ask_fee"
    assert calibrate.decide(weak, 0.3, 0.03) == FALLBACK
    assert calibrate.decide(close, 0.3, 0.03) == FALLBACK
    assert calibrate.decide(close, 0.3, 0.0) == "ask_fee"


def test_calibration_prefers_accuracy_but_keeps_catching_noise() -> None:
    realistic = [reading("ask_fee", "ask_fee", 0.35, 0.1), reading("track_mail", "track_mail", 0.5, 0.1),
                 reading("out_of_scope", "ask_fee", 0.32, 0.3)]
    noise = [reading("out_of_scope", "greet", 0.28, 0.1), reading("out_of_scope", "ask_fee", 0.33, 0.3)]
    points = [calibrate.point(t, a, realistic, [], noise) for t in (0.2, 0.3, 0.4)
              for a in (0.0, 0.05)]
    loose = next(p for p in points if (p.threshold, p.ambiguity) == (0.2, 0.0))
    assert (loose.realistic_accuracy, loose.caught) == (2 / 3, 0.0)
    chosen = calibrate.best(points, min_caught=0.6)
    # 0.3/0.05 keeps both real requests and catches the out-of-scope one (a fallback: still
    # wrong for accuracy) and both noises; 0.4 would lose a real request.
    assert (chosen.threshold, chosen.ambiguity) == (0.3, 0.05)
    assert (chosen.realistic_accuracy, chosen.caught) == (2 / 3, 1.0)
    assert calibrate.best(points, min_caught=1.01) is None


def test_calibration_puts_the_conversations_set_first() -> None:
    """A pair that keeps a conversation turn wins over one that is as good on the realistic set."""
    realistic = [reading("ask_fee", "ask_fee", 0.5, 0.1)]
    noise = [reading("out_of_scope", "greet", 0.12, 0.05)]
    conversations = [reading("inform", "inform", 0.17, 0.1)]
    points = [calibrate.point(t, 0.02, realistic, [], noise, conversations) for t in (0.15, 0.2)]
    assert [p.conversations_accuracy for p in points] == [1.0, 0.0]
    assert [p.realistic_accuracy for p in points] == [1.0, 1.0]
    assert calibrate.best(points, min_caught=1.0).threshold == 0.15

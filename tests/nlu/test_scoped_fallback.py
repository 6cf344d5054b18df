"""The fallback rule of the pipeline: Rasa's, except that a weak but clear out_of_scope stands."""
from __future__ import annotations

from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu import calibrate
from bot.nlu.scoped_fallback import ScopedFallbackClassifier

CONFIG = {**ScopedFallbackClassifier.get_default_config(), "threshold": 0.25,
          "ambiguity_threshold": 0.02, "out_of_scope_floor": 0.15}


def said(*ranking: tuple[str, float], text: str = "x") -> str:
    """The intent the component leaves on a message `text` ranked as given."""
    ranked = [{"name": n, "confidence": c} for n, c in ranking]
    message = Message({TEXT: text, INTENT: dict(ranked[0]), INTENT_RANKING_KEY: list(ranked)})
    ScopedFallbackClassifier(CONFIG).process([message])
    return message.get(INTENT)["name"]


def test_a_weak_but_clear_out_of_scope_stands():
    assert said(("out_of_scope", 0.22), ("damaged_item", 0.12)) == "out_of_scope"


def test_a_weak_request_still_falls_back():
    assert said(("track_mail", 0.22), ("delivery_delay", 0.12)) == "nlu_fallback"


def test_out_of_scope_close_to_a_request_falls_back():
    assert said(("out_of_scope", 0.22), ("ask_fee", 0.21)) == "nlu_fallback"
    assert said(("out_of_scope", 0.60), ("ask_fee", 0.59)) == "nlu_fallback"


def test_a_flat_ranking_below_the_floor_falls_back():
    assert said(("out_of_scope", 0.10), ("greet", 0.05)) == "nlu_fallback"


def test_confident_readings_are_untouched():
    assert said(("ask_fee", 0.70), ("fee_dispute", 0.10)) == "ask_fee"
    assert said(("out_of_scope", 0.70), ("greet", 0.10)) == "out_of_scope"


def test_punctuation_alone_falls_back_however_it_was_ranked():
    assert said(("delivery_delay", 0.90), ("inform", 0.05), text="。") == "nlu_fallback"
    assert said(("out_of_scope", 0.90), ("greet", 0.05), text="？？") == "nlu_fallback"
    # An emoji carries something (👍 agrees), and words with punctuation are words.
    assert said(("satisfied", 0.90), ("affirm", 0.05), text="👍") == "satisfied"
    assert said(("track_mail", 0.90), ("inform", 0.05), text="？？到了没") == "track_mail"


def test_calibration_replays_the_same_rule():
    cases = [(("out_of_scope", 0.22), ("damaged_item", 0.12)),
             (("track_mail", 0.22), ("delivery_delay", 0.12)),
             (("out_of_scope", 0.22), ("ask_fee", 0.21)),
             (("out_of_scope", 0.10), ("greet", 0.05)),
             (("ask_fee", 0.70), ("fee_dispute", 0.10))]
    for text in ("x", "。。。"):
        for first, second in cases:
            reading = calibrate.Reading("gold", first[0], first[1], second[1], text)
            assert calibrate.decide(reading, 0.25, 0.02, 0.15) == said(first, second, text=text)


def test_calibration_reads_the_message_text_off_the_parse():
    parse = {"text": "…", "intent": {"name": "inform", "confidence": 0.9},
             "intent_ranking": [{"name": "inform", "confidence": 0.9},
                                {"name": "delivery_delay", "confidence": 0.05}]}
    reading = calibrate.reading("out_of_scope", parse)
    assert reading.text == "…"
    assert calibrate.decide(reading, 0.25, 0.02, 0.15) == "nlu_fallback"

"""The DIET + logistic-regression intent blend."""
import numpy as np
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.intent_blend import (
    NUMBER_SYMBOL,
    PHONE_SYMBOL,
    BlendedIntentClassifier,
    TextFeatures,
    blend,
    fold_numbers,
)


def test_blend_averages_and_sorts():
    ranking = blend([{"name": "a", "confidence": 0.9}, {"name": "b", "confidence": 0.1}],
                    ["a", "b"], np.array([0.2, 0.8]), weight=0.5)
    assert [r["name"] for r in ranking] == ["a", "b"]
    assert abs(ranking[0]["confidence"] - 0.55) < 1e-9


def test_the_linear_model_can_overrule_an_unsure_diet():
    ranking = blend([{"name": "a", "confidence": 0.5}, {"name": "b", "confidence": 0.4}],
                    ["a", "b", "c"], np.array([0.05, 0.9, 0.05]), weight=0.5)
    assert ranking[0]["name"] == "b"
    assert {r["name"] for r in ranking} == {"a", "b", "c"}


def message(text, intent=None):
    m = Message({TEXT: text, **({INTENT: intent} if intent else {})})
    m.set(TOKENS_NAMES[TEXT], [Token(w, i) for i, w in enumerate(text.split())])
    return m


def test_component_trains_and_replaces_diets_ranking(tmp_path):
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    storage = LocalModelStorage(tmp_path)
    component = BlendedIntentClassifier({}, storage, Resource("blend"))
    hello = ["你好 啊", "在 吗", "你好", "有人 在 吗", "hello 你好"]
    bye = ["再见", "拜拜 了", "没事 了 再见", "先 这样 拜拜", "bye 再见"]
    data = TrainingData([message(t, "greet") for t in hello] + [message(t, "goodbye") for t in bye])
    component.train(data)
    incoming = message("你好 在 吗")
    incoming.set(INTENT_RANKING_KEY, [{"name": "goodbye", "confidence": 0.55},
                                      {"name": "greet", "confidence": 0.45}])
    (out,) = component.process([incoming])
    assert out.get(INTENT)["name"] == "greet"
    # and it survives persisting and loading
    loaded = BlendedIntentClassifier.load({}, storage, Resource("blend"), None)
    again = message("你好 在 吗")
    again.set(INTENT_RANKING_KEY, [{"name": "goodbye", "confidence": 0.55},
                                   {"name": "greet", "confidence": 0.45}])
    assert loaded.process([again])[0].get(INTENT)["name"] == "greet"
    assert [r["name"] for r in out.get(INTENT_RANKING_KEY)] == ["greet", "goodbye"]


def test_long_numbers_fold_to_one_symbol_per_kind():
    assert fold_numbers("EA000000014CN 怎么还没到") == f"{NUMBER_SYMBOL} 怎么还没到"
    assert fold_numbers("ea 1234 5678 9cn到哪了") == f"{NUMBER_SYMBOL}到哪了"
    assert fold_numbers("订单号：231102-739164028553710 多谢") == f"订单号：{NUMBER_SYMBOL} 多谢"
    assert fold_numbers("单号9876122202972") == f"单号{NUMBER_SYMBOL}"
    assert fold_numbers("电话改成139****1256") == f"电话改成{PHONE_SYMBOL}"
    assert fold_numbers("打13812345678") == f"打{PHONE_SYMBOL}"
    # times, dates, prices and short counts keep their digits
    assert fold_numbers("4点来取 11月3号 2公斤 15元") == "4点来取 11月3号 2公斤 15元"


def test_messages_differing_only_in_their_numbers_look_the_same():
    train = [message(t, i) for t, i in [("快递 到 哪 了", "track_mail"), ("寄 件 多少 钱", "ask_fee"),
                                        ("EA000000014CN", "inform")]]
    folded, raw = TextFeatures(), TextFeatures(fold=False)
    folded.fit_transform(train)
    raw.fit_transform(train)
    a, b = message("快递 到 哪 了 EA000000014CN"), message("快递 到 哪 了 RR123456785CN")
    assert (folded.transform([a]) != folded.transform([b])).nnz == 0
    assert (raw.transform([a]) != raw.transform([b])).nnz > 0

    # a model persisted before folding existed (no `fold` attribute) still reads raw digits
    del raw.fold
    assert (raw.transform([a]) != raw.transform([b])).nnz > 0


def test_the_weights_are_read_in_place_when_a_message_is_scored(tmp_path):
    """Scoring multiplies a sparse row by coef_.T; unless that is C-contiguous, scipy copies the
    whole weight matrix on every message (it was most of a parse's time)."""
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    storage = LocalModelStorage(tmp_path)
    component = BlendedIntentClassifier({}, storage, Resource("blend"))
    intents = {"greet": ["你好 啊", "在 吗", "你好"], "goodbye": ["再见", "拜拜 了", "先 这样"],
               "thank": ["谢谢", "多谢 了", "辛苦 了"]}
    component.train(TrainingData([message(t, i) for i, ts in intents.items() for t in ts]))
    loaded = BlendedIntentClassifier.load({}, storage, Resource("blend"), None)
    for clf in (component.clf, loaded.clf):
        assert clf.coef_.shape[0] == 3 and clf.coef_.T.flags["C_CONTIGUOUS"]


def test_with_syllables_a_homophone_typo_reads_like_the_word_it_stands_for():
    train = [message(t, i) for t, i in [("快递 到 了 吗", "track_mail"), ("寄 件 多少 钱", "ask_fee"),
                                        ("邮政 态度 差", "staff_attitude")]]
    hearing, reading = TextFeatures(pinyin=True), TextFeatures()
    hearing.fit_transform(train)
    reading.fit_transform(train)
    meant, typed = message("快递 到 了 吗"), message("快第 到 了 吗")  # 第 for 递

    def similarity(features):
        a, b = features.transform([meant]), features.transform([typed])
        return (a.multiply(b)).sum() / np.sqrt(a.multiply(a).sum() * b.multiply(b).sum())

    assert similarity(hearing) > similarity(reading) + 0.03  # 0.90 against 0.85
    # the syllables' columns of the two are the same
    width = len(hearing.sounds.vocabulary_)
    a, b = hearing.transform([meant])[:, -width:], hearing.transform([typed])[:, -width:]
    assert a.nnz > 0 and (a != b).nnz == 0

    # a model persisted before the syllables existed (no `sounds` attribute) reads as before
    del hearing.sounds
    assert hearing.transform([meant]).shape == reading.transform([meant]).shape


def test_the_component_reads_syllables_unless_configured_not_to(tmp_path):
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    storage = LocalModelStorage(tmp_path)
    data = TrainingData([message("你好", "greet"), message("再见", "goodbye")])
    on = BlendedIntentClassifier({}, storage, Resource("on"))
    off = BlendedIntentClassifier({"pinyin": False}, storage, Resource("off"))
    on.train(data)
    off.train(data)
    assert on.features.sounds is not None and off.features.sounds is None
    loaded = BlendedIntentClassifier.load({}, storage, Resource("on"), None)
    assert loaded.features.sounds.vocabulary_ == on.features.sounds.vocabulary_

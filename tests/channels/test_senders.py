"""Conversation ids namespaced by channel, with one URL-safe encoding (bot/channels/senders.py)."""
import pytest

from bot.channels import senders


@pytest.mark.parametrize("raw", ["alice", "oAbC-12_3.x", "张三", "a b", "100%", "a/b", "<x>",
                                 "~tilde", "rest:alice", "..", "é\u0301"])
def test_every_sender_round_trips_through_a_url_safe_id(raw: str) -> None:
    for channel in senders.CHANNELS:
        conversation = senders.conversation_id(channel, raw)
        assert conversation.startswith(channel + ":")
        assert senders.url_safe(conversation)
        assert senders.split(conversation) == (channel, raw)
        assert senders.raw_id(conversation, channel) == raw


def test_channels_never_share_a_conversation() -> None:
    assert senders.conversation_id("rest", "oWx1") != senders.conversation_id("wechat", "oWx1")
    assert senders.raw_id(senders.conversation_id("rest", "oWx1"), "wechat") is None


def test_ids_that_need_encoding_are_encoded() -> None:
    assert senders.conversation_id("rest", "alice") == "rest:alice"
    assert senders.conversation_id("rest", "a b") == "rest:~YSBi"


@pytest.mark.parametrize("conversation", ["a b", "x/y", "%41", "..", ".", "张三", ""])
def test_ids_a_url_would_change_are_not_url_safe(conversation: str) -> None:
    assert not senders.url_safe(conversation)


def test_unknown_channels_and_empty_ids_are_refused() -> None:
    with pytest.raises(ValueError):
        senders.conversation_id("sms", "x")
    with pytest.raises(ValueError):
        senders.conversation_id("rest", "")
    assert senders.split("legacy-openid") == (None, "legacy-openid")

"""When the bot is unsure what a customer wants, it asks instead of giving up.

FallbackClassifier answers ``nlu_fallback`` when the best intent is too weak or the two best
are too close. ``action_clarify`` then asks "您是想……还是……？" with the two likeliest requests
as buttons (numbered choices on WeChat). A button's payload is the intent with the entities of
the customer's message, so a pick continues the right flow with the number already known; the
message itself is kept in the ``clarify_text`` slot (a complaint's description comes from it)
and the trainers' inbox collects the pick as a labelled candidate (`bot.trainer.inbox`). When
nothing plausible is left to offer, or the message is punctuation alone ("。", "？？"), the
customer is asked to rephrase; a second miss in a row hands the conversation to a person
(data/rules/fallback.yml).
"""
from __future__ import annotations

from typing import Any, Dict, List, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.text.normalize import punctuation_only
from bot.text.payloads import intent_of_payload, payload

# What each request is called when the customer is asked "您是想……还是……？".
CHOICE_LABELS: Dict[str, str] = {
    "track_mail": "查快递现在到哪了",
    "delivery_delay": "催一下迟迟没到的快递",
    "not_received": "反映显示签收了但没收到",
    "delivery_service": "投诉投递服务（没送上门、没打电话等）",
    "lost_item": "反映快递丢了",
    "damaged_item": "反映快递破损或少了东西",
    "staff_attitude": "投诉工作人员的态度",
    "fee_dispute": "对收的费用有异议",
    "complaint_progress": "查之前投诉的处理进度",
    "escalate_complaint": "升级一直没解决的投诉",
    "change_delivery": "改地址或改送货时间",
    "return_intercept": "拦截或退回快递",
    "schedule_pickup": "预约上门取件、寄东西",
    "urge_pickup": "催预约好的上门取件",
    "ask_fee": "问寄件要多少钱",
    "ask_delivery_time": "问寄到某地一般要几天",
    "claim_compensation": "申请赔偿",
    "ask_prohibited_items": "问某样东西能不能寄",
    "ask_outlet": "问网点地址和营业时间",
    "collect_parcel": "问怎么取件",
    "request_human": "转人工客服",
    "bot_challenge": "确认是不是真人在回复",
    "unsatisfied": "说对处理结果不满意",
}
# A request needs at least this much of the classifier's belief to be offered.
MIN_CHOICE_CONFIDENCE = 0.05
# What the customer wrote is kept up to this many characters (a long review stays whole).
MAX_CUSTOMER_TEXT = 1000
# Entities a pick carries on into the flow it starts.
CARRIED_ENTITIES = ("tracking_number", "phone_number", "location", "mail_category", "item",
                    "product")


# Readings that lead to the same flow as an offered request count towards it: a bare number
# (inform) starts the mail query, as "where is my mail" does.
SAME_FLOW = {"inform": "track_mail"}


def choices(parse: Dict[str, Any], limit: int = 2) -> List[Tuple[str, float]]:
    """The likeliest requests of a parse that can be offered, best first."""
    support: Dict[str, float] = {}
    for entry in parse.get("intent_ranking") or []:
        name = SAME_FLOW.get(entry.get("name"), entry.get("name"))
        if name in CHOICE_LABELS:
            support[name] = support.get(name, 0.0) + float(entry.get("confidence") or 0.0)
    ranked = sorted(support.items(), key=lambda item: -item[1])
    return [(n, c) for n, c in ranked if c >= MIN_CHOICE_CONFIDENCE][:limit]


def customer_text(tracker: Tracker) -> str:
    """What the customer wrote: the latest message, or, after a pick, the message clarified."""
    text = (tracker.latest_message.get("text") or "").strip()
    if intent_of_payload(text) is not None:
        return (tracker.get_slot("clarify_text") or "").strip()
    return text


class ActionClarify(Action):
    """Asks which of the two likeliest requests the customer meant, or to rephrase."""

    def name(self) -> Text:
        """The name domain.yml and the rules use."""
        return "action_clarify"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """Offer the two likeliest requests as buttons and keep the message; else ask again."""
        latest = tracker.latest_message
        options = choices(latest)
        if len(options) < 2 or punctuation_only(latest.get("text") or ""):
            dispatcher.utter_message(response="utter_ask_rephrase")
            return [SlotSet("clarify_text", None)]
        entities = latest.get("entities") or []
        (first, _), (second, _) = options
        dispatcher.utter_message(
            response="utter_clarify", first=CHOICE_LABELS[first], second=CHOICE_LABELS[second],
            buttons=[{"title": CHOICE_LABELS[i], "payload": payload(i, entities, CARRIED_ENTITIES)}
                     for i, _ in options])
        return [SlotSet("clarify_text", (latest.get("text") or "")[:MAX_CUSTOMER_TEXT])]

"""Drafted follow-ups for a complaint work order: the feedback, the callback (回访) script and the
responsibility note, in Chinese, for an agent to accept, edit or reject.

Every draft is filled from the facts of the order, the mail and the responsibility suggestion.
Personal data never leaves here raw: the customer's phone, phones inside the customer's words
and inside scan descriptions are masked with `bot.text.masking`, signers with `mask_signer`.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from bot.store.status import Category, Channel, Priority, StatusCode, label_of
from bot.text import gazetteer
from bot.text.dates import customer_moment
from bot.text.masking import mask_phone, mask_signer, mask_text
from bot.workorders.responsibility import (
    Confidence,
    MailFacts,
    ResponsibilitySuggestion,
    Role,
    TrailEvent,
    WorkOrderFacts,
    clock,
)

_CENT = Decimal("0.01")
_QUOTE_LIMIT = 120
_BRANCHES = {
    gazetteer.QUJING: "曲靖市分公司",
    gazetteer.BAOSHAN: "保山市分公司",
    gazetteer.HONGHE: "红河州分公司",
    gazetteer.BANNA: "西双版纳州分公司",
}
_COMPENSATED = (Category.LOST, Category.DAMAGED, Category.CONTENTS_MISSING)


@dataclass(frozen=True)
class FollowupDrafts:
    """The three drafts of a work order.

    Attributes:
        feedback: the reply to the customer (反馈).
        callback_script: what the agent reads on the callback (回访) call.
        responsibility_note: the internal note with the suggested unit, reason and evidence.
    """

    feedback: str
    callback_script: str
    responsibility_note: str


@dataclass(frozen=True)
class Compensation:
    """The compensation rule that applies to a lost, damaged or short mail item.

    Attributes:
        basis: "insured", "registered" or "uninsured".
        limit: the insured value, or the cap of three times the postage.
        rule: the rule as one Chinese clause, with the figures filled in.
    """

    basis: str
    limit: Decimal
    rule: str


def _yuan(amount: Decimal) -> str:
    return f"{amount.quantize(_CENT):.2f}元"


def is_registered_letter(product: str) -> bool:
    """True for a registered letter (挂号信), which is compensated at three times the postage."""
    return "挂号" in product


def compensation_for(mail: MailFacts, category: Category | str) -> Compensation:
    """The compensation rule of domain.md for this mail and complaint category.

    Insured mail is paid at the insured value (pro rata for partial damage or shortage);
    a registered letter at three times the postage; other uninsured mail for the actual loss,
    capped at three times the postage.
    """
    category = Category(category)
    if mail.insured_value is not None and mail.insured_value > 0:
        value = _yuan(mail.insured_value)
        if category is Category.LOST:
            rule = f"该邮件已保价，确认丢失后按保价金额{value}赔偿"
        elif category is Category.CONTENTS_MISSING:
            rule = ("该邮件已保价，内件短少的按短少部分占邮件实际价值的比例，"
                    f"在保价金额{value}内赔偿")
        else:
            rule = (f"该邮件已保价，全部损毁的按保价金额{value}赔偿，"
                    f"部分损毁的按损失部分占邮件实际价值的比例，在保价金额{value}内赔偿")
        return Compensation("insured", mail.insured_value.quantize(_CENT), rule)
    cap = (mail.postage * 3).quantize(_CENT)
    sum_ = f"{_yuan(mail.postage)}×3={_yuan(cap)}"
    if is_registered_letter(mail.product):
        what = {Category.LOST: "丢失", Category.DAMAGED: "损毁"}.get(category, "内件短少")
        return Compensation("registered", cap, f"挂号信{what}按所付邮费的三倍赔偿，即{sum_}")
    return Compensation(
        "uninsured", cap, f"该邮件未保价，按实际损失赔偿，最高不超过所付邮费的三倍，即{sum_}"
    )


def branch_name(order: WorkOrderFacts, mail: MailFacts | None) -> str:
    """The branch that answers the customer: where the customer's end of the mail lies.

    The sender's end for pickup complaints, the recipient's end otherwise; falls back to the
    other end, then to 中国邮政 alone when neither end lies in the four branches.
    """
    if mail is not None:
        ends = (mail.recipient_area, mail.sender_area)
        if Category(order.category) is Category.PICKUP_SERVICE:
            ends = ends[::-1]
        for area in ends:
            place = gazetteer.lookup(area)
            if place is not None and place.prefecture in _BRANCHES:
                return f"中国邮政{_BRANCHES[place.prefecture]}"
    return "中国邮政"


@dataclass(frozen=True)
class _Context:
    """The facts every sentence draws on, already masked and phrased."""

    order: WorkOrderFacts
    mail: MailFacts | None
    suggestion: ResponsibilitySuggestion
    now: datetime
    category: Category
    channel: str
    mail_ref: str      # 邮件EA000000005CN（EMS）
    status: str        # one clause, no full stop
    who: str           # the unit asked to look into it
    deadline: str
    said: str          # the customer's words, masked
    phone: str | None  # masked
    last4: str | None
    compensation: Compensation | None
    branch: str

    @property
    def wo(self) -> str:
        return self.order.number

    @property
    def kind(self) -> str:
        return self.category.label

    @property
    def quote(self) -> str:
        return f"您反映：“{self.said}”。" if self.said else ""

    @property
    def comp(self) -> str:
        if self.compensation is None:
            return "赔偿标准以核实后的邮件信息为准"
        return self.compensation.rule


def _mail_ref(order: WorkOrderFacts, mail: MailFacts | None) -> str:
    if mail is not None:
        return f"邮件{mail.number}（{mail.product}）"
    if order.mail_number:
        return f"邮件{order.mail_number}"
    return "相关邮件"


def _status(order: WorkOrderFacts, mail: MailFacts | None, now: datetime) -> str:
    if mail is None:
        if order.mail_number:
            return f"系统中暂时查不到邮件{order.mail_number}的信息，我们会人工核实"
        return "工单中没有提供邮件号，我们会根据您提供的情况人工核实"
    if not mail.trail:
        return f"截至{customer_moment(now)}，邮件{mail.number}还没有扫描记录"
    last = max(mail.trail, key=lambda event: event.occurred_at)
    text = (f"截至{customer_moment(now)}，"
            f"该邮件最新的轨迹是{customer_moment(last.occurred_at)}在{last.unit}"
            f"“{label_of(StatusCode, last.status_code)}”")
    if last.status_code == StatusCode.AT_STATION.value:
        text += f"（{last.place}）"
    if last.status_code == StatusCode.DELIVERED.value and mail.signed_by:
        text += f"，签收人为“{mask_signer(mail.signed_by)}”"
    return text


def _who(suggestion: ResponsibilitySuggestion) -> str:
    if suggestion.unit is None:
        return "相关处理单位"
    if suggestion.role == Role.TRANSPORT.value:
        return f"负责{suggestion.unit}的运输部门"
    return suggestion.unit


def _said(description: str) -> str:
    # Mask first, then shorten: cutting a masked number cannot reveal it.
    text = re.sub(r"\s+", " ", mask_text(description)).strip()
    return text if len(text) <= _QUOTE_LIMIT else text[:_QUOTE_LIMIT] + "…"


def _context(order: WorkOrderFacts, mail: MailFacts | None, suggestion: ResponsibilitySuggestion,
             now: datetime, branch: str | None) -> _Context:
    category = Category(order.category)
    phone = last4 = None
    if order.customer_phone and re.sub(r"\D", "", order.customer_phone):
        phone = mask_phone(order.customer_phone)
        last4 = re.sub(r"\D", "", order.customer_phone)[-4:]
    compensation = None
    if mail is not None and category in _COMPENSATED:
        compensation = compensation_for(mail, category)
    return _Context(
        order=order, mail=mail, suggestion=suggestion, now=now, category=category,
        channel=label_of(Channel, order.channel), mail_ref=_mail_ref(order, mail),
        status=_status(order, mail, now), who=_who(suggestion),
        deadline=customer_moment(order.deadline),
        said=_said(order.description), phone=phone, last4=last4, compensation=compensation,
        branch=branch or branch_name(order, mail),
    )


# Each category: (feedback body, callback summary), written for that kind of complaint.
Writer = Callable[[_Context], tuple[str, str]]


def _delay(c: _Context) -> tuple[str, str]:
    promise = ""
    if c.mail is not None and c.mail.promised_by is not None:
        if c.now > c.mail.promised_by:
            promise = (f"按承诺，该邮件应在{customer_moment(c.mail.promised_by)}前送达，"
                       "现已超出承诺时限。")
        else:
            promise = f"该邮件承诺的送达时间是{customer_moment(c.mail.promised_by)}前。"
    feedback = (
        f"您反映的{c.mail_ref}迟迟未到的问题，我们已按{c.kind}投诉受理，工单号为{c.wo}。{c.quote}"
        f"{c.status}。{promise}我们已请{c.who}优先查找这件邮件并尽快发运，"
        f"{c.deadline}前会把催办结果告诉您。耽误了您的时间，我们深感抱歉。"
    )
    callback = (f"关于{c.mail_ref}的{c.kind}，我们已督促{c.who}加快处理，{c.status}。"
                "请问您现在收到邮件了吗？")
    return feedback, callback


def _lost(c: _Context) -> tuple[str, str]:
    feedback = (
        f"让您为{c.mail_ref}担心了，非常抱歉。此事已作为{c.kind}投诉受理，工单号{c.wo}。{c.quote}"
        f"{c.status}。我们已要求{c.who}立即逐个环节查找。若最终确认丢失，{c.comp}。"
        f"查找结果将在{c.deadline}前答复您，其间邮件一有下落也会马上告诉您。"
    )
    callback = (f"您反映{c.mail_ref}{c.kind}后，我们安排{c.who}进行了查找，{c.status}。"
                f"如确认丢失，{c.comp}，赔偿手续我们会协助您办理。请问查找结果和赔偿安排您都清楚了吗？")
    return feedback, callback


def _damaged(c: _Context) -> tuple[str, str]:
    feedback = (
        f"得知{c.mail_ref}出现破损，我们十分抱歉。此事已按{c.kind}投诉受理，工单号{c.wo}。{c.quote}"
        f"{c.status}。我们已请{c.who}核查邮件在交接、分拣和运输中破损的原因。"
        f"麻烦您保留外包装和受损物品，并拍照留存，便于核定损失；{c.comp}。"
        f"核查结论和赔偿办理方式我们会在{c.deadline}前告知您。"
    )
    callback = (f"针对{c.mail_ref}破损一事，{c.who}已核查了各环节的交接记录；{c.comp}。"
                "请问赔偿金额和办理方式您是否认可？")
    return feedback, callback


def _contents_missing(c: _Context) -> tuple[str, str]:
    feedback = (
        f"您反映{c.mail_ref}里的物品少了，我们已按{c.kind}投诉受理，工单号{c.wo}。{c.quote}"
        f"{c.status}。我们已请{c.who}调取交接记录，并比对收寄时的重量与各环节称重是否一致。"
        f"请您先保留原包装、面单和现有物品，不要丢弃；核实确有短少的，{c.comp}。"
        f"核查结果将在{c.deadline}前答复您。"
    )
    callback = (f"您反映{c.mail_ref}{c.kind}，我们让{c.who}核对了各环节的交接和称重记录；{c.comp}。"
                "请问短少物品的赔偿或补寄，您这边是否已经收到安排？")
    return feedback, callback


def _delivery_service(c: _Context) -> tuple[str, str]:
    feedback = (
        f"关于{c.mail_ref}的投递问题（{c.kind}投诉，工单号{c.wo}），{c.quote}{c.status}。"
        f"我们已要求{c.who}核实：投递前是否电话联系过您，放到驿站或智能柜是否征得了您的同意，"
        "签收信息是否属实。如确有未经同意代收或虚假签收的情况，我们将严肃处理并为您重新投递。"
        f"处理结果会在{c.deadline}前反馈给您。"
    )
    callback = (f"您反映{c.mail_ref}的{c.kind}问题，{c.who}已核实投递员的联系记录和签收情况，"
                "并对相关人员进行了教育。请问邮件现在已经安全拿到手了吗？")
    return feedback, callback


def _pickup_service(c: _Context) -> tuple[str, str]:
    feedback = (
        f"感谢您对收寄服务提出的意见（{c.kind}投诉，工单号{c.wo}）。{c.quote}"
        f"我们已转请负责收寄{c.mail_ref}的{c.who}，核实揽收人员的上门时间以及验视、称重和收费过程；"
        f"{c.status}。服务中不到位的地方，我们向您致歉，也会督促该网点整改。"
        f"核实情况将在{c.deadline}前告知您。"
    )
    callback = (f"您对{c.mail_ref}{c.kind}提出的意见，{c.who}的负责人已核实当班揽收人员的服务过程，"
                "并要求整改。请问之后您再寄件时，服务有没有改善？")
    return feedback, callback


def _attitude(c: _Context) -> tuple[str, str]:
    feedback = (
        f"谢谢您把遇到的情况告诉我们（{c.kind}投诉，工单号{c.wo}）。{c.quote}"
        f"在办理{c.mail_ref}的过程中让您受了委屈，我们诚恳地向您道歉。"
        f"我们已把您的反映转给{c.who}，由网点负责人逐一核实，并对相关人员进行批评教育。"
        f"{c.status}。核实结果将在{c.deadline}前回复您。"
    )
    callback = (f"关于您在办理{c.mail_ref}时遇到的{c.kind}问题，{c.who}的负责人已经核实，"
                "对当事人进行了批评教育，并要求其改进服务。请问之后再接触我们的工作人员，感受有没有好一些？")
    return feedback, callback


def _improper_fee(c: _Context) -> tuple[str, str]:
    fee = ""
    if c.mail is not None:
        insured = f"，保价金额{_yuan(c.mail.insured_value)}" if c.mail.insured_value else ""
        fee = f"系统记录该邮件的邮费为{_yuan(c.mail.postage)}{insured}。"
    feedback = (
        f"您反映办理{c.mail_ref}时收费不合理，我们已按{c.kind}投诉受理，工单号{c.wo}。{c.quote}{fee}"
        f"我们已请{c.who}对照公布的资费标准逐项核对实际收取的费用，如确有多收或不该收的费用，"
        f"将如数退还给您。{c.status}。核对结果将在{c.deadline}前告诉您。"
    )
    callback = (f"您反映的{c.kind}问题，我们请{c.who}核对了{c.mail_ref}的收费明细，"
                f"{fee}多收的部分已按规定办理退还。请问退款您收到了吗？")
    return feedback, callback


def _data_leak(c: _Context) -> tuple[str, str]:
    feedback = (
        f"您担心个人信息被泄露，我们非常重视（{c.kind}投诉，工单号{c.wo}）。{c.quote}"
        f"我们已请{c.who}以及经手{c.mail_ref}的各个环节，排查面单信息的查看、保管和销毁情况，"
        f"核实是否有人把您的联系方式提供给了他人。{c.status}。"
        "这期间，如有人以快递理赔、退款等名义向您索要验证码或要求转账，请不要理会。"
        f"排查结论将在{c.deadline}前反馈给您。"
    )
    callback = (f"针对您反映的{c.kind}问题，{c.who}已排查了{c.mail_ref}的面单管理和经手人员，"
                "并加强了面单信息的保护。请问最近还有陌生人借快递的名义打电话打扰您吗？")
    return feedback, callback


def _other(c: _Context) -> tuple[str, str]:
    feedback = (
        f"您反映的事项我们已经记录，作为{c.kind}类工单受理，工单号{c.wo}，涉及{c.mail_ref}。{c.quote}"
        f"我们已把情况转给{c.who}了解处理；{c.status}。如需补充材料，工作人员会与您联系，"
        f"处理意见将在{c.deadline}前答复您。"
    )
    callback = (f"您之前反映的与{c.mail_ref}有关的事项（{c.kind}类），"
                f"我们已请{c.who}了解并作了处理。"
                "请问处理结果是否解决了您的问题？")
    return feedback, callback


_WRITERS: dict[Category, Writer] = {
    Category.DELAY: _delay,
    Category.LOST: _lost,
    Category.DAMAGED: _damaged,
    Category.CONTENTS_MISSING: _contents_missing,
    Category.DELIVERY_SERVICE: _delivery_service,
    Category.PICKUP_SERVICE: _pickup_service,
    Category.ATTITUDE: _attitude,
    Category.IMPROPER_FEE: _improper_fee,
    Category.DATA_LEAK: _data_leak,
    Category.OTHER: _other,
}


def _feedback(c: _Context, body: str) -> str:
    contact = f"如有新的进展，我们会致电您预留的号码{c.phone}。" if c.phone else ""
    return (f"尊敬的客户，您好！{body}{contact}如有疑问，可拨打11183并提供工单号{c.wo}。\n"
            f"{c.branch}客户服务中心 {c.now.year}年{customer_moment(c.now)}")


def _callback(c: _Context, summary: str) -> str:
    if c.phone:
        verify = (f"请问您是手机号{c.phone}的机主吗？为了核实身份，麻烦您说一下这个号码的后四位。"
                  f"（提示：后四位应为{c.last4}；对不上时请致歉并结束通话，不要透露工单内容。）")
    else:
        verify = ("为了核实身份，麻烦您说一下邮件号和收寄件人姓名。"
                  "（提示：工单未登记联系电话，请对照工单核实；对不上时请致歉并结束通话。）")
    lines = [
        f"回访话术（工单{c.wo}，{c.kind}）",
        f"1. 问候：您好，这里是{c.branch}客户服务中心，我是客服专员____，"
        "耽误您一分钟时间做个回访。",
        f"2. 核实身份：{verify}",
        f"3. 说明来意：您在{customer_moment(c.order.opened_at)}通过{c.channel}"
        f"反映了{c.mail_ref}的{c.kind}问题，"
        "我们已经处理，今天给您做个回访。",
        f"4. 处理情况：{summary}",
        "5. 满意度：请问您对这次的处理结果满意吗？是满意还是不满意？"
        "（提示：记录“满意”或“不满意”；不满意时请问清原因并记入工单。）",
        "6. 遗留问题：请问这件事还有没有没解决的地方，或者还有其他需要我们帮忙的吗？"
        "（提示：有遗留问题时如实记录，必要时重新打开工单。）",
        "7. 结束：感谢您的耐心配合，祝您生活愉快，再见！",
    ]
    return "\n".join(lines)


_SIGNER_RE = re.compile(r"(签收人[:：])([^，。,;；\s]+)")


def _scrub(description: str) -> str:
    """A scan description with phones, IDs and the signer's name masked."""
    return _SIGNER_RE.sub(lambda m: m.group(1) + mask_signer(m.group(2)), mask_text(description))


def _evidence_line(event: TrailEvent) -> str:
    place = f"（{event.place}）" if event.place and event.place != event.unit else ""
    return (f"  · {clock(event.occurred_at)} {event.unit}{place}"
            f"{label_of(StatusCode, event.status_code)}：{_scrub(event.description)}")


def _note(c: _Context) -> str:
    s = c.suggestion
    role = Role(s.role).label
    confidence = Confidence(s.confidence).label
    lines = [
        f"判责建议（工单{c.wo}，{c.kind}，来源：{c.channel}，"
        f"优先级：{label_of(Priority, c.order.priority)}）",
        f"建议责任单位：{s.unit or '待定'}（{role}），可信度：{confidence}",
        f"理由：{s.reason}",
        "轨迹依据：",
    ]
    lines += [_evidence_line(event) for event in s.evidence] or ["  · 无可用的轨迹记录"]
    if c.mail is not None:
        insured = f"保价{_yuan(c.mail.insured_value)}" if c.mail.insured_value else "未保价"
        promised = (f"，承诺{customer_moment(c.mail.promised_by)}前送达"
                    if c.mail.promised_by else "")
        lines.append(
            f"邮件：{c.mail.number}，{c.mail.product}，{c.mail.sender_area}寄{c.mail.recipient_area}，"
            f"{customer_moment(c.mail.posted_at)}收寄{promised}，邮费{_yuan(c.mail.postage)}，{insured}，"
            f"当前状态：{label_of(StatusCode, c.mail.status_code)}"
        )
    else:
        lines.append(f"邮件：{c.order.mail_number or '工单未提供邮件号'}（系统中无该邮件信息）")
    if c.phone:
        lines.append(f"客户电话：{c.phone}")
    if c.said:
        lines.append(f"客户描述：“{c.said}”")
    if c.compensation is not None:
        lines.append(f"赔偿规则：{c.compensation.rule}；如查实为我方故意或重大过失造成，不受上述限额限制。")
    overdue = ""
    if c.now > c.order.deadline:
        overdue = f"（已超时{(c.now - c.order.deadline).total_seconds() / 3600:.1f}小时）"
    lines.append(f"反馈时限：{c.order.deadline.year}年{c.deadline}{overdue}")
    lines.append("以上为根据轨迹自动生成的建议，请核实后确认或改判。")
    return "\n".join(lines)


def draft_followups(order: WorkOrderFacts, mail: MailFacts | None,
                    suggestion: ResponsibilitySuggestion, now: datetime, *,
                    branch: str | None = None) -> FollowupDrafts:
    """Draft the feedback, the callback script and the responsibility note of a work order.

    Args:
        order: the work order; its category chooses the wording.
        mail: the mail it concerns, None when unknown.
        suggestion: the responsibility suggestion (see `suggest_responsibility`).
        now: the drafting time, for the status line and the overdue check.
        branch: the answering branch's name; by default taken from the customer's end of the mail.

    Returns:
        The three drafts, with every phone number masked.
    """
    context = _context(order, mail, suggestion, now, branch)
    body, summary = _WRITERS[context.category](context)
    return FollowupDrafts(
        feedback=_feedback(context, body),
        callback_script=_callback(context, summary),
        responsibility_note=_note(context),
    )

"""Who sees personal data in the workbench.

Agents answer customers and make the callback calls, so they see phone numbers and what the
customer wrote as it is. Every other role (trainer, supervisor, admin) sees them masked with
`bot.text.masking`: phones as 138****5678, ID numbers, e-mails, street addresses and names
masked, also inside free text.
"""
from __future__ import annotations

from bot.store.accounts import AccountView, Role
from bot.text.masking import mask_phone, mask_text


def sees_personal_data(account: AccountView | None) -> bool:
    """True only for agents (the role that calls customers back)."""
    return account is not None and account.role is Role.AGENT


def shown_phone(account: AccountView | None, phone: str | None) -> str:
    """The phone as `account` may see it ("" when there is none)."""
    if not phone:
        return ""
    return phone if sees_personal_data(account) else mask_phone(phone)


def shown_text(account: AccountView | None, text: str | None) -> str:
    """Free text (a customer's message, a description) as `account` may see it."""
    if not text:
        return ""
    return text if sees_personal_data(account) else mask_text(text)

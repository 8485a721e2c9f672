"""Which conversation an inbound mail answers, and the message it becomes.

The conversation is the one the signed reply address in To / Cc / Delivered-To names;
without one, the one whose stored Message-IDs the mail's In-Reply-To / References name
(all in one conversation of one shop). Then the sender must be the conversation's email:
knowing a thread's reply address or a Message-ID is not enough to write into someone
else's conversation. Anything else is dropped with a reason (and logged by the view),
never attached to another thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app.conversations.email_replies import BadReplyToken, conversation_id_from_address
from shopify_app.conversations.service import MAX_BODY, MessageRefused, post_message
from shopify_app.models import Conversation, ConversationMessage, Shop

from .mail import InboundMail

MAX_REFERENCES_LOOKED_UP = 50


@dataclass(frozen=True)
class Outcome:
    status: str  # accepted | duplicate | dropped
    reason: str
    conversation_id: int | None = None
    message_id: int | None = None


def _dropped(reason: str) -> Outcome:
    return Outcome("dropped", reason)


def receive_mail(
    session: Session, mail: InboundMail, *, secret: str | Sequence[str], domain: str
) -> Outcome:
    if mail.automatic:
        return _dropped("an automatic reply (Auto-Submitted / Precedence)")
    if mail.dmarc_failed:
        return _dropped("the sender's domain failed DMARC at the mail provider")
    conversation, why_not = _conversation(session, mail, secret=secret, domain=domain)
    if conversation is None:
        return _dropped(why_not)
    if not mail.sender or mail.sender != (conversation.email or "").strip().lower():
        return _dropped("the sender is not the conversation's email")
    shop = session.get(Shop, conversation.shop_id)
    if shop is None or shop.uninstalled_at is not None or shop.redacted_at is not None:
        return _dropped("the shop has uninstalled the app")
    existing = session.scalar(
        select(ConversationMessage).where(
            ConversationMessage.shop_id == shop.id,
            ConversationMessage.email_message_id == mail.message_id,
        )
    )
    if existing is not None:
        if existing.conversation_id != conversation.id:
            return _dropped("its Message-ID belongs to another conversation")
        return Outcome("duplicate", "already received", conversation.id, existing.id)
    body = mail.text
    if mail.attachments:
        noun = "attachment" if mail.attachments == 1 else "attachments"
        body = f"{body}\n\n[{mail.attachments} {noun} not kept: the chat takes text only]".strip()
    if not body:
        return _dropped("no new text above the quoted thread")
    if len(body) > MAX_BODY:
        body = body[: MAX_BODY - 1] + "…"
    try:
        message = post_message(
            session,
            shop,
            conversation,
            author="shopper",
            body=body,
            channel="email",
            email_message_id=mail.message_id,
        )
    except MessageRefused as exc:
        return _dropped(exc.reason)
    if message.conversation_id != conversation.id:
        # The same Message-ID stored meanwhile by a concurrent request for another thread.
        return _dropped("its Message-ID belongs to another conversation")
    return Outcome("accepted", "attached", conversation.id, message.id)


def _conversation(
    session: Session, mail: InboundMail, *, secret: str | Sequence[str], domain: str
) -> tuple[Conversation | None, str]:
    named: set[int] = set()
    for address in mail.recipients:
        try:
            conversation_id = conversation_id_from_address(address, secret=secret, domain=domain)
        except BadReplyToken:
            return None, "a reply address with a bad signature"
        if conversation_id is not None:
            named.add(conversation_id)
    if len(named) > 1:
        return None, "reply addresses of more than one conversation"
    if named:
        conversation = session.get(Conversation, named.pop())
        return (conversation, "") if conversation is not None else (None, "unknown conversation")
    references = list(dict.fromkeys([*mail.references, *mail.in_reply_to]))
    if not references:
        return None, "no reply address, In-Reply-To or References"
    found = set(
        session.execute(
            select(ConversationMessage.shop_id, ConversationMessage.conversation_id).where(
                ConversationMessage.email_message_id.in_(references[-MAX_REFERENCES_LOOKED_UP:])
            )
        ).all()
    )
    if not found:
        return None, "unknown conversation"
    if len(found) > 1:
        return None, "references to more than one conversation"
    shop_id, conversation_id = found.pop()
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.shop_id != shop_id:
        return None, "unknown conversation"
    return conversation, ""

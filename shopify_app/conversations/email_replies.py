"""A staff reply goes to an offline shopper by email, and their answer comes back (F1).

`send_reply_email(message_id)` (the RQ job the conversation service enqueues after commit)
stores the email through the app's mailer (`emails.queue_email`: one row per reply, by its
dedupe key, so a retried job queues nothing twice; `emails.delivery` claims the row before
it sends, so a retried send never sends twice). The mail comes from the conversation's own
reply address, `reply+<conversation id>.<signature>@INBOUND_EMAIL_DOMAIN`, with the shop's
name as its display name; its Message-ID is stored on the message, and In-Reply-To /
References name the thread's earlier mails, so the shopper's mail client threads it and
the shopper's answer finds its way back (`shopify_app.inbound`).

The signature is a truncated HMAC-SHA256 of the conversation id under
INBOUND_EMAIL_SECRET: a shopper cannot turn their reply address into another
conversation's.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from email.utils import formataddr
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shopify_app.db import get_session
from shopify_app.emails import queue_email, render
from shopify_app.emails.delivery import Composed
from shopify_app.i18n import DEFAULT_LOCALE, email_locale, supported
from shopify_app.models import Conversation, ConversationMessage, Customer, EmailMessage, Shop

REPLY_KIND = "conversation_reply"
DEDUPE_PREFIX = "conversation_reply:"
SIGNATURE_CHARS = 20  # hex digits: 80 bits
# References keeps the thread's first mail and its latest ones (RFC 5322 § 3.6.4 lets a
# client trim the middle): a long chat does not grow the header without bound.
MAX_REFERENCES = 10

_LOCAL_PART = re.compile(r"reply\+(\d{1,18})\.([0-9a-f]{1,64})")


class BadReplyToken(ValueError):
    """An address at the inbound domain shaped like a reply address whose signature does
    not match: tampered with, or signed with another secret."""


def reply_signature(secret: str, conversation_id: int) -> str:
    digest = hmac.new(
        secret.encode(), f"reply-address:v1:{conversation_id}".encode(), hashlib.sha256
    )
    return digest.hexdigest()[:SIGNATURE_CHARS]


def reply_address(conversation_id: int, *, secret: str, domain: str) -> str:
    return f"reply+{conversation_id}.{reply_signature(secret, conversation_id)}@{domain}"


def inbound_secrets(config: Mapping[str, Any]) -> tuple[str, ...]:
    """The secrets a reply address or an inbound request may be signed with: the current
    one, and the previous one during a rotation."""
    return tuple(
        s for s in (config["INBOUND_EMAIL_SECRET"], config.get("INBOUND_EMAIL_SECRET_OLD")) if s
    )


def conversation_id_from_address(
    address: str, *, secret: str | Sequence[str], domain: str
) -> int | None:
    """The conversation a reply address names; None when the address is not a reply address
    at `domain`. Raises `BadReplyToken` when it is one whose signature matches none of the
    secrets."""
    local, at, host = address.strip().lower().rpartition("@")
    if not at or host != domain.lower():
        return None
    match = _LOCAL_PART.fullmatch(local)
    if match is None:
        if local.startswith("reply+"):
            raise BadReplyToken("malformed reply address")
        return None
    conversation_id = int(match.group(1))
    offered = match.group(2)
    keys = (secret,) if isinstance(secret, str) else tuple(secret)
    # Every secret is compared (no early exit): the time taken says nothing of which matched.
    matches = [hmac.compare_digest(reply_signature(key, conversation_id), offered) for key in keys]
    if not any(matches):
        raise BadReplyToken("the reply address's signature does not match")
    return conversation_id


def new_message_id(domain: str) -> str:
    return f"<{secrets.token_hex(16)}@{domain}>"


def locale_of(session: Session, shop: Shop, conversation: Conversation) -> str:
    """The language the shopper chatted in, when the app has a catalogue for it; else the
    customer's email language (their order's, their latest chat's, the shop's primary
    language, English: `i18n.email_locale`)."""
    chosen = supported(conversation.locale)
    if chosen:
        return chosen
    customer = session.get(Customer, conversation.customer_id) if conversation.customer_id else None
    if customer is not None and customer.shop_id != shop.id:
        customer = None
    return email_locale(session, shop, customer)


def shop_display_name(shop: Shop) -> str:
    return " ".join((shop.name or shop.domain).split())[:78]


def send_reply_email(message_id: int) -> str:
    """The job: email a staff reply to the conversation's address (once per reply)."""
    session = get_session()
    outcome = queue_reply_email(session, message_id)
    session.commit()
    return outcome


def queue_reply_email(session: Session, message_id: int) -> str:
    """Store the reply's email (sent by `deliver_email` after commit) and its Message-ID on
    the message. Idempotent: a second call finds both and queues nothing."""
    message = session.get(ConversationMessage, message_id)
    if message is None:
        return "gone"
    if message.author != "staff":
        return f"not sent: a {message.author} message is never emailed"
    conversation = session.get(Conversation, message.conversation_id)
    shop = session.get(Shop, message.shop_id)
    if conversation is None or shop is None or conversation.shop_id != shop.id:
        return "gone"
    if not conversation.email:
        return "not sent: the conversation has no email"
    if (
        message.email_message_id is None
        and (conversation.shopper_seen_message_id or 0) >= message.id
    ):
        return "not sent: the shopper has seen it in the chat"
    domain = current_app.config["INBOUND_EMAIL_DOMAIN"]
    # One Message-ID per reply, whichever of two concurrent jobs sets it first.
    session.execute(
        update(ConversationMessage)
        .where(
            ConversationMessage.id == message.id,
            ConversationMessage.email_message_id.is_(None),
        )
        .values(email_message_id=new_message_id(domain))
        .execution_options(synchronize_session=False)
    )
    session.refresh(message)
    locale = locale_of(session, shop, conversation)
    subject, body = render("conversation_reply", locale=locale, **_context(session, shop, message))
    _email, queued = queue_email(
        session,
        shop,
        kind=REPLY_KIND,
        to=conversation.email,
        subject=subject,
        body=body,
        dedupe_key=f"{DEDUPE_PREFIX}{message.id}",
        customer_id=conversation.customer_id,
    )
    return "queued" if queued else "already queued"


def _context(session: Session, shop: Shop, message: ConversationMessage) -> dict:
    from .service import message_json  # the service enqueues this module's job

    staff_name = message_json(message, for_shopper=True).get("staff_name") or None
    return {
        "shop_name": shop_display_name(shop),
        "staff_name": staff_name,
        "body": message.body,
        # An image is not in the email (its URL expires): the templates point to the chat.
        "kind": message.kind or "text",
    }


def compose_reply(session: Session, email: EmailMessage) -> Composed | None:
    """The reply's From, Message-ID, threading headers and HTML part, asked for when it is
    sent (`emails.delivery.deliver`); None for any other kind of email."""
    if email.kind != REPLY_KIND or not email.dedupe_key.startswith(DEDUPE_PREFIX):
        return None
    message = session.get(ConversationMessage, int(email.dedupe_key.removeprefix(DEDUPE_PREFIX)))
    if message is None or message.shop_id != email.shop_id or not message.email_message_id:
        return None
    shop = session.get(Shop, email.shop_id)
    assert shop is not None
    config = current_app.config
    address = reply_address(
        message.conversation_id,
        secret=config["INBOUND_EMAIL_SECRET"],
        domain=config["INBOUND_EMAIL_DOMAIN"],
    )
    headers = {"Message-ID": message.email_message_id, "Reply-To": address}
    earlier = thread_message_ids(session, message)
    if earlier:
        headers["In-Reply-To"] = earlier[-1]
        kept = (
            earlier
            if len(earlier) <= MAX_REFERENCES
            else [earlier[0], *earlier[1 - MAX_REFERENCES :]]
        )
        headers["References"] = " ".join(kept)
    conversation = session.get(Conversation, message.conversation_id)
    locale = locale_of(session, shop, conversation) if conversation is not None else DEFAULT_LOCALE
    with force_locale(locale):
        html = render_template(
            "emails/conversation_reply.html",
            locale=locale,
            **_context(session, shop, message),
        )
    return Composed(
        sender=formataddr((shop_display_name(shop), address)), headers=headers, html=html
    )


def thread_message_ids(session: Session, message: ConversationMessage) -> list[str]:
    """The Message-IDs of the conversation's mails before `message`, oldest first."""
    return list(
        session.scalars(
            select(ConversationMessage.email_message_id)
            .where(
                ConversationMessage.shop_id == message.shop_id,
                ConversationMessage.conversation_id == message.conversation_id,
                ConversationMessage.id < message.id,
                ConversationMessage.email_message_id.is_not(None),
            )
            .order_by(ConversationMessage.id)
        )
    )

"""Outgoing email with a delivery log per message (queued -> sent / failed with the error).

A message is rendered and stored first (`queue_email`), then sent by a job over SMTP; the
stored row is what staff read ("did my friend get the email?"). Queueing is idempotent by
`dedupe_key`: a retried job or a double click is one message.

Shares and invitations are not transactional (`MARKETING_KINDS`): they are never queued
for, nor sent to, an address on the shop's suppression list (checked again when the job
sends), and each carries an unsubscribe link in its body and the `List-Unsubscribe` +
`List-Unsubscribe-Post` headers (RFC 8058). A reward email is transactional: the advocate
earned a code and is told it, whatever the list says. So is a signup's confirmation
(`customers.signups`): the recipient asked for it on the storefront, and it is limited per
address. Every other kind, the reward's included, is refused to a customer unsubscribed
from email marketing (`marketing_consent`, E4); the confirmation is how such a customer
subscribes again.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlsplit

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from shopify_app import jobs
from shopify_app.db import insert_ignore
from shopify_app.models import EmailMessage, Shop, utcnow
from shopify_app.timeline.events import record_event

from .marketing_consent import unsubscribed_reason
from .suppression import is_suppressed, unsubscribe_url

KINDS = (
    "reward",
    "invitation",
    "share",
    "signup_confirmation",
    "webhook_disabled",
    "conversation_reply",
    "conversation_unread",
)
MARKETING_KINDS = frozenset({"invitation", "share"})
# Asked for by the recipient to give consent: sent whatever their marketing consent says.
CONSENT_KINDS = frozenset({"signup_confirmation"})
# Notices to the shop's staff (an outgoing webhook endpoint disabled, a chat message unread
# by the assignee): not a shopper's email, so no shopper's marketing consent applies.
STAFF_KINDS = frozenset({"webhook_disabled", "conversation_unread"})
# A staff member's answer to the shopper's chat: asked for by the shopper.
CONVERSATION_KINDS = frozenset({"conversation_reply"})
# Sent whatever the recipient's marketing consent says.
TRANSACTIONAL_KINDS = CONSENT_KINDS | STAFF_KINDS | CONVERSATION_KINDS


class Suppressed(ValueError):
    """The address is on the shop's suppression list: a non-transactional email is not
    queued for it."""


class Unsubscribed(Suppressed):
    """The recipient is a customer unsubscribed from email marketing: no email of the
    app's is queued for them."""


def unsubscribe_footer(shop: Shop, url: str) -> str:
    name = " ".join((shop.name or shop.domain).split())
    return (
        f"\n\n-- \nYou received this email from {name}'s referral program."
        f"\nTo get no more emails like it: {url}\n"
    )


def list_unsubscribe_headers(message: EmailMessage) -> dict[str, str]:
    """RFC 2369 + RFC 8058 headers of a non-transactional message (none for a reward)."""
    if message.kind not in MARKETING_KINDS:
        return {}
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(message.shop_id, message.to_address)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def render(template: str, *, locale: str | None = None, **context) -> tuple[str, str]:
    """(subject, text body) from `templates/emails/<template>.txt`: its first line is
    `Subject: …`. In `locale` when given (the recipient's language), else the request's."""
    if locale is not None:
        with force_locale(locale):
            return render(template, **context)
    text = render_template(f"emails/{template}.txt", **context)
    first, _, body = text.partition("\n")
    if not first.startswith("Subject:"):
        raise ValueError(f"emails/{template}.txt must start with a Subject: line")
    subject = " ".join(first.removeprefix("Subject:").split())  # no header injection
    return subject, body.lstrip("\n")


def queue_email(
    session: Session,
    shop: Shop,
    *,
    kind: str,
    to: str,
    subject: str,
    body: str,
    dedupe_key: str,
    customer_id: int | None = None,
    referral_id: int | None = None,
    reward_id: int | None = None,
    advocate_id: int | None = None,
) -> tuple[EmailMessage, bool]:
    """Store the message (once per `dedupe_key`) and send it after commit.
    Returns (message, newly queued). Any email to a customer unsubscribed from email
    marketing raises `Unsubscribed`; a share or invitation to a suppressed address raises
    `Suppressed`; its body gets the unsubscribe link."""
    now = utcnow()
    if kind not in TRANSACTIONAL_KINDS:
        refusal = unsubscribed_reason(session, shop.id, customer_id=customer_id, address=to)
        if refusal is not None:
            raise Unsubscribed(refusal)
    if kind in MARKETING_KINDS:
        if is_suppressed(session, shop.id, to):
            raise Suppressed(f"{to} unsubscribed from these emails")
        body = body.rstrip("\n") + unsubscribe_footer(shop, unsubscribe_url(shop.id, to))
    new_id = insert_ignore(
        session,
        EmailMessage,
        {
            "shop_id": shop.id,
            "customer_id": customer_id,
            "kind": kind,
            "to_address": to.strip(),
            "subject": subject[:255],
            "body_text": body,
            "status": "queued",
            "attempts": 0,
            "referral_id": referral_id,
            "reward_id": reward_id,
            "advocate_id": advocate_id,
            "dedupe_key": dedupe_key[:255],
            "created_at": now,
            "updated_at": now,
        },
        ["shop_id", "dedupe_key"],
    )
    message = session.scalar(
        select(EmailMessage).where(
            EmailMessage.shop_id == shop.id, EmailMessage.dedupe_key == dedupe_key[:255]
        )
    )
    assert message is not None
    if new_id is not None:
        if customer_id is not None:
            record_event(
                session,
                shop_id=shop.id,
                customer_id=customer_id,
                kind=f"email.{kind}.queued",
                occurred_at=now,
                source="app",
                payload={"email_id": message.id, "subject": message.subject},
                dedupe_key=f"email:{message.id}:queued",
            )
        jobs.enqueue_after_commit(session, jobs.DELIVER_EMAIL, message.id)
    return message, new_id is not None


def redact_emails(session: Session, *where: ColumnElement[bool], **values) -> None:
    """An erasure's part in the outbox: the emails matching `where` that are not sent yet
    are cancelled (never sent), then every one of them gets `values` (empty bodies, a
    redacted address)."""
    session.execute(
        update(EmailMessage)
        .where(*where, EmailMessage.status != "sent")
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(EmailMessage)
        .where(*where)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def send_smtp(
    url: str,
    sender: str,
    message: EmailMessage,
    headers: dict[str, str] | None = None,
    *,
    html: str | None = None,
) -> None:
    """Send one message through the relay at `url` (smtp://, smtp+starttls://, smtps://,
    with optional user:password@), with any extra `headers` (a `Message-ID` among them
    replaces the generated one) and an optional HTML alternative to the text."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host, port = parts.hostname or "127.0.0.1", parts.port
    timeout = float(current_app.config.get("HTTP_TIMEOUT_SECONDS", 10))
    mime = MimeMessage()
    mime["From"] = sender
    mime["To"] = message.to_address
    mime["Subject"] = message.subject
    headers = dict(headers or {})
    mime["Message-ID"] = headers.pop("Message-ID", None) or make_msgid(domain="referrals.local")
    mime["X-Referrals-Email-Id"] = str(message.id)
    for name, value in headers.items():
        mime[name] = value
    mime.set_content(message.body_text)
    if html is not None:
        mime.add_alternative(html, subtype="html")
    if scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            host, port or 465, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(host, port or 25, timeout=timeout)
    with client:
        if scheme == "smtp+starttls":
            client.starttls(context=ssl.create_default_context())
        if parts.username:
            client.login(unquote(parts.username), unquote(parts.password or ""))
        client.send_message(mime)

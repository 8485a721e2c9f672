"""Delivering a stored message over SMTP (the job `workers.email_jobs.deliver_email`).

A message is claimed first, so two jobs for it (a retry and the sweeper) never both send
it; a share or invitation is checked again before it goes out; the outcome is kept on the
message's row and on the customer's timeline.
"""

from __future__ import annotations

import logging
import secrets
import smtplib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parseaddr

from flask import current_app
from sqlalchemy import and_, or_, update
from sqlalchemy.orm import Session

from shopify_app.models import EmailMessage, utcnow
from shopify_app.timeline.events import record_event

from . import MARKETING_KINDS, TRANSACTIONAL_KINDS, list_unsubscribe_headers, send_smtp
from .marketing_consent import unsubscribed_reason
from .suppression import is_suppressed

Refusal = Callable[[Session, EmailMessage], str | None]
"""Why a queued invitation may no longer be sent (None: send it)."""


@dataclass(frozen=True)
class Composed:
    """What a kind of message carries beyond the stored text: its own From, headers
    (Message-ID, threading) and an HTML part."""

    sender: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    html: str | None = None


Composer = Callable[[Session, EmailMessage], Composed | None]
"""The extra parts of a message of a kind that has them (None: the plain message)."""

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
STALE = timedelta(minutes=10)


def _claim(session: Session, message_id: int) -> bool:
    """Take the message for sending (queued, failed, or a send that died midway): two jobs
    for one message (a retry and the sweeper) never both send it."""
    now = utcnow()
    result = session.execute(
        update(EmailMessage)
        .where(
            EmailMessage.id == message_id,
            or_(
                EmailMessage.status.in_(("queued", "failed")),
                and_(EmailMessage.status == "sending", EmailMessage.updated_at < now - STALE),
            ),
        )
        .values(status="sending", updated_at=now, attempts=EmailMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1


def _reason_not_to_send(
    session: Session, message: EmailMessage, invitation_refusal: Refusal
) -> str | None:
    """Why a message must not go out now (asked when the job runs, not only when it was
    queued: the recipient may have unsubscribed, or withdrawn consent, since). Any kind to a
    customer unsubscribed from email marketing; shares and invitations also by the
    suppression list and the program's rules."""
    if message.kind in TRANSACTIONAL_KINDS:
        return None
    refusal = unsubscribed_reason(
        session, message.shop_id, customer_id=message.customer_id, address=message.to_address
    )
    if refusal is not None:
        return refusal
    if message.kind not in MARKETING_KINDS:
        return None
    if is_suppressed(session, message.shop_id, message.to_address):
        return "the recipient unsubscribed (suppression list)"
    if message.kind == "invitation":
        return invitation_refusal(session, message)
    return None


def deliver(
    session: Session,
    message_id: int,
    *,
    invitation_refusal: Refusal,
    compose: Composer | None = None,
) -> str:
    """Send a queued message; the outcome is kept on its row. A refusal or a network error
    is recorded and raised so RQ retries it; after `MAX_ATTEMPTS` it stays `failed`. A share
    or invitation the recipient may no longer get ends `suppressed`, with the reason (for an
    invitation, `invitation_refusal` says whether the program still allows it). `compose`
    adds a kind's own From, headers and HTML part (a chat reply's threading)."""
    if not _claim(session, message_id):
        current = session.get(EmailMessage, message_id)
        return f"not claimed ({current.status})" if current else "gone"
    message = session.get(EmailMessage, message_id)
    session.refresh(message)
    reason = _reason_not_to_send(session, message, invitation_refusal)
    if reason is not None:
        message.status = "suppressed"
        message.error = reason
        session.commit()
        return f"suppressed: {reason}"
    composed = (compose(session, message) if compose is not None else None) or Composed()
    sender = composed.sender or current_app.config["MAIL_FROM"]
    headers = {**list_unsubscribe_headers(message), **composed.headers}
    # The Message-ID is stored before the first attempt and reused by a retry: a delivery
    # status notification that names it finds this row even if the worker dies after the
    # relay took the mail.
    message_id = composed.headers.get("Message-ID") or message.message_id_header
    if message_id is None:
        message_id = new_message_id(parseaddr(sender)[1])
    if message.message_id_header != message_id or message.sender != sender[:320]:
        message.message_id_header = message_id
        message.sender = sender[:320]
        session.commit()
    headers["Message-ID"] = message_id
    try:
        send_smtp(current_app.config["SMTP_URL"], sender, message, headers, html=composed.html)
    except (smtplib.SMTPException, OSError) as exc:
        message.status = "failed"
        message.error = f"{type(exc).__name__}: {exc}"[:2000]
        if message.customer_id is not None:
            # The relay's reply may quote the address: it stays on the message's row (which
            # an erasure scrubs), the event names only the message.
            record_event(
                session,
                shop_id=message.shop_id,
                customer_id=message.customer_id,
                kind=f"email.{message.kind}.failed",
                occurred_at=utcnow(),
                source="app",
                payload={"email_id": message.id, "subject": message.subject},
                dedupe_key=f"email:{message.id}:failed:{message.attempts}",
            )
        session.commit()
        summary = f"email {message_id} not delivered: {type(exc).__name__}"
        code = getattr(exc, "smtp_code", None)
        if code is not None:
            summary += f" {code}"
        log.warning("%s (attempt %s)", summary, message.attempts)
        if message.attempts < MAX_ATTEMPTS:
            raise EmailNotDelivered(summary) from None
        return "failed"
    message.status = "sent"
    message.error = None
    message.sent_at = utcnow()
    if message.customer_id is not None:
        record_event(
            session,
            shop_id=message.shop_id,
            customer_id=message.customer_id,
            kind=f"email.{message.kind}.sent",
            occurred_at=message.sent_at,
            source="app",
            payload={"email_id": message.id, "subject": message.subject},
            dedupe_key=f"email:{message.id}:sent",
        )
    session.commit()
    return "sent"


def new_message_id(sender_address: str) -> str:
    """A Message-ID nobody can guess (128 random bits) at the sender's domain: a delivery
    status notification is matched to its email by it."""
    domain = sender_address.rpartition("@")[2].strip().lower() or "referrals.local"
    return f"<{secrets.token_hex(16)}@{domain}>"


class EmailNotDelivered(RuntimeError):
    """A send failed; raised for RQ to retry. It names the message, never the recipient:
    RQ keeps a failed job's traceback in Redis, and a relay's reply quotes the address (the
    full reply is on the message's row, which an erasure scrubs)."""

"""Telling staff about shopper messages (issue 20, F7): the unread count in the app's
navigation, and the email to a conversation's assignee about a message still unread after
the shop's delay (`shops.unread_email_minutes`, Settings; 0 turns it off).

An unread streak starts with the shopper message that made the conversation unread
(`conversations.unread_since_message_id`, kept by `service.post_message`) and ends when staff
read the conversation (`service.mark_read`) or reply. The sweep (`sweep_unread_emails`, a
periodic job) emails the assignee once per streak: a conditional UPDATE sets
`assignee_notified_message_id` to the streak's first message and queues the email in the
same transaction, so two sweeps, a retry or a worker killed midway send one email or none
(the next sweep then sends it); the email's dedupe key names the streak too. Unassigned
conversations, and assignees without an email address, get no email: there is no one to
send it to (the nav count and the live toast still tell every staff member).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from shopify_app.auth.embedded import embedded_admin_url
from shopify_app.emails import queue_email, redact_emails, render
from shopify_app.emails.names import safe_name
from shopify_app.models import (
    Conversation,
    ConversationMessage,
    EmailMessage,
    Shop,
    StaffMember,
    utcnow,
)

log = logging.getLogger(__name__)

EMAIL_KIND = "conversation_unread"
DEFAULT_MINUTES = 10
MAX_MINUTES = 7 * 24 * 60  # a week
# A message unread for longer than this is not emailed about any more (a shop that turns the
# email on, or an upgrade, must not send a flood about old threads).
EMAIL_WITHIN = timedelta(days=2)
SWEEP_LIMIT = 500
QUOTED_MESSAGES = 3
QUOTE_CHARS = 300


class SettingRefused(ValueError):
    """A setting's value that cannot be stored, with the sentence to show."""


def unread_count(session: Session, shop: Shop) -> int:
    """Conversations of `shop` with shopper messages staff have not read, archived ones
    left out: the number in the app's navigation (one COUNT on `ix_conversations_unread`)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Conversation)
            .where(
                Conversation.shop_id == shop.id,
                Conversation.unread_for_staff > 0,
                Conversation.archived_at.is_(None),
            )
        )
        or 0
    )


def nav_unread_count(session: Session, shop: Shop | None) -> int | None:
    """The count for a page's navigation; None without a shop, or when the database cannot
    answer (an error page must still render)."""
    if shop is None:
        return None
    try:
        return unread_count(session, shop)
    except SQLAlchemyError:
        log.warning("unread count unavailable for shop %s", shop.id, exc_info=True)
        return None


def parse_minutes(raw: Any) -> int:
    """The delay as a staff member typed it (a whole number of minutes, 0 = off)."""
    if isinstance(raw, bool):
        raise SettingRefused("The delay must be a whole number of minutes.")
    text = str(raw).strip() if isinstance(raw, (str, int)) else None
    if not text or not text.isdigit():
        raise SettingRefused(
            "The delay must be a whole number of minutes, from 0 (no emails) to "
            f"{MAX_MINUTES:,} (a week)."
        )
    minutes = int(text)
    if minutes > MAX_MINUTES:
        raise SettingRefused(f"The delay can be at most {MAX_MINUTES:,} minutes (a week).")
    return minutes


def set_unread_email_minutes(session: Session, shop: Shop, raw: Any) -> int:
    """Store the shop's delay (raises SettingRefused for a bad value)."""
    minutes = parse_minutes(raw)
    shop.unread_email_minutes = minutes
    session.flush()
    return minutes


@dataclass(frozen=True)
class Due:
    conversation_id: int
    shop_id: int
    since_message_id: int
    staff_id: int


def emails_due(
    session: Session, now: datetime | None = None, limit: int = SWEEP_LIMIT
) -> list[Due]:
    """Unread streaks past their shop's delay whose assignee has an email address and has
    not been emailed about them, oldest first."""
    now = now or utcnow()
    first = ConversationMessage
    rows = session.execute(
        select(
            Conversation.id,
            Conversation.shop_id,
            Conversation.unread_since_message_id,
            Conversation.assigned_staff_id,
            first.created_at,
            Shop.unread_email_minutes,
        )
        .join(Shop, Shop.id == Conversation.shop_id)
        .join(
            first,
            and_(
                first.id == Conversation.unread_since_message_id,
                first.conversation_id == Conversation.id,
                first.shop_id == Conversation.shop_id,
            ),
        )
        .join(
            StaffMember,
            and_(
                StaffMember.id == Conversation.assigned_staff_id,
                StaffMember.shop_id == Conversation.shop_id,
            ),
        )
        .where(
            Conversation.unread_for_staff > 0,
            Conversation.unread_since_message_id.is_not(None),
            or_(
                Conversation.assignee_notified_message_id.is_(None),
                Conversation.assignee_notified_message_id != Conversation.unread_since_message_id,
            ),
            StaffMember.email.is_not(None),
            StaffMember.email != "",
            # Whoever lost the chat permission since is not emailed (service.may_chat).
            or_(StaffMember.account_owner.is_(True), StaffMember.chat_permission.is_(True)),
            Shop.unread_email_minutes > 0,
            Shop.uninstalled_at.is_(None),
            Shop.redacted_at.is_(None),
            first.author == "shopper",
            first.created_at > now - EMAIL_WITHIN,
        )
        .order_by(first.created_at, Conversation.id)
        .limit(limit)
    ).all()
    return [
        Due(conversation_id, shop_id, since, staff_id)
        for conversation_id, shop_id, since, staff_id, created_at, minutes in rows
        if created_at <= now - timedelta(minutes=minutes)
    ]


def claim(session: Session, due: Due) -> bool:
    """Mark the streak as emailed, if it still is the conversation's unread streak with the
    same assignee and nobody marked it first (one conditional UPDATE: of two sweeps, one
    wins)."""
    result = session.execute(
        update(Conversation)
        .where(
            Conversation.id == due.conversation_id,
            Conversation.shop_id == due.shop_id,
            Conversation.unread_for_staff > 0,
            Conversation.unread_since_message_id == due.since_message_id,
            Conversation.assigned_staff_id == due.staff_id,
            or_(
                Conversation.assignee_notified_message_id.is_(None),
                Conversation.assignee_notified_message_id != due.since_message_id,
            ),
        )
        .values(assignee_notified_message_id=due.since_message_id)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def conversation_admin_url(shop: Shop, conversation_id: int) -> str:
    """The conversation in the app inside the Shopify admin (what a staff member can open
    from an email: the admin signs them in and frames the app at this path)."""
    return embedded_admin_url(shop.domain, f"/admin/conversations?c={int(conversation_id)}")


def _quoted(session: Session, due: Due) -> list[str]:
    bodies = session.scalars(
        select(ConversationMessage.body)
        .where(
            ConversationMessage.shop_id == due.shop_id,
            ConversationMessage.conversation_id == due.conversation_id,
            ConversationMessage.author == "shopper",
            ConversationMessage.id >= due.since_message_id,
        )
        .order_by(ConversationMessage.id.desc())
        .limit(QUOTED_MESSAGES)
    ).all()
    return [_excerpt(body) for body in reversed(bodies)]


def _excerpt(body: str) -> str:
    text = " ".join(body.split())
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1].rstrip() + "…"


def email_assignee(session: Session, due: Due, now: datetime | None = None) -> bool:
    """Claim the streak and queue its email in the caller's transaction (the caller
    commits); False when another sweep or a read got there first."""
    if not claim(session, due):
        return False
    shop = session.get(Shop, due.shop_id)
    conversation = session.get(Conversation, due.conversation_id)
    staff = session.get(StaffMember, due.staff_id)
    first = session.get(ConversationMessage, due.since_message_id)
    assert shop is not None and conversation is not None and staff is not None
    assert first is not None and staff.email
    now = now or utcnow()
    shopper = safe_name(conversation.name) or conversation.email
    subject, body = render(
        EMAIL_KIND,
        shop_name=shop.name or shop.domain,
        shopper=shopper,
        email=conversation.email,
        staff_name=(staff.first_name or "").strip() or None,
        minutes=max(1, int((now - first.created_at).total_seconds() // 60)),
        count=max(1, conversation.unread_for_staff),
        quoted=_quoted(session, due),
        url=conversation_admin_url(shop, conversation.id),
    )
    queue_email(
        session,
        shop,
        kind=EMAIL_KIND,
        to=staff.email,
        subject=subject,
        body=body,
        dedupe_key=f"{EMAIL_KIND}:{conversation.id}:{due.since_message_id}",
    )
    return True


def erase_emails_about(session: Session, shop: Shop, conversation_ids: list[int]) -> None:
    """A shopper's erasure (customers/redact): the assignee emails about their conversations
    quote their name, address and words, so they are emptied (and never sent, if still
    queued), as the erasure empties the emails sent to the shopper."""
    if not conversation_ids:
        return
    about = [EmailMessage.dedupe_key.like(f"{EMAIL_KIND}:{int(cid)}:%") for cid in conversation_ids]
    erased = (EmailMessage.shop_id == shop.id, EmailMessage.kind == EMAIL_KIND, or_(*about))
    redact_emails(session, *erased, subject="(redacted)", body_text="", error=None)


def sweep_unread_emails(session: Session, now: datetime | None = None) -> int:
    """Email each assignee owed one (`emails_due`), one conversation per transaction.
    Returns how many emails were queued."""
    sent = 0
    for due in emails_due(session, now):
        try:
            if email_assignee(session, due, now):
                sent += 1
            session.commit()
        except SQLAlchemyError:
            session.rollback()
            log.exception("unread email for conversation %s not queued", due.conversation_id)
    return sent

"""Conversations (issue 19): starting one, posting messages from any side, the staff's list
and read state, saved replies.

A message is stored first; only once the transaction commits is it announced on the
realtime channel and, for a staff reply the shopper is not online to read, handed to the
reply-email job (`notify.py`). A reply sent while they were online but that their widget
never reported seen (`mark_seen`) is emailed by the sweeper after a delay
(`reply_emails_owed`). Clients that missed an announcement catch up from the
stored messages (`messages_after`).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from shopify_app import jobs
from shopify_app.models import (
    Conversation,
    ConversationMessage,
    Customer,
    SavedReply,
    Shop,
    StaffMember,
    utcnow,
)
from shopify_app.timeline.events import record_event
from shopify_app.values import iso_utc

from . import notify

MAX_BODY = 5000  # characters
MAX_NAME = 255
PREVIEW_CHARS = 200
EXCERPT_CHARS = 140  # of a message, on the customer's timeline
AUTHORS = ("shopper", "staff", "note", "system")
CHANNELS = ("widget", "email", "admin")
# What a message carries: "text", a storefront "cart" event (staff only), a "product" link, a
# "discount" code or an "image" (the last three sent by staff). Its facts are in `payload`.
MESSAGE_KINDS = ("text", "cart", "product", "discount", "image")
# Kinds the shopper never sees nor is told of (the cart events of F2: staff only); they are
# not unread and do not move the conversation in the list (cart_events.py).
STAFF_ONLY_KINDS = ("cart",)
VIEWS = ("all", "mine", "unassigned", "active", "inactive", "archived")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,}$")
LOCALE_RE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
TIMELINE_KINDS = {
    "shopper": "conversation.message_received",
    "staff": "conversation.reply_sent",
    "note": "conversation.note_added",
}


class MessageRefused(ValueError):
    """What a sender did wrong, as an HTTP status and a sentence to show them."""

    def __init__(self, reason: str, status: int = 422) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def clean_body(body: Any) -> str:
    """The text as stored: line ends normalised, NULs (PostgreSQL refuses them) dropped,
    outer blank space trimmed. Refused when empty or over MAX_BODY characters."""
    if not isinstance(body, str):
        raise MessageRefused(_("Write a message first."), 422)
    text = body.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip()
    if not text:
        raise MessageRefused(_("Write a message first."), 422)
    if len(text) > MAX_BODY:
        raise MessageRefused(_("Messages are limited to %(max)s characters.", max=MAX_BODY), 413)
    return text


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def clean_email(email: Any) -> str:
    text = email.strip().lower() if isinstance(email, str) else ""
    if len(text) > 320 or not EMAIL_RE.match(text):
        raise MessageRefused(_("Enter a valid email address."), 422)
    return text


def start_conversation(
    session: Session,
    shop: Shop,
    *,
    email: str | None,
    name: str | None = None,
    customer: Customer | None = None,
    locale: str | None = None,
    reuse: bool = True,
) -> Conversation:
    """The shop's newest non-archived conversation for this email, else a new one.

    `customer` is a customer the caller has proven (the app proxy's signed
    `logged_in_customer_id`): only a thread already theirs is reused, and a new one is
    linked to them; without an email given, theirs is used. Without a customer only a
    thread linked to nobody is reused, and only with `reuse`: the storefront passes False
    for an anonymous shopper, since typing someone's address must not open their thread.
    """
    if customer is not None and customer.shop_id != shop.id:
        raise ValueError("customer of another shop")
    given = email.strip() if isinstance(email, str) else ""
    if not given and email in (None, "") and customer is not None and customer.email:
        email = customer.email
    address = clean_email(email)
    name = " ".join(name.split())[:MAX_NAME] or None if isinstance(name, str) else None
    locale = locale if isinstance(locale, str) and LOCALE_RE.match(locale) else None
    conversation = None
    if reuse or customer is not None:
        owner = (
            Conversation.customer_id == customer.id
            if customer is not None
            else Conversation.customer_id.is_(None)
        )
        conversation = session.scalar(
            select(Conversation)
            .where(
                Conversation.shop_id == shop.id,
                Conversation.email == address,
                Conversation.archived_at.is_(None),
                owner,
            )
            .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
            .limit(1)
        )
    if conversation is None:
        conversation = Conversation(
            shop_id=shop.id,
            customer_id=customer.id if customer is not None else None,
            email=address,
            name=name,
            locale=locale,
            status="active",
            last_message_at=utcnow(),
            last_message_preview="",
            unread_for_staff=0,
        )
        session.add(conversation)
    else:
        conversation.name = name or conversation.name
        conversation.locale = locale or conversation.locale
    session.flush()
    return conversation


def link_customer(
    session: Session, shop: Shop, conversation: Conversation, customer: Customer
) -> bool:
    """Link a conversation to a customer the caller has proven is its shopper (the widget
    holding the thread's chat token, now logged in as them); its earlier messages go on
    their timeline. False when it is already another customer's."""
    if conversation.shop_id != shop.id or customer.shop_id != shop.id:
        raise ValueError("conversation or customer of another shop")
    if conversation.customer_id == customer.id:
        return True
    if conversation.customer_id is not None:
        return False
    conversation.customer_id = customer.id
    session.flush()
    _backfill_timeline(session, shop, conversation)
    return True


def _backfill_timeline(session: Session, shop: Shop, conversation: Conversation) -> None:
    """A conversation newly linked to a customer puts its earlier messages on their
    timeline (each once: the events' dedupe keys are the messages')."""
    for message in session.scalars(
        select(ConversationMessage)
        .where(
            ConversationMessage.shop_id == shop.id,
            ConversationMessage.conversation_id == conversation.id,
        )
        .order_by(ConversationMessage.id)
    ):
        _record_timeline(session, shop, conversation, message, None)


def _record_timeline(
    session: Session,
    shop: Shop,
    conversation: Conversation,
    message: ConversationMessage,
    staff: StaffMember | None,
) -> None:
    kind = TIMELINE_KINDS.get(message.author)
    if kind is None or conversation.customer_id is None:
        return
    member = staff
    if member is None and message.staff_member_id is not None:
        member = session.get(StaffMember, message.staff_member_id)
    record_event(
        session,
        shop_id=shop.id,
        customer_id=conversation.customer_id,
        kind=kind,
        occurred_at=message.created_at,
        source="conversation",
        payload={
            "conversation_id": conversation.id,
            "message_id": message.id,
            "channel": message.channel,
            "excerpt": _one_line(message.body, EXCERPT_CHARS),
        },
        dedupe_key=f"conversation_message:{message.id}",
        actor=f"staff:{member.user_id}" if member is not None else None,
    )


def _existing(
    session: Session,
    shop: Shop,
    conversation: Conversation,
    client_id: str | None,
    email_message_id: str | None,
) -> ConversationMessage | None:
    if client_id:
        found = session.scalar(
            select(ConversationMessage).where(
                ConversationMessage.conversation_id == conversation.id,
                ConversationMessage.client_id == client_id,
            )
        )
        if found is not None:
            return found
    if email_message_id:
        return session.scalar(
            select(ConversationMessage).where(
                ConversationMessage.shop_id == shop.id,
                ConversationMessage.email_message_id == email_message_id,
            )
        )
    return None


def sent_before(
    session: Session, shop: Shop, conversation: Conversation, client_id: str | None
) -> ConversationMessage | None:
    """The message already stored under this `client_id` (a retried send), or None."""
    client_id = (client_id or "").strip()[:64] or None
    if conversation.shop_id != shop.id or client_id is None:
        return None
    return _existing(session, shop, conversation, client_id, None)


def post_message(
    session: Session,
    shop: Shop,
    conversation: Conversation,
    *,
    author: str,
    body: Any,
    channel: str,
    staff: StaffMember | None = None,
    client_id: str | None = None,
    email_message_id: str | None = None,
    kind: str = "text",
    payload: dict[str, Any] | None = None,
) -> ConversationMessage:
    """Store one message (or return the one already stored under the same `client_id` or
    `email_message_id`: a retried send is one message). Raises MessageRefused for an empty
    or over-long body."""
    if conversation.shop_id != shop.id:
        raise MessageRefused(_("No such conversation."), 404)
    if author not in AUTHORS or channel not in CHANNELS:
        raise ValueError(f"unknown author {author!r} or channel {channel!r}")
    if kind not in MESSAGE_KINDS or (kind == "text") != (payload is None):
        raise ValueError(f"message kind {kind!r} with payload {payload!r}")
    if staff is not None and staff.shop_id != shop.id:
        raise ValueError("staff member of another shop")
    client_id = (client_id or "").strip()[:64] or None
    email_message_id = (email_message_id or "").strip()[:255] or None
    found = _existing(session, shop, conversation, client_id, email_message_id)
    if found is not None:
        return found
    text = clean_body(body)
    now = utcnow()
    # Decided now and stored with the reply, so an email owed is never only in memory: a
    # lost enqueue is found again by `reply_emails_owed`.
    email_due = author == "staff" and not notify.is_online(shop.id, conversation.id)
    message = ConversationMessage(
        shop_id=shop.id,
        conversation_id=conversation.id,
        author=author,
        staff_member_id=staff.id if staff is not None else None,
        body=text,
        kind=kind,
        payload=payload,
        channel=channel,
        client_id=client_id,
        email_message_id=email_message_id,
        email_due=email_due,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(message)
    except IntegrityError:
        # The same client id or Message-ID, inserted by a concurrent request meanwhile.
        found = _existing(session, shop, conversation, client_id, email_message_id)
        if found is None:
            raise
        return found
    if author != "note" and kind not in STAFF_ONLY_KINDS:
        conversation.last_message_at = now
        conversation.last_message_preview = _one_line(text, PREVIEW_CHARS)
    if author == "shopper":
        # One UPDATE: both right-hand sides read the row as it was, so the message that
        # makes the conversation unread starts the streak (`staff_alerts`).
        conversation.unread_since_message_id = case(
            (
                or_(
                    Conversation.unread_for_staff <= 0,
                    Conversation.unread_since_message_id.is_(None),
                ),
                message.id,
            ),
            else_=Conversation.unread_since_message_id,
        )
        conversation.unread_for_staff = Conversation.unread_for_staff + 1
        conversation.status = "active"
        conversation.archived_at = None  # the shopper wrote again: back in the inbox
    elif author == "staff":
        conversation.unread_for_staff = 0
        conversation.unread_since_message_id = None
    session.flush()
    _record_timeline(session, shop, conversation, message, staff)
    _announce_after_commit(session, shop, conversation, message, staff)
    return message


def _announce_after_commit(
    session: Session,
    shop: Shop,
    conversation: Conversation,
    message: ConversationMessage,
    staff: StaffMember | None,
) -> None:
    to_shopper = message.author != "note" and message.kind not in STAFF_ONLY_KINDS
    # Staff pages name the shopper in a toast without a lookup (the staff channel only).
    payload = {
        **message_json(message, for_shopper=False, staff=staff),
        "shopper": conversation.name or conversation.email,
    }
    shopper_payload = message_json(message, for_shopper=True, staff=staff) if to_shopper else None
    shop_id, conversation_id, message_id = shop.id, conversation.id, message.id
    email_due = message.email_due

    def announce() -> None:
        notify.publish_message(
            payload,
            shop_id=shop_id,
            conversation_id=conversation_id,
            to_shopper=to_shopper,
            shopper_json=shopper_payload,
        )
        if email_due:
            notify.enqueue_reply_email(message_id)

    jobs.after_commit(session, announce)


def reply_emails_owed(
    session: Session,
    *,
    older_than: timedelta = timedelta(minutes=2),
    unseen_after: timedelta = timedelta(minutes=5),
    within: timedelta = timedelta(days=2),
    limit: int = 500,
) -> list[int]:
    """Staff replies owed an email and not emailed yet (no Message-ID), posted less than
    `within` ago (an email days late helps no one):

    - due when sent (the shopper was offline) and posted more than `older_than` ago: their
      job never ran (Redis lost it, or the process died between the commit and the enqueue);
    - or sent while the shopper counted as online, but not reported seen by their widget
      (`mark_seen`) `unseen_after` since: a widget in a background tab, a tab closed within
      the presence grace.
    Never one the shopper has since seen in the chat. The email's Message-ID is the
    once-only mark for both."""
    now = utcnow()
    seen_up_to = func.coalesce(Conversation.shopper_seen_message_id, 0)
    unseen = ConversationMessage.created_at < now - unseen_after
    lost = and_(
        ConversationMessage.email_due.is_(True),
        ConversationMessage.created_at < now - older_than,
    )
    return list(
        session.scalars(
            select(ConversationMessage.id)
            .join(
                Conversation,
                and_(
                    Conversation.id == ConversationMessage.conversation_id,
                    Conversation.shop_id == ConversationMessage.shop_id,
                ),
            )
            .where(
                ConversationMessage.author == "staff",
                ConversationMessage.email_message_id.is_(None),
                ConversationMessage.created_at > now - within,
                seen_up_to < ConversationMessage.id,  # seen in the chat: no email owed
                or_(lost, unseen),
            )
            .order_by(ConversationMessage.id)
            .limit(limit)
        )
    )


def mark_seen(session: Session, shop: Shop, conversation: Conversation, message_id: Any) -> bool:
    """The shopper's widget had the conversation on screen up to `message_id` (one of its
    own messages, not a note: a shopper cannot learn a note's id, nor name another
    thread's message). Moves only forward: a late or replayed report of an older message
    changes nothing. False when the message is not this conversation's."""
    if conversation.shop_id != shop.id:
        raise MessageRefused(_("No such conversation."), 404)
    try:
        wanted = int(message_id)
    except (TypeError, ValueError):
        return False
    if isinstance(message_id, bool) or not 0 < wanted < 2**31:  # the id column is 32-bit
        return False
    exists = session.scalar(
        select(ConversationMessage.id).where(
            ConversationMessage.shop_id == shop.id,
            ConversationMessage.conversation_id == conversation.id,
            ConversationMessage.id == wanted,
            ConversationMessage.author != "note",
            ConversationMessage.kind.not_in(STAFF_ONLY_KINDS),
        )
    )
    if exists is None:
        return False
    # One statement, so two concurrent reports cannot move it backwards.
    session.execute(
        update(Conversation)
        .where(
            Conversation.id == conversation.id,
            Conversation.shop_id == shop.id,
            or_(
                Conversation.shopper_seen_message_id.is_(None),
                Conversation.shopper_seen_message_id < wanted,
            ),
        )
        .values(shopper_seen_message_id=wanted, shopper_seen_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.refresh(conversation, ["shopper_seen_message_id", "shopper_seen_at"])
    return True


def mark_read(session: Session, shop: Shop, conversation: Conversation) -> None:
    """Staff have read everything in the conversation."""
    if conversation.shop_id != shop.id:
        raise MessageRefused(_("No such conversation."), 404)
    was_unread = bool(conversation.unread_for_staff)
    conversation.unread_for_staff = 0
    conversation.unread_since_message_id = None
    session.flush()
    if was_unread:
        # Other staff pages update their unread count (and the inbox its list).
        shop_id, conversation_id = shop.id, conversation.id
        jobs.after_commit(
            session,
            lambda: notify.publish_event(
                shop_id=shop_id,
                conversation_id=conversation_id,
                event="conversation",
                data={"unread": 0},
                to_shopper=False,
                to_staff=True,
            ),
        )


def get_conversation(session: Session, shop: Shop, conversation_id: Any) -> Conversation | None:
    """The shop's conversation with this id; None for another shop's or a bad id."""
    try:
        wanted = int(conversation_id)
    except (TypeError, ValueError):
        return None
    return session.scalar(
        select(Conversation).where(Conversation.shop_id == shop.id, Conversation.id == wanted)
    )


def list_conversations(
    session: Session,
    shop: Shop,
    *,
    q: str | None = None,
    view: str = "all",
    staff: StaffMember | None = None,
    limit: int = 50,
    before: datetime | None = None,
) -> list[Conversation]:
    """Unread first, then newest. Archived ones only in the "archived" view or a search;
    `q` matches the email, the name or any message's text (notes included: staff wrote
    them to find them again). `before`: only those whose last message is older."""
    view = view if view in VIEWS else "all"
    conditions: list[Any] = [Conversation.shop_id == shop.id]
    text = (q or "").strip()
    if view == "archived":
        conditions.append(Conversation.archived_at.is_not(None))
    elif not text:
        conditions.append(Conversation.archived_at.is_(None))
    if view == "mine":
        conditions.append(Conversation.assigned_staff_id == (staff.id if staff else -1))
    elif view == "unassigned":
        conditions.append(Conversation.assigned_staff_id.is_(None))
    elif view in ("active", "inactive"):
        conditions.append(Conversation.status == view)
    if text:
        pattern = (
            "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        # One pass over the shop's messages (a correlated EXISTS per conversation measured
        # 1.8 s at 20,000 conversations and 200,000 messages on SQLite).
        in_messages = select(ConversationMessage.conversation_id).where(
            ConversationMessage.shop_id == shop.id,
            ConversationMessage.body.ilike(pattern, escape="\\"),
        )
        conditions.append(
            or_(
                Conversation.email.ilike(pattern, escape="\\"),
                Conversation.name.ilike(pattern, escape="\\"),
                Conversation.id.in_(in_messages),
            )
        )
    if before is not None:
        conditions.append(Conversation.last_message_at < before)
    # Unread first, then newest: two reads in the inbox index's order (one sort over every
    # open conversation by "unread" cost 48 ms at 20,000 on SQLite).
    limit = max(1, min(int(limit), 200))
    newest = (Conversation.last_message_at.desc(), Conversation.id.desc())
    base = select(Conversation).where(and_(*conditions))
    if text:  # one scan of the messages, not two; a search finds few
        unread_first = case((Conversation.unread_for_staff > 0, 0), else_=1)
        return list(session.scalars(base.order_by(unread_first, *newest).limit(limit)))
    unread = list(
        session.scalars(
            base.where(Conversation.unread_for_staff > 0).order_by(*newest).limit(limit)
        )
    )
    if len(unread) == limit:
        return unread
    read = session.scalars(
        base.where(Conversation.unread_for_staff <= 0).order_by(*newest).limit(limit - len(unread))
    )
    return [*unread, *read]


def messages_after(
    session: Session,
    shop: Shop,
    conversation: Conversation,
    after_id: int = 0,
    *,
    include_notes: bool,
    limit: int = 500,
) -> list[ConversationMessage]:
    """The conversation's messages with ids above `after_id`, oldest first; private notes
    and the staff-only kinds (cart events) only when `include_notes` (never for the
    shopper)."""
    conditions = [
        ConversationMessage.shop_id == shop.id,
        ConversationMessage.conversation_id == conversation.id,
        ConversationMessage.id > max(0, int(after_id or 0)),
    ]
    if not include_notes:
        conditions.append(ConversationMessage.author != "note")
        conditions.append(ConversationMessage.kind.not_in(STAFF_ONLY_KINDS))
    return list(
        session.scalars(
            select(ConversationMessage)
            .where(*conditions)
            .order_by(ConversationMessage.id)
            .limit(limit)
        )
    )


def message_json(
    message: ConversationMessage, *, for_shopper: bool, staff: StaffMember | None = None
) -> dict[str, Any]:
    """A message as the widget and the admin read it. The shopper sees a staff member's
    first name only. `staff` saves a lookup when the caller has the author at hand."""
    member = staff
    if member is None and message.staff_member_id is not None:
        holder = object_session(message)
        member = holder.get(StaffMember, message.staff_member_id) if holder else None
    staff_name = None
    if member is not None:
        if for_shopper:
            staff_name = (member.first_name or "").strip() or None
        else:
            full = " ".join(p for p in (member.first_name, member.last_name) if p)
            staff_name = full or member.email or None
    shown = {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "author": message.author,
        "body": message.body,
        "kind": message.kind or "text",
        "payload": message.payload,
        "channel": message.channel,
        "created_at": iso_utc(message.created_at),
        "staff_name": staff_name,
    }
    if message.kind == "image":
        from .images import image_url_for  # images imports this module

        # Signed now, expiring: every fetch of the messages hands out a fresh one.
        shown["image_url"] = image_url_for(message.shop_id, message.payload)
    return shown


def may_chat(staff: StaffMember | None) -> bool:
    """Whether this staff member may chat with shoppers (be assigned conversations): the
    account owner always, others once the owner granted it in Settings."""
    return staff is not None and bool(staff.account_owner or staff.chat_permission)


def chat_staff(session: Session, shop: Shop) -> list[StaffMember]:
    """The shop's staff who may chat, by name. Only those who have opened the app are known:
    Shopify gives apps no staff list outside Plus (shopify-platform.md § 11.5)."""
    return list(
        session.scalars(
            select(StaffMember)
            .where(
                StaffMember.shop_id == shop.id,
                or_(StaffMember.account_owner.is_(True), StaffMember.chat_permission.is_(True)),
            )
            .order_by(
                func.lower(func.coalesce(StaffMember.first_name, StaffMember.email, "")),
                StaffMember.id,
            )
        )
    )


def list_saved_replies(session: Session, shop: Shop) -> list[SavedReply]:
    return list(
        session.scalars(
            select(SavedReply)
            .where(SavedReply.shop_id == shop.id)
            .order_by(SavedReply.title, SavedReply.id)
        )
    )


def save_reply(
    session: Session, shop: Shop, *, title: Any, body: Any, reply_id: int | None = None
) -> SavedReply:
    """Create a saved reply, or change the shop's `reply_id` (LookupError if it has none)."""
    name = " ".join(title.split())[:255] if isinstance(title, str) else ""
    if not name:
        raise MessageRefused(_("Give the saved reply a title."), 422)
    text = clean_body(body)
    if reply_id is None:
        reply = SavedReply(shop_id=shop.id, title=name, body=text)
        session.add(reply)
    else:
        reply = session.scalar(
            select(SavedReply).where(SavedReply.shop_id == shop.id, SavedReply.id == reply_id)
        )
        if reply is None:
            raise LookupError("no such saved reply")
        reply.title, reply.body = name, text
    session.flush()
    return reply


def delete_saved_reply(session: Session, shop: Shop, reply_id: int) -> bool:
    """False when the shop has no such saved reply."""
    reply = session.scalar(
        select(SavedReply).where(SavedReply.shop_id == shop.id, SavedReply.id == reply_id)
    )
    if reply is None:
        return False
    session.delete(reply)
    session.flush()
    return True

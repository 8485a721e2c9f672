"""Conversations (issue 19): a shopper's chat with the shop's staff, from the storefront
widget, email or the admin."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, TimestampMixin, UTCDateTime, utcnow


class Conversation(TimestampMixin, Base):
    """One thread with one shopper, known by the email they gave at the start (replies go
    there while they are away) and, when they were logged in, by their customer record."""

    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_inbox", "shop_id", "archived_at", "last_message_at"),
        Index("ix_conversations_email", "shop_id", "email"),
        Index("ix_conversations_customer", "shop_id", "customer_id"),
        # The nav's unread count and the unread-email sweep read only unread conversations.
        Index(
            "ix_conversations_unread",
            "shop_id",
            "archived_at",
            postgresql_where=text("unread_for_staff > 0"),
            sqlite_where=text("unread_for_staff > 0"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    email: Mapped[str] = mapped_column(String(320))  # lowercased
    name: Mapped[str | None] = mapped_column(String(255))
    locale: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | inactive
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    assigned_staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_members.id", ondelete="SET NULL")
    )
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_message_preview: Mapped[str] = mapped_column(String(200), default="")
    unread_for_staff: Mapped[int] = mapped_column(Integer, default=0)
    shopper_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The newest message the shopper's widget reported on screen (chat open, page visible):
    # only moves forward. A staff reply after it, unseen past CONVERSATION_UNSEEN_EMAIL_MINUTES,
    # is emailed.
    shopper_seen_message_id: Mapped[int | None] = mapped_column(Integer)
    # The first shopper message of the current unread streak (set by the message that made
    # the conversation unread, cleared when staff read it or reply), and the streak whose
    # assignee was emailed about it (`staff_alerts`): equal means emailed, once per streak.
    unread_since_message_id: Mapped[int | None] = mapped_column(Integer)
    assignee_notified_message_id: Mapped[int | None] = mapped_column(Integer)


class ConversationMessage(Base):
    """One message. `author` "note" is a private staff note: never shown or sent to the
    shopper. `client_id` (the sender's idempotency key) and `email_message_id` (the
    Message-ID of the email that carried it) make a retried send one message."""

    __tablename__ = "conversation_messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "client_id"),
        UniqueConstraint("shop_id", "email_message_id"),
        Index("ix_conversation_messages_thread", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(16))  # shopper | staff | note | system
    staff_member_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_members.id", ondelete="SET NULL")
    )
    body: Mapped[str] = mapped_column(Text)
    # "text", or what else the message carries (MESSAGE_KINDS in conversations.service): its
    # facts are in `payload`, `body` is the sentence shown where the kind is not understood
    # (emails, previews, the timeline).
    kind: Mapped[str] = mapped_column(String(16), default="text", server_default="text")
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    channel: Mapped[str] = mapped_column(String(16))  # widget | email | admin
    client_id: Mapped[str | None] = mapped_column(String(64))
    email_message_id: Mapped[str | None] = mapped_column(String(255))
    # A staff reply the shopper was not online to see: owed an email until the reply-email
    # job sets `email_message_id` (the sweeper re-enqueues one whose job was lost).
    email_due: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SavedReply(TimestampMixin, Base):
    __tablename__ = "saved_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)

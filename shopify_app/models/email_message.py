from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, TimestampMixin, UTCDateTime


class EmailMessage(TimestampMixin, Base):
    """One email the app sends, and its delivery log: queued -> (sending) -> sent, or failed
    (error kept; retried); after "sent", the mail system may report it delivered, bounced
    or complained about (`delivery_status`).

    `dedupe_key` makes queueing idempotent (a retried job or a double click is one message);
    a deliberate resend uses a new key.
    """

    __tablename__ = "email_messages"
    __table_args__ = (
        UniqueConstraint("shop_id", "dedupe_key"),
        Index("ix_email_messages_shop_customer", "shop_id", "customer_id"),
        Index("ix_email_messages_shop_to", "shop_id", "to_address"),
        Index("ix_email_messages_shop_kind_created", "shop_id", "kind", "created_at"),  # shares
        Index("ix_email_messages_message_id_header", "message_id_header"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    # reward | invitation | share | signup_confirmation
    kind: Mapped[str] = mapped_column(String(32))
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(255))
    body_text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id", ondelete="SET NULL"))
    reward_id: Mapped[int | None] = mapped_column(ForeignKey("rewards.id", ondelete="SET NULL"))
    advocate_id: Mapped[int | None] = mapped_column(ForeignKey("advocates.id", ondelete="SET NULL"))
    dedupe_key: Mapped[str] = mapped_column(String(255))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Stored before the first send attempt (a retry reuses it): what a delivery status
    # notification names to say which email it reports on (`shopify_app.inbound.dsn`).
    message_id_header: Mapped[str | None] = mapped_column(String(255))
    sender: Mapped[str | None] = mapped_column(String(320))  # the From it was sent with
    # What the mail system reported after "sent": delivered | bounced | complained
    # (None: nothing yet). `delivery_detail` is the diagnostic (a bounce's SMTP reply).
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    delivery_detail: Mapped[str | None] = mapped_column(Text)
    delivery_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class EmailSuppression(Base):
    """An address the shop's non-transactional emails (shares, invitations) must never reach:
    the recipient unsubscribed, or staff added it. Checked when a message is queued and again
    when it is sent.

    `email` is the address as normalised for display (trimmed, lowercase); `email_canonical`
    is the form the match uses (Gmail dots and `+tags` dropped where the provider ignores
    them), so `J.Doe+x@gmail.com` and `jdoe@gmail.com` are one mailbox.
    """

    __tablename__ = "email_suppressions"
    __table_args__ = (
        UniqueConstraint("shop_id", "email", name="uq_email_suppressions_shop_id_email"),
        Index("ix_email_suppressions_shop_canonical", "shop_id", "email_canonical"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    email_canonical: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(32))  # unsubscribed | staff
    source: Mapped[str] = mapped_column(String(32))  # one_click | link | staff
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SendQuota(Base):
    """One counter of a sending limit for one period (per advocate, recipient, IP or the
    whole shop). Taken with one conditional upsert in the transaction that queues the
    emails, so the count and the messages commit or roll back together, and two
    concurrent shares cannot both take the last unit (the row lock orders them).

    `key` is an HMAC digest for recipients and IPs, never the address itself.
    """

    __tablename__ = "send_quotas"
    __table_args__ = (
        UniqueConstraint(
            "shop_id", "scope", "key", "period", name="uq_send_quotas_shop_id_scope_key_period"
        ),
        Index("ix_send_quotas_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(16))  # advocate | recipient | ip | shop
    key: Mapped[str] = mapped_column(String(64))
    period: Mapped[int] = mapped_column(Integer)  # day number // window days
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class SignupConfirmation(Base):
    """One double opt-in email of a storefront signup: the link it carries names this row
    (sealed, `customers.signups`), works until `expires_at` and once (`used_at`).

    `address_digest` is a keyed digest of the address the link was sent to, never the address:
    the link confirms only while the customer still has that address.
    """

    __tablename__ = "signup_confirmations"
    __table_args__ = (Index("ix_signup_confirmations_customer", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    address_digest: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

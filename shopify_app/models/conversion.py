"""Custom conversion events (G5): a third party tells the app that a customer converted
(`subscription_started`, `trial_converted`, ...). When the program's reward trigger is that
event type, the conversion goes through the referral engine as an order does."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class Conversion(Base):
    """One conversion event, stored once per (shop, `event_id`): the same event sent again
    (a retry, a replay) finds this row and changes nothing.

    `outcome` says what the engine made of it: `referral` (a referral was made; its status
    is the referral's), `not_trigger` (the program rewards another event or orders),
    `program_off`, `not_attributed` (nothing names a known advocate). A referral made from a
    conversion has no order: its `order_shopify_id` is the conversion's id negated, which
    keeps "one referral per order" (unique per shop) true for conversions as well.
    """

    __tablename__ = "conversions"
    __table_args__ = (
        UniqueConstraint("shop_id", "event_id"),
        Index("ix_conversions_shop_customer_time", "shop_id", "customer_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(100))
    source_name: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outcome: Mapped[str] = mapped_column(String(16))
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id", ondelete="SET NULL"))

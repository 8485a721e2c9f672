from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, TimestampMixin, UTCDateTime


class Customer(TimestampMixin, Base):
    """The app's copy of a Shopify customer (and later, program members without one)."""

    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("shop_id", "shopify_id"),
        Index("ix_customers_shop_id_email_normalized", "shop_id", "email_normalized"),
        Index("ix_customers_shop_id_phone", "shop_id", "phone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    shopify_id: Mapped[int | None] = mapped_column(BigInteger)
    email: Mapped[str | None] = mapped_column(String(320))
    email_normalized: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    # Shopify's CustomerState: disabled (no account), invited, enabled (account), declined.
    account_state: Mapped[str | None] = mapped_column(String(16))
    email_marketing_state: Mapped[str | None] = mapped_column(String(24))
    sms_marketing_state: Mapped[str | None] = mapped_column(String(24))
    tags: Mapped[str] = mapped_column(Text, default="")
    shopify_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    shopify_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    redacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def shopify_status(self) -> str:
        """Member = has a store account; Guest = does not."""
        return "Member" if self.account_state == "enabled" else "Guest"

    @property
    def display_name(self) -> str:
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        return name or self.email or self.phone or f"Customer {self.shopify_id or self.id}"

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class Redaction(Base):
    """A Shopify resource erased by `customers/redact`: the customer, each of their orders
    and the friend discount of their advocate code, by Shopify id only. Shopify retries a
    delivery for up to 48 hours, so a `customers/update` or an order about them can arrive
    after the erasure; the inbox screens every delivery against these rows (see
    `shopify_app.compliance.screen_delivery`) so that none brings the data back or keeps its
    body."""

    __tablename__ = "redactions"
    __table_args__ = (
        UniqueConstraint(
            "shop_id", "resource", "shopify_id", name="uq_redactions_shop_id_resource"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    resource: Mapped[str] = mapped_column(String(16))  # customer | order | discount
    shopify_id: Mapped[int] = mapped_column(BigInteger)
    redacted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class DataRequest(Base):
    """A `customers/data_request`: the customer's data, kept for the merchant to download."""

    __tablename__ = "data_requests"
    __table_args__ = (UniqueConstraint("shop_id", "shopify_request_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    shopify_request_id: Mapped[int | None] = mapped_column(BigInteger)
    customer_shopify_id: Mapped[int | None] = mapped_column(BigInteger)
    customer_email: Mapped[str | None] = mapped_column(String(320))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    content: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

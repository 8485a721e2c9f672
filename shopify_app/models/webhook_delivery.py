from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class WebhookDelivery(Base):
    """The durable inbox: one row per Shopify delivery, unique per (shop, X-Shopify-Webhook-Id).

    The raw body is kept byte for byte, so a payload that fails to parse is still there to
    inspect and replay. Statuses: pending, processing, done, failed (retrying), dead (parse
    error or retries exhausted), ignored (unknown topic), skipped (shop not installed),
    rejected (the body does not match its topic or shop: webhooks/trust.py).
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("shop_id", "webhook_id"),
        Index("ix_webhook_deliveries_status_received_at", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    webhook_id: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(100))
    api_version: Mapped[str | None] = mapped_column(String(32))
    event_id: Mapped[str | None] = mapped_column(String(255))
    triggered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    body: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A worker's claim on the row while it runs; a lapsed claim means the worker died.
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

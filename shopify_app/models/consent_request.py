from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class ConsentRequest(Base):
    """A staff member's change of one customer's marketing consent (E4: unsubscribe),
    written back to Shopify by a job.

    The customer's row shows the new state at once; the request stays `pending` until
    Shopify confirms it (the mutation's answer or the consent webhook), then `confirmed`,
    or `failed` with Shopify's `userErrors` (the row's state goes back). `request_key`
    (from the form) makes a double click one request; `consent_updated_at` is the date sent
    to Shopify, so a retried job sends the same change.
    """

    __tablename__ = "consent_requests"
    __table_args__ = (
        UniqueConstraint("shop_id", "request_key", name="uq_consent_requests_shop_id_request_key"),
        Index("ix_consent_requests_shop_customer", "shop_id", "customer_id", "channel"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8))  # email | sms
    target_state: Mapped[str] = mapped_column(String(24))  # unsubscribed
    previous: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # state, level, date
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|confirmed|failed
    request_key: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    user_errors: Mapped[list[Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    consent_updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

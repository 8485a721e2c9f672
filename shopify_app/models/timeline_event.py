from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class TimelineEvent(Base):
    """One append-only fact about a customer, from Shopify, the app or the API.

    `dedupe_key` makes writing an event idempotent: the same fact delivered twice (a
    duplicate webhook, a replay) is one event.
    """

    __tablename__ = "timeline_events"
    __table_args__ = (
        UniqueConstraint("shop_id", "dedupe_key"),
        # The timeline's pages: newest first over (occurred_at, id), all events or one
        # family's (the kind filter; a source is a set of families) per index range.
        Index("ix_timeline_events_customer_time", "shop_id", "customer_id", "occurred_at", "id"),
        Index(
            "ix_timeline_events_customer_family_time",
            "shop_id",
            "customer_id",
            "family",
            "occurred_at",
            "id",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    source: Mapped[str] = mapped_column(String(16))  # shopify | app | api
    kind: Mapped[str] = mapped_column(String(64))
    family: Mapped[str] = mapped_column(String(16), server_default="other_app")  # timeline/kinds.py
    source_name: Mapped[str | None] = mapped_column(String(64))  # a third party's name (api)
    actor: Mapped[str | None] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(255))

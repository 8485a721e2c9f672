"""Outgoing webhooks (G15): the merchant's endpoints, the events the app emits, and one
delivery per (event, endpoint) with its log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, TimestampMixin, UTCDateTime, utcnow


class OutgoingEndpoint(TimestampMixin, Base):
    """A URL of the merchant's that receives the event types it subscribes to, signed with
    its secret (Standard Webhooks). The secret is stored encrypted (`crypto.TokenCipher`);
    during a rotation the previous one signs too, until `previous_secret_expires_at`.

    Health: `failing_since` is the first failure after the last success; an endpoint that
    only failed for `outgoing.delivery.DISABLE_AFTER` is disabled with the reason (and the
    shop emailed). `retry_at` holds the endpoint back after a failure (a dead endpoint is
    probed once per back-off, not once per delivery); `lease_until`/`lease_owner` make at
    most one delivery in flight per endpoint.
    """

    __tablename__ = "outgoing_endpoints"
    __table_args__ = (Index("ix_outgoing_endpoints_shop", "shop_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(String(255))
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    alert_email: Mapped[str] = mapped_column(String(320))
    secret_enc: Mapped[str] = mapped_column(Text)
    previous_secret_enc: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(32))


class OutgoingEvent(Base):
    """Something that happened, once per (shop, `idempotency_key`): a duplicate webhook or a
    retried job emits nothing twice. `public_id` is the `webhook-id` every delivery of it
    carries (the same across endpoints, retries and replays: receivers deduplicate by it)."""

    __tablename__ = "outgoing_events"
    __table_args__ = (
        UniqueConstraint("shop_id", "idempotency_key", name="uq_outgoing_events_shop_key"),
        UniqueConstraint("public_id", name="uq_outgoing_events_public_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    public_id: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OutgoingDelivery(TimestampMixin, Base):
    """One event to one endpoint: pending (`next_attempt_at`) -> succeeded, or failed after
    its retries (about a day). The last attempt's answer is kept: status code, latency and
    the first bytes of the body (or the error). A replay is a new delivery of the same event
    (`replay_of_id`)."""

    __tablename__ = "outgoing_deliveries"
    __table_args__ = (
        Index("ix_outgoing_deliveries_due", "endpoint_id", "status", "next_attempt_at"),
        Index("ix_outgoing_deliveries_shop", "shop_id", "id"),
        Index("ix_outgoing_deliveries_pending", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("outgoing_endpoints.id", ondelete="CASCADE")
    )
    event_id: Mapped[int] = mapped_column(ForeignKey("outgoing_events.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    response_status: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    replay_of_id: Mapped[int | None] = mapped_column(Integer)

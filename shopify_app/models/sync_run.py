from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class SyncRun(Base):
    """One initial import (bulk operations) or one reconciliation pass, with its progress."""

    __tablename__ = "sync_runs"
    __table_args__ = (Index("ix_sync_runs_shop_kind_started", "shop_id", "kind", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # import | reconcile
    status: Mapped[str] = mapped_column(String(16), default="running")  # running|completed|failed
    phase: Mapped[str | None] = mapped_column(String(16))  # customers | orders
    bulk_operation_gid: Mapped[str | None] = mapped_column(String(255))
    objects_seen: Mapped[int] = mapped_column(Integer, default=0)
    customers_synced: Mapped[int] = mapped_column(Integer, default=0)
    orders_synced: Mapped[int] = mapped_column(Integer, default=0)
    customers_recovered: Mapped[int] = mapped_column(Integer, default=0)
    orders_recovered: Mapped[int] = mapped_column(Integer, default=0)
    since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)

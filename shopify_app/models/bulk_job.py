from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class BulkJob(Base):
    """Staff work over many customers (send invitations, export CSV), run by a worker with
    progress the page polls. `cursor` is where it got to, committed with each chunk, so a
    killed worker resumes there instead of starting over or stopping."""

    __tablename__ = "bulk_jobs"
    __table_args__ = (
        UniqueConstraint("shop_id", "request_key", name="uq_bulk_jobs_shop_id_request_key"),
        Index("ix_bulk_jobs_shop_kind_created", "shop_id", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # invite | export
    status: Mapped[str] = mapped_column(
        String(16), default="queued"
    )  # queued|running|completed|failed
    request_key: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(255))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    total: Mapped[int] = mapped_column(Integer, default=0)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    cursor: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # last chunk committed
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def percent(self) -> int:
        if self.status == "completed":
            return 100
        return min(99, int(100 * self.processed / self.total)) if self.total else 0

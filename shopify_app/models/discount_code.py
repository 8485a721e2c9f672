from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, TimestampMixin, UTCDateTime


class DiscountCode(TimestampMixin, Base):
    """A code discount in Shopify (`DiscountCodeNode`), whoever created it."""

    __tablename__ = "discount_codes"
    __table_args__ = (
        UniqueConstraint("shop_id", "node_gid"),
        Index("ix_discount_codes_shop_id_code_upper", "shop_id", "code_upper"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    node_gid: Mapped[str] = mapped_column(String(255))
    shopify_id: Mapped[int | None] = mapped_column(BigInteger)
    title: Mapped[str | None] = mapped_column(String(255))
    code: Mapped[str | None] = mapped_column(String(255))
    code_upper: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str | None] = mapped_column(String(16))
    usage_count: Mapped[int | None] = mapped_column(Integer)
    shopify_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    shopify_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

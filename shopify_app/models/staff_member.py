from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class StaffMember(Base):
    """Who a staff member is (name, email), from the `associated_user` of an online token
    exchange, so the audit trail says "Ada Alpha" and not only the ID token's `sub`."""

    __tablename__ = "staff_members"
    __table_args__ = (UniqueConstraint("shop_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigInteger)
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    account_owner: Mapped[bool] = mapped_column(Boolean, default=False)
    # Granted by the account owner in Settings (the owner always may chat); kept when the
    # identity is refreshed (`staff.remember_staff`).
    chat_permission: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def name(self) -> str:
        """First and last name, else the email: what the inbox and its errors call them."""
        full = " ".join(p for p in (self.first_name, self.last_name) if p)
        return full or self.email or f"Staff member {self.user_id}"

    @property
    def label(self) -> str:
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        if name and self.email:
            return f"{name} ({self.email})"
        return name or self.email or "A staff member"

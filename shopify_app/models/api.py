"""The public API's rows: the shops' API keys and the answers kept for idempotent POSTs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class ApiKey(Base):
    """A key a shop owner made in Settings > API keys. The secret is never stored: only a
    keyed hash of the whole key (`api.keys`), found by its public `prefix`."""

    __tablename__ = "api_keys"
    __table_args__ = (
        UniqueConstraint("prefix"),
        Index("ix_api_keys_shop", "shop_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(32))
    secret_hash: Mapped[str] = mapped_column(String(64))  # HMAC-SHA256, hex
    scopes: Mapped[str] = mapped_column(String(32))  # "read" or "read write"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(64))

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class IdempotentRequest(Base):
    """One `Idempotency-Key` of a shop: the request it was first used with (a digest of
    method, path and body) and, once the request ran, its answer, replayed to repeats for
    `expires_at` (24 hours). `state` is "running" while the first request runs (a repeat
    then gets 409); `lease_until` lets a repeat take over a request whose process died."""

    __tablename__ = "api_idempotent_requests"
    __table_args__ = (
        UniqueConstraint("shop_id", "key"),
        Index("ix_api_idempotent_requests_expires", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_digest: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # running | done
    owner: Mapped[str] = mapped_column(String(32))
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_type: Mapped[str | None] = mapped_column(String(100))
    response_headers: Mapped[str | None] = mapped_column(Text)  # JSON object
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)

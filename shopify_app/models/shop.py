from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, TimestampMixin, UTCDateTime


class Shop(TimestampMixin, Base):
    """One installation of the app on a Shopify store, with its encrypted offline tokens."""

    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    currency: Mapped[str | None] = mapped_column(String(3))  # the shop's currencyCode
    iana_timezone: Mapped[str | None] = mapped_column(String(64))  # e.g. Europe/Helsinki
    # The shop's id at Shopify (from the Admin API, never from a webhook): compliance and
    # app/uninstalled payloads must carry it (webhooks/trust.py).
    shopify_id: Mapped[int | None] = mapped_column(BigInteger)
    scopes: Mapped[str] = mapped_column(Text, default="")
    access_token_enc: Mapped[str | None] = mapped_column(Text)
    access_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    refresh_token_enc: Mapped[str | None] = mapped_column(Text)
    refresh_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A lease, not a lock held by a connection: whoever sets it refreshes the token; it lapses
    # by itself if that process dies.
    token_refresh_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    token_refresh_lease_owner: Mapped[str | None] = mapped_column(String(32))
    reauth_required_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    installed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    uninstalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The app's web pixel on the shop (webPixelCreate) and the settings it was last given
    # (shopify_app/web_pixel.py): None until activated, and again after an uninstall.
    web_pixel_id: Mapped[str | None] = mapped_column(String(255))
    web_pixel_settings: Mapped[str | None] = mapped_column(Text)
    # The shop's primary language (Shopify's `shopLocales`, "fi", "en-US"), read by
    # shopify_app/shop_locale.py: the last fallback of emails to customers. None: not known
    # (not read yet, the `read_locales` scope not granted, or the read failed).
    primary_locale: Mapped[str | None] = mapped_column(String(16))
    # shop/redact erased everything else: this row is the record that it happened.
    redacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Email a conversation's assignee about a shopper message unread this many minutes
    # (0: never). Settings > Notifications.
    unread_email_minutes: Mapped[int] = mapped_column(Integer, default=10, server_default="10")

    @property
    def is_installed(self) -> bool:
        return self.installed_at is not None and self.uninstalled_at is None

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(s.strip() for s in self.scopes.split(",") if s.strip())

    def __repr__(self) -> str:
        return f"<Shop {self.domain}>"

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, validates

from .base import Base, TimestampMixin, UTCDateTime, utcnow

# The Customers page's filters, as one small number per row (`list_segment`):
# 2 x Shopify status (Member = has a store account) + program status (Joined), or UNLISTED
# (-1) when the customer is not listed (deleted in Shopify). Not NULL: the ORM would read an
# explicit None as "use the column default". Every sort has an index led by
# (shop_id, list_segment), so any combination of the two filters is one to four index
# ranges merged in order (`customers.listing`), and `customer_counts` keeps a total per
# segment (maintained by database triggers, migration 0006).
SEGMENT_MEMBER = 2
SEGMENT_JOINED = 1
SEGMENTS = (0, 1, 2, 3)
UNLISTED = -1

_DERIVED_FROM = (
    "first_name",
    "last_name",
    "email",
    "account_state",
    "deleted_at",
    "program_joined",
    "shopify_created_at",
)


def list_segment(*, member: bool, joined: bool, deleted: bool) -> int:
    if deleted:
        return UNLISTED
    return (SEGMENT_MEMBER if member else 0) + (SEGMENT_JOINED if joined else 0)


def name_sort_key(first: str | None, last: str | None, email: str | None) -> str:
    """What the name column sorts and prefix-searches on: "first last", else the email."""
    name = " ".join(p.strip() for p in (first, last) if p and p.strip())
    return (name or email or "").lower()[:255]


def search_key(value: str | None, size: int) -> str | None:
    """Lowercased in Python, not SQL: SQLite's lower() leaves non-ASCII letters alone."""
    value = (value or "").strip().lower()[:size]
    return value or None


# What a search reads with each match (the page's sort value). PostgreSQL carries it in the
# search indexes (INCLUDE) so a search is an index-only scan, not one heap fetch per match;
# SQLite ignores `postgresql_include` (its searches measured fast without).
SORT_VALUES = (
    "sort_name",
    "customer_since",
    "successful_referrals",
    "referrer_revenue_minor",
    "referee_revenue_minor",
)


def _index(name: str, *columns, include: tuple[str, ...] = ()) -> Index:
    return Index(name, "shop_id", "list_segment", *columns, "id", postgresql_include=list(include))


def _search_index(name: str, column: str) -> Index:
    return _index(name, column, include=tuple(c for c in SORT_VALUES if c != column))


def _one_signup_per(name: str, column: str) -> Index:
    """A record not (yet) known to Shopify is one per address: concurrent storefront signups
    for one address insert-or-ignore against this index (`customers.signups`)."""
    where = text("shopify_id IS NULL")
    return Index(name, "shop_id", column, unique=True, sqlite_where=where, postgresql_where=where)


class CustomerLabels:
    """How a customer is named and labelled on the admin pages: for the ORM row and for the
    slimmer rows the Customers page reads (`customers.listing.ListedCustomer`)."""

    __slots__ = ()
    id: Any
    shopify_id: Any
    first_name: Any
    last_name: Any
    email: Any
    phone: Any
    account_state: Any
    program_joined: Any

    @property
    def shopify_status(self) -> str:
        """Member = has a store account; Guest = does not."""
        return "Member" if self.account_state == "enabled" else "Guest"

    @property
    def program_status(self) -> str:
        return "Joined" if self.program_joined else "Not joined"

    @property
    def display_name(self) -> str:
        first, last = self.first_name, self.last_name
        name = f"{first} {last}" if first and last else first or last
        return name or self.email or self.phone or f"Customer {self.shopify_id or self.id}"


class Customer(CustomerLabels, TimestampMixin, Base):
    """The app's copy of a Shopify customer, with the program numbers the Customers page
    sorts on (kept up to date by `referrals.revenue`, never computed on page view).

    A shopper without a store account who signs up on the storefront page is a customer too
    (`source` "storefront", no `shopify_id`, phone in E.164) until Shopify reports a customer
    with the same email or phone: then this row becomes that customer (`sync.customers`)."""

    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("shop_id", "shopify_id"),
        Index("ix_customers_shop_id_email_normalized", "shop_id", "email_normalized"),
        Index(
            "ix_customers_shop_id_phone",
            "shop_id",
            "phone",
            postgresql_include=["list_segment", "id", *SORT_VALUES],
        ),
        _search_index("ix_customers_list_email_key", "email_key"),
        _search_index("ix_customers_list_last_name_key", "last_name_key"),
        _search_index("ix_customers_list_name", "sort_name"),
        _index("ix_customers_list_since", "customer_since"),
        _index("ix_customers_list_referrals", "successful_referrals"),
        _index("ix_customers_list_referrer_revenue", "referrer_revenue_minor"),
        _index("ix_customers_list_referee_revenue", "referee_revenue_minor"),
        _one_signup_per("uq_customers_signup_email", "email_normalized"),
        _one_signup_per("uq_customers_signup_phone", "phone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    shopify_id: Mapped[int | None] = mapped_column(BigInteger)
    email: Mapped[str | None] = mapped_column(String(320))
    email_normalized: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    # Shopify's CustomerState: disabled (no account), invited, enabled (account), declined.
    account_state: Mapped[str | None] = mapped_column(String(16))
    # Marketing consent, lower-case as in Shopify's payloads, with the opt-in level and the
    # consent's own date (`consent_updated_at`): a change older than the stored one never
    # overwrites it (`sync.consent`).
    email_marketing_state: Mapped[str | None] = mapped_column(String(24))
    email_marketing_opt_in_level: Mapped[str | None] = mapped_column(String(24))
    email_marketing_consent_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sms_marketing_state: Mapped[str | None] = mapped_column(String(24))
    sms_marketing_opt_in_level: Mapped[str | None] = mapped_column(String(24))
    sms_marketing_consent_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    tags: Mapped[str] = mapped_column(Text, default="")
    shopify_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    shopify_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    redacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Where the record began when not from Shopify: "storefront" (a signup on the app's page).
    # NULL for Shopify's customers (no default: rows written whole, as sync writes them,
    # and inserts at older schema versions, need none).
    source: Mapped[str | None] = mapped_column(String(16))

    program_joined: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # Derived from the columns above whenever they are set (`_derive`): never set by hand.
    sort_name: Mapped[str] = mapped_column(String(255), default="", server_default="")
    last_name_key: Mapped[str | None] = mapped_column(String(255))  # lowercased, for search
    email_key: Mapped[str | None] = mapped_column(String(320))  # lowercased, for search
    customer_since: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    list_segment: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")

    # B9 numbers (`referrals.revenue`); money net of refunds, in minor units.
    successful_referrals: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    total_referees: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    referral_revenue_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    referrer_revenue_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    referee_revenue_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    stats_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @validates(*_DERIVED_FROM)
    def _derive(self, key: str, value: Any) -> Any:
        """Keep the listing columns in step with what they are made of, on every write path
        that goes through the model (sync, joins, redaction, the seed)."""
        current = {k: (value if k == key else getattr(self, k, None)) for k in _DERIVED_FROM}
        self.sort_name = name_sort_key(
            current["first_name"], current["last_name"], current["email"]
        )
        self.last_name_key = search_key(current["last_name"], 255)
        self.email_key = search_key(current["email"], 320)
        self.list_segment = list_segment(
            member=current["account_state"] == "enabled",
            joined=bool(current["program_joined"]),
            deleted=current["deleted_at"] is not None,
        )
        if current["shopify_created_at"] is not None:
            self.customer_since = current["shopify_created_at"]
        elif getattr(self, "customer_since", None) is None:
            self.customer_since = utcnow()
        return value


class CustomerCount(Base):
    """How many listed customers a shop has per `list_segment`, summed over `slot`s.

    Written only by the triggers on `customers` (migration 0006): every insert, delete and
    segment change adds +1/-1 here in the same transaction, so the Customers page shows exact
    totals without counting a million rows. PostgreSQL spreads concurrent writers over a few
    slots (by backend pid) so two workers syncing one shop never queue on a single row.
    """

    __tablename__ = "customer_counts"

    shop_id: Mapped[int] = mapped_column(
        ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
    )
    segment: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)

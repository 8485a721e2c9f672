from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, TimestampMixin, UTCDateTime, utcnow

# The Customers page's filters (E2), as one small number per row (`list_segment`): the
# combination of the five categories, each a digit of a mixed-radix number:
#   program joined (1) + Shopify member (2) + has successful referrals (4)
#   + email marketing bucket x 8 + SMS marketing bucket x 24     (0..71)
# or UNLISTED (-1) when the customer is not listed (deleted in Shopify). A customer with no
# consent and no referrals keeps the number the first two categories gave it before. Not
# NULL: the ORM would read an explicit None as "use the column default". Every sort has an
# index led by (shop_id, list_segment), so any combination of filters is a set of index
# ranges merged in order (`customers.listing`), and `customer_counts` keeps a total per
# segment. The database keeps the number right on every write (triggers, migration 0016,
# from the same rule as `segment_sql`), whether the write went through the model or not.
SEGMENT_JOINED = 1
SEGMENT_MEMBER = 2
SEGMENT_REFERRALS = 4
EMAIL_WEIGHT = 8
SMS_WEIGHT = 24
UNLISTED = -1

# Shopify's marketing states -> the article's three buckets. Only "subscribed" may be sent
# marketing. `pending` (a double opt-in not yet confirmed) and a state never reported (NULL)
# are "not subscribed"; `redacted` (erased consent) and `invalid` (an address that cannot
# receive) cannot be sent to either, like an unsubscribe: the article's "suppressed".
NOT_SUBSCRIBED, SUBSCRIBED, UNSUBSCRIBED = 0, 1, 2
MARKETING_BUCKETS = {
    "subscribed": SUBSCRIBED,
    "not_subscribed": NOT_SUBSCRIBED,
    "pending": NOT_SUBSCRIBED,
    "unsubscribed": UNSUBSCRIBED,
    "redacted": UNSUBSCRIBED,
    "invalid": UNSUBSCRIBED,
}
BUCKET_NAMES = {
    NOT_SUBSCRIBED: "not_subscribed",
    SUBSCRIBED: "subscribed",
    UNSUBSCRIBED: "unsubscribed",
}
BUCKET_LABELS = {
    "subscribed": "Subscribed",
    "not_subscribed": "Not subscribed",
    "unsubscribed": "Unsubscribed",
}
SEGMENTS = tuple(range(3 * 3 * 2 * 2 * 2))


def marketing_bucket(state: str | None) -> int:
    return MARKETING_BUCKETS.get(state or "", NOT_SUBSCRIBED)


def list_segment(
    *,
    member: bool,
    joined: bool,
    deleted: bool,
    referrals: int = 0,
    email_state: str | None = None,
    sms_state: str | None = None,
) -> int:
    if deleted:
        return UNLISTED
    return (
        (SEGMENT_JOINED if joined else 0)
        + (SEGMENT_MEMBER if member else 0)
        + (SEGMENT_REFERRALS if (referrals or 0) > 0 else 0)
        + EMAIL_WEIGHT * marketing_bucket(email_state)
        + SMS_WEIGHT * marketing_bucket(sms_state)
    )


def segment_parts(segment: int) -> dict[str, int | bool]:
    """The categories a segment number stands for (the inverse of `list_segment`)."""
    return {
        "joined": bool(segment & SEGMENT_JOINED),
        "member": bool(segment & SEGMENT_MEMBER),
        "referrals": bool(segment & SEGMENT_REFERRALS),
        "email": (segment // EMAIL_WEIGHT) % 3,
        "sms": segment // SMS_WEIGHT,
    }


def _bucket_sql(column: str, weight: int) -> str:
    whens = " ".join(
        f"WHEN '{state}' THEN {weight * bucket}"
        for state, bucket in MARKETING_BUCKETS.items()
        if bucket != NOT_SUBSCRIBED
    )
    return f"CASE {column} {whens} ELSE 0 END"


def segment_sql(row: str) -> str:
    """`list_segment` as an SQL expression over `row` (NEW in a trigger, or the table), the
    same on SQLite and PostgreSQL: what the triggers of migration 0016 keep."""
    email = _bucket_sql(f"{row}.email_marketing_state", EMAIL_WEIGHT)
    sms = _bucket_sql(f"{row}.sms_marketing_state", SMS_WEIGHT)
    return (
        f"(CASE WHEN {row}.deleted_at IS NOT NULL THEN {UNLISTED} ELSE "
        f"(CASE WHEN {row}.program_joined THEN {SEGMENT_JOINED} ELSE 0 END)"
        f" + (CASE WHEN {row}.account_state = 'enabled' THEN {SEGMENT_MEMBER} ELSE 0 END)"
        f" + (CASE WHEN {row}.successful_referrals > 0 THEN {SEGMENT_REFERRALS} ELSE 0 END)"
        f" + ({email}) + ({sms}) END)"
    )


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
    email_marketing_state: Any
    sms_marketing_state: Any

    @property
    def shopify_status(self) -> str:
        """Member = has a store account; Guest = does not."""
        return "Member" if self.account_state == "enabled" else "Guest"

    @property
    def program_status(self) -> str:
        return "Joined" if self.program_joined else "Not joined"

    @property
    def email_marketing(self) -> str:
        """The article's bucket of the email consent (`MARKETING_BUCKETS`)."""
        return BUCKET_NAMES[marketing_bucket(self.email_marketing_state)]

    @property
    def sms_marketing(self) -> str:
        return BUCKET_NAMES[marketing_bucket(self.sms_marketing_state)]

    @property
    def email_marketing_label(self) -> str:
        return BUCKET_LABELS[self.email_marketing]

    @property
    def sms_marketing_label(self) -> str:
        return BUCKET_LABELS[self.sms_marketing]

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
    # The language the customer last bought in (the order's `customer_locale`, "fi" or
    # "fi-FI"): what the app's emails to them are written in (i18n.email_locale).
    locale: Mapped[str | None] = mapped_column(String(35))
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
    # Custom attributes a third party set through the public API (G8): name -> text, number,
    # true/false or a date as "YYYY-MM-DD"; bounded by `customers.attributes`.
    custom_attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)

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

    def derive_columns(self) -> None:
        """Keep the listing columns in step with what they are made of, on every write path
        that goes through the model (sync, joins, redaction, the seed): run once per row
        and flush (`before_insert` / `before_update`), not on every attribute set (a webhook
        sets a dozen of them), and by `db.row_values` for a draft inserted by Core."""
        self.sort_name = name_sort_key(self.first_name, self.last_name, self.email)
        self.last_name_key = search_key(self.last_name, 255)
        self.email_key = search_key(self.email, 320)
        self.list_segment = list_segment(
            member=self.account_state == "enabled",
            joined=bool(self.program_joined),
            deleted=self.deleted_at is not None,
            referrals=self.successful_referrals or 0,
            email_state=self.email_marketing_state,
            sms_state=self.sms_marketing_state,
        )
        if self.shopify_created_at is not None:
            self.customer_since = self.shopify_created_at
        elif self.customer_since is None:
            self.customer_since = utcnow()


@event.listens_for(Customer, "before_insert")
@event.listens_for(Customer, "before_update")
def _derive(_mapper: Any, _connection: Any, customer: Customer) -> None:
    customer.derive_columns()


class CustomerCount(Base):
    """How many listed customers a shop has per `list_segment`, summed over `slot`s.

    Written only by the triggers on `customers` (migrations 0006 and 0016): every insert,
    delete and segment change adds +1/-1 here in the same transaction, so the Customers page
    shows exact totals without counting a million rows. PostgreSQL spreads concurrent
    writers over a few slots (by backend pid) so two workers syncing one shop never queue on
    a single row.
    """

    __tablename__ = "customer_counts"

    shop_id: Mapped[int] = mapped_column(
        ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
    )
    segment: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    slot: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)

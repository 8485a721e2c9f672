"""The referral program: its settings, advocates, clicks, referrals, fraud checks, rewards,
the blocklist and the staff audit trail."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, TimestampMixin, UTCDateTime, utcnow


class Program(TimestampMixin, Base):
    """A shop's referral program (one per shop). Values of kind `percentage` are whole
    percent (1-100); of kind `fixed_amount`, minor units of the shop's currency.

    `version` grows with every change; a referral keeps the terms of the version it was made
    under (`Referral.terms`), so a change applies to new referrals only.
    """

    __tablename__ = "programs"
    __table_args__ = (UniqueConstraint("shop_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    friend_kind: Mapped[str] = mapped_column(String(16), default="percentage")
    friend_value: Mapped[int] = mapped_column(Integer, default=10)
    friend_min_subtotal_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    friend_once_per_customer: Mapped[bool] = mapped_column(Boolean, default=True)
    friend_new_customers_only: Mapped[bool] = mapped_column(Boolean, default=True)
    reward_kind: Mapped[str] = mapped_column(String(16), default="fixed_amount")
    reward_value: Mapped[int] = mapped_column(Integer, default=1000)
    reward_expiry_days: Mapped[int] = mapped_column(Integer, default=90)  # 0: never expires
    # paid | fulfilled | days_after_paid | event (a custom conversion event, `conversion_event`)
    reward_trigger: Mapped[str] = mapped_column(String(16), default="paid")
    # The custom event type that is the reward trigger when `reward_trigger` is "event".
    conversion_event: Mapped[str | None] = mapped_column(String(64))
    reward_trigger_days: Mapped[int] = mapped_column(Integer, default=0)
    approval_mode: Mapped[str] = mapped_column(String(16), default="auto")
    approval_delay_hours: Mapped[int] = mapped_column(Integer, default=0)
    cap_per_day: Mapped[int | None] = mapped_column(Integer)
    cap_total: Mapped[int | None] = mapped_column(Integer)


class Advocate(TimestampMixin, Base):
    """A customer who joined the program, with their code and shareable friend discount."""

    __tablename__ = "advocates"
    __table_args__ = (
        UniqueConstraint("shop_id", "customer_id", name="uq_advocates_shop_id_customer_id"),
        # Unique across shops: `/r/<code>` resolves a code without its shop.
        UniqueConstraint("code", name="uq_advocates_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    joined_via: Mapped[str] = mapped_column(String(16))  # staff | invitation | storefront | api
    # The friend code in Shopify: pending -> active, or failed (error kept), deleted, inactive.
    friend_discount_status: Mapped[str] = mapped_column(String(16), default="pending")
    friend_discount_gid: Mapped[str | None] = mapped_column(String(255))
    friend_discount_version: Mapped[int | None] = mapped_column(Integer)
    friend_discount_error: Mapped[str | None] = mapped_column(Text)


class ReferralClick(Base):
    """A visitor following an advocate's `/r/<code>` link: one row per advocate, visitor
    (`fingerprint` of IP and browser) and UTC `day`, at most `CLICKS_PER_ADVOCATE_PER_DAY`
    rows per advocate and day (storefront/views.py). Rows from before migration 0008 have
    no day or fingerprint."""

    __tablename__ = "referral_clicks"
    __table_args__ = (
        Index("ix_referral_clicks_shop_advocate_time", "shop_id", "advocate_id", "clicked_at"),
        Index("ix_referral_clicks_shop_time", "shop_id", "clicked_at"),  # the dashboard
        UniqueConstraint(
            "advocate_id", "day", "fingerprint", name="uq_referral_clicks_visitor_day"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    advocate_id: Mapped[int] = mapped_column(ForeignKey("advocates.id", ondelete="CASCADE"))
    clicked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    day: Mapped[date | None] = mapped_column(Date)
    fingerprint: Mapped[str | None] = mapped_column(String(32))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)
    visitor_id: Mapped[str | None] = mapped_column(String(64))
    # The share whose link was followed (`storefront.share.share_token`), when it was one.
    share_token: Mapped[str | None] = mapped_column(String(16))


class Referral(TimestampMixin, Base):
    """One friend's order attributed to one advocate. Unique per order: however often the
    order arrives, it makes at most one referral (and so one reward)."""

    __tablename__ = "referrals"
    __table_args__ = (
        UniqueConstraint("shop_id", "order_shopify_id"),
        Index("ix_referrals_shop_advocate", "shop_id", "advocate_id"),
        Index("ix_referrals_shop_friend", "shop_id", "friend_customer_id"),
        Index("ix_referrals_shop_status_approve_after", "shop_id", "status", "approve_after"),
        # The Home dashboard's periods (admin/dashboard.py).
        Index("ix_referrals_shop_created", "shop_id", "created_at"),
        Index("ix_referrals_shop_completed", "shop_id", "completed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    advocate_id: Mapped[int] = mapped_column(ForeignKey("advocates.id", ondelete="CASCADE"))
    friend_customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL")
    )
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    order_shopify_id: Mapped[int] = mapped_column(BigInteger)
    # manual | discount_code | note_attribute | landing_site
    attribution: Mapped[str] = mapped_column(String(16))
    attribution_evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # pending | completed | blocked | voided
    status: Mapped[str] = mapped_column(String(16), default="pending")
    status_reason: Mapped[str | None] = mapped_column(Text)
    terms: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    program_version: Mapped[int] = mapped_column(Integer)
    order_total_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    # When the reward may be issued (trigger met + approval delay); None: not yet known.
    approve_after: Mapped[datetime | None] = mapped_column(UTCDateTime())
    needs_manual_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    # Held for review by a rule's "flag" (a grey area): the referral stays pending and issues
    # no reward until staff approve it. Set once, kept after the review for the history.
    flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    flag_reason: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReferralTransition(Base):
    """Every status change of a referral: who or what caused it, and why."""

    __tablename__ = "referral_transitions"
    __table_args__ = (
        Index("ix_referral_transitions_referral", "referral_id"),
        # Reports by cause, keyset-paged by referral (existing customers who used a friend code).
        Index("ix_referral_transitions_shop_cause", "shop_id", "cause", "referral_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id", ondelete="CASCADE"))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(255))  # system | staff:<sub> | shopify
    cause: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FraudCheck(Base):
    """One rule's decision on one referral, with the evidence it compared."""

    __tablename__ = "fraud_checks"
    __table_args__ = (Index("ix_fraud_checks_referral", "referral_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id", ondelete="CASCADE"))
    evaluation: Mapped[int] = mapped_column(Integer, default=1)
    rule_id: Mapped[str] = mapped_column(String(64))
    rule_version: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(8))  # pass | flag | block
    explanation: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Reward(TimestampMixin, Base):
    """The advocate's reward for one referral (unique per referral and advocate).

    pending (to be created in Shopify) -> issued (a live code, not used yet) -> used (an
    order redeemed it) / unused (expired without use) / voided (its referral was voided; an
    unused code is deactivated in Shopify).
    """

    __tablename__ = "rewards"
    __table_args__ = (
        # One reward per referral and advocate: a duplicate can never make a second one, and a
        # referral reassigned by staff gives its new advocate their own.
        UniqueConstraint(
            "shop_id", "referral_id", "advocate_id", name="uq_rewards_shop_id_referral_id"
        ),
        UniqueConstraint("shop_id", "code", name="uq_rewards_shop_id_code"),
        Index("ix_rewards_shop_advocate", "shop_id", "advocate_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id", ondelete="CASCADE"))
    advocate_id: Mapped[int] = mapped_column(ForeignKey("advocates.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    discount_gid: Mapped[str | None] = mapped_column(String(255))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_order_shopify_id: Mapped[int | None] = mapped_column(BigInteger)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    void_reason: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)


class BlocklistEntry(TimestampMixin, Base):
    """An email pattern (`*` wildcards), a phone (E.164), or an IP address / CIDR range."""

    __tablename__ = "blocklist_entries"
    __table_args__ = (UniqueConstraint("shop_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))  # email | phone | ip
    value: Mapped[str] = mapped_column(String(320))
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(255))


class AuditEntry(Base):
    """A staff or system action: who, when, what, why, and the state before and after."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_shop_at", "shop_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int | None] = mapped_column(Integer)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The entry that undid this one (`audit_undo`); set once, so an action is undone once.
    undone_by_id: Mapped[int | None] = mapped_column(Integer)


class AdvocateVisit(Base):
    """A device (IP and browser) an advocate used on the storefront referral page, for the
    self-referral rule ("same IP and user agent as the advocate's own visits or orders")."""

    __tablename__ = "advocate_visits"
    __table_args__ = (
        UniqueConstraint("advocate_id", "ip", "user_agent", name="uq_advocate_visits_device"),
        Index("ix_advocate_visits_shop_advocate", "shop_id", "advocate_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    advocate_id: Mapped[int] = mapped_column(ForeignKey("advocates.id", ondelete="CASCADE"))
    ip: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(500))
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

"""Read models for the Referrals and Advocates pages: filtered, searched, keyset-paged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from shopify_app.models import (
    Advocate,
    Customer,
    Order,
    Referral,
    ReferralTransition,
    Reward,
    Shop,
)

from .codes import normalise_code

STATUS_FILTERS = {
    "all": None,
    "pending": ("pending",),
    "approval": ("pending",),  # waiting for staff (manual approval, or flagged)
    "flagged": ("pending",),  # held for review by a rule's flag (the review queue)
    "completed": ("completed",),
    "blocked": ("blocked",),
    "voided": ("voided",),
}
PAGE_SIZE = 50


@dataclass(frozen=True)
class ReferralRow:
    referral: Referral
    advocate: Advocate
    advocate_customer: Customer | None
    friend: Customer | None
    order_name: str | None
    reward: Reward | None


def list_referrals(
    session: Session,
    shop: Shop,
    *,
    status: str = "all",
    search: str = "",
    before_id: int | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[ReferralRow], int | None]:
    """Newest first; returns (rows, id to continue before) — keyset, never OFFSET."""
    advocate_customer, friend = aliased(Customer), aliased(Customer)
    query = (
        select(Referral, Advocate, advocate_customer, friend, Order.name, Reward)
        .join(Advocate, Advocate.id == Referral.advocate_id)
        .outerjoin(advocate_customer, advocate_customer.id == Advocate.customer_id)
        .outerjoin(friend, friend.id == Referral.friend_customer_id)
        .outerjoin(Order, Order.id == Referral.order_id)
        .outerjoin(
            Reward,
            (Reward.referral_id == Referral.id) & (Reward.advocate_id == Referral.advocate_id),
        )
        .where(Referral.shop_id == shop.id)
        .order_by(Referral.id.desc())
        .limit(limit + 1)
    )
    statuses = STATUS_FILTERS.get(status)
    if statuses:
        query = query.where(Referral.status.in_(statuses))
    if status == "approval":
        query = query.where(Referral.needs_manual_approval.is_(True))
    if status == "flagged":
        query = query.where(Referral.flagged_at.is_not(None))
    text = search.strip()
    if text:
        code = normalise_code(text)
        needle = f"%{text.lower()}%"
        conditions = [
            func.lower(advocate_customer.email).like(needle),
            func.lower(friend.email).like(needle),
            Order.name == (text if text.startswith("#") else f"#{text}"),
        ]
        if code:
            conditions += [Advocate.code == code, Reward.code == code]
        query = query.where(or_(*conditions))
    if before_id is not None:
        query = query.where(Referral.id < before_id)
    rows = [ReferralRow(*row) for row in session.execute(query).all()]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].referral.id if more and rows else None)


def status_counts(session: Session, shop: Shop) -> dict[str, int]:
    counts = dict(
        session.execute(
            select(Referral.status, func.count())
            .where(Referral.shop_id == shop.id)
            .group_by(Referral.status)
        ).all()
    )
    held = session.execute(
        select(
            func.count().filter(Referral.needs_manual_approval.is_(True)),
            func.count().filter(Referral.flagged_at.is_not(None)),
        ).where(Referral.shop_id == shop.id, Referral.status == "pending")
    ).one()
    counts["approval"], counts["flagged"] = held[0] or 0, held[1] or 0
    counts["all"] = sum(v for k, v in counts.items() if k not in ("approval", "flagged"))
    return counts


def referral_in_shop(session: Session, shop: Shop, referral_id: int) -> Referral | None:
    return session.scalar(
        select(Referral).where(Referral.id == referral_id, Referral.shop_id == shop.id)
    )


def list_advocates(
    session: Session, shop: Shop, *, before_id: int | None = None, limit: int = PAGE_SIZE
) -> tuple[list[tuple[Advocate, Customer]], int | None]:
    query = (
        select(Advocate, Customer)
        .join(Customer, Customer.id == Advocate.customer_id)
        .where(Advocate.shop_id == shop.id)
        .order_by(Advocate.id.desc())
        .limit(limit + 1)
    )
    if before_id is not None:
        query = query.where(Advocate.id < before_id)
    rows = [(a, c) for a, c in session.execute(query).all()]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1][0].id if more and rows else None)


EXISTING_CUSTOMER_CAUSE = "rule:existing_customer"


@dataclass(frozen=True)
class ExistingCustomerUse:
    """An existing customer's order with a friend code: it made no referral (blocked by the
    `existing_customer` rule, the reason kept) though Shopify's checkout gave the discount."""

    referral: Referral
    friend: Customer | None
    order_name: str | None
    order_email: str | None
    ordered_at: datetime | None
    discount_minor: int
    advocate: Advocate
    advocate_customer: Customer | None
    reason: str | None

    @property
    def code(self) -> str:
        return str((self.referral.attribution_evidence or {}).get("code") or self.advocate.code)


def _existing_customer_uses(shop: Shop):
    """Referrals blocked at creation because the friend was an existing customer, whose order
    used the advocate's code as its discount code (the ones the shop paid a discount for)."""
    return (
        select(ReferralTransition.referral_id)
        .join(Referral, Referral.id == ReferralTransition.referral_id)
        .where(
            ReferralTransition.shop_id == shop.id,
            ReferralTransition.cause == EXISTING_CUSTOMER_CAUSE,
            Referral.shop_id == shop.id,
            Referral.attribution == "discount_code",
        )
    )


def count_existing_customer_uses(session: Session, shop: Shop) -> int:
    uses = _existing_customer_uses(shop).subquery()
    return session.scalar(select(func.count()).select_from(uses)) or 0


def list_existing_customer_uses(
    session: Session, shop: Shop, *, before_id: int | None = None, limit: int = PAGE_SIZE
) -> tuple[list[ExistingCustomerUse], int | None]:
    """Newest first, keyset-paged by referral id (index on (shop, cause, referral))."""
    advocate_customer, friend = aliased(Customer), aliased(Customer)
    ids = _existing_customer_uses(shop).order_by(ReferralTransition.referral_id.desc())
    if before_id is not None:
        ids = ids.where(ReferralTransition.referral_id < before_id)
    page = ids.limit(limit + 1).subquery()
    query = (
        select(
            Referral,
            friend,
            Order.name,
            Order.email,
            func.coalesce(Order.processed_at, Order.shopify_created_at, Referral.created_at),
            func.coalesce(Order.total_discounts_minor, 0),
            Advocate,
            advocate_customer,
            ReferralTransition.reason,
        )
        .join(page, page.c.referral_id == Referral.id)
        .join(Advocate, Advocate.id == Referral.advocate_id)
        .join(
            ReferralTransition,
            (ReferralTransition.referral_id == Referral.id)
            & (ReferralTransition.cause == EXISTING_CUSTOMER_CAUSE),
        )
        .outerjoin(advocate_customer, advocate_customer.id == Advocate.customer_id)
        .outerjoin(friend, friend.id == Referral.friend_customer_id)
        .outerjoin(Order, Order.id == Referral.order_id)
        .where(Referral.shop_id == shop.id)
        .order_by(Referral.id.desc())
    )
    rows = [ExistingCustomerUse(*row) for row in session.execute(query).all()]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].referral.id if more and rows else None)

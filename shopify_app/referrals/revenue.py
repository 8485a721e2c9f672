"""Revenue metrics (B9), as the customers-page article defines them, per customer:

- successful referrals: the advocate's referrals that are Completed;
- total referees: distinct friends of the advocate's referrals that were not blocked;
- referral revenue: what the advocate's referees paid on the orders that made those completed
  referrals (the orders bought with the advocate's code);
- referrer revenue: what the advocate paid on orders that redeemed rewards they earned;
- referee revenue: what the customer, as a friend, paid on orders that used a referral
  discount and completed a referral.

Money is each order's total net of its refunds (a partial refund lowers it, a full refund makes
it 0). Stats are refreshed for the customers an event touches, in the transaction of the event
(`refresh`), and can be recomputed for a whole shop to find drift (`recompute_shop`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from shopify_app.models import Advocate, Customer, Order, Referral, Reward, Shop, utcnow


@dataclass(frozen=True)
class Stats:
    successful_referrals: int = 0
    total_referees: int = 0
    referral_revenue_minor: int = 0
    referrer_revenue_minor: int = 0
    referee_revenue_minor: int = 0

    FIELDS = (
        "successful_referrals",
        "total_referees",
        "referral_revenue_minor",
        "referrer_revenue_minor",
        "referee_revenue_minor",
    )


def _net():
    return func.coalesce(func.sum(Order.total_minor - Order.refunded_minor), 0)


def _one(session: Session, query) -> int:
    return int(session.scalar(query) or 0)


def _completed_referral_revenue(session: Session, shop: Shop, *conditions) -> int:
    """Net of the orders that made completed referrals, among those matching `conditions`."""
    return _one(
        session,
        select(_net())
        .select_from(Referral)
        .join(Order, Order.id == Referral.order_id)
        .where(Referral.shop_id == shop.id, Referral.status == "completed", *conditions),
    )


def compute(session: Session, shop: Shop, customer_id: int) -> Stats:
    """The customer's stats from the source rows (referrals, orders, rewards)."""
    referee_revenue = _completed_referral_revenue(
        session,
        shop,
        Referral.friend_customer_id == customer_id,
        Referral.attribution != "manual",
    )
    advocate_id = session.scalar(
        select(Advocate.id).where(Advocate.shop_id == shop.id, Advocate.customer_id == customer_id)
    )
    if advocate_id is None:
        return Stats(referee_revenue_minor=referee_revenue)
    mine = (Referral.shop_id == shop.id, Referral.advocate_id == advocate_id)
    successful = _one(
        session,
        select(func.count()).select_from(Referral).where(*mine, Referral.status == "completed"),
    )
    referees = _one(
        session,
        select(func.count(distinct(Referral.friend_customer_id))).where(
            *mine, Referral.status != "blocked"
        ),
    )
    referrer_revenue = _one(
        session,
        select(_net())
        .select_from(Reward)
        .join(
            Order,
            (Order.shop_id == Reward.shop_id) & (Order.shopify_id == Reward.used_order_shopify_id),
        )
        .where(
            Reward.shop_id == shop.id, Reward.advocate_id == advocate_id, Reward.status == "used"
        ),
    )
    return Stats(
        successful_referrals=successful,
        total_referees=referees,
        referral_revenue_minor=_completed_referral_revenue(
            session, shop, Referral.advocate_id == advocate_id
        ),
        referrer_revenue_minor=referrer_revenue,
        referee_revenue_minor=referee_revenue,
    )


def refresh(session: Session, shop: Shop, customer_ids: Iterable[int | None]) -> None:
    """Bring the stats of these customers up to date (called where their numbers change)."""
    for customer_id in sorted({c for c in customer_ids if c is not None}):
        customer = session.get(Customer, customer_id)
        if customer is None or customer.shop_id != shop.id:
            continue
        stats = compute(session, shop, customer_id)
        if stats != stats_of(customer):
            for field in Stats.FIELDS:
                setattr(customer, field, getattr(stats, field))
        customer.stats_updated_at = utcnow()


def stats_of(customer: Customer) -> Stats:
    return Stats(*(getattr(customer, f) for f in Stats.FIELDS))


def stats_for(session: Session, shop: Shop, customer_id: int) -> Stats:
    customer = session.get(Customer, customer_id)
    if customer is None or customer.shop_id != shop.id:
        return Stats()
    return stats_of(customer)


@dataclass(frozen=True)
class Drift:
    customer_id: int
    stored: Stats
    computed: Stats


def recompute_shop(session: Session, shop: Shop, *, repair: bool = False) -> list[Drift]:
    """Compute every involved customer's stats from scratch; return where the stored ones
    differ (and fix them with `repair`)."""
    involved = set(session.scalars(select(Advocate.customer_id).where(Advocate.shop_id == shop.id)))
    involved |= {
        c
        for c in session.scalars(
            select(Referral.friend_customer_id).where(Referral.shop_id == shop.id)
        )
        if c is not None
    }
    involved |= set(
        session.scalars(
            select(Customer.id).where(
                Customer.shop_id == shop.id, Customer.stats_updated_at.is_not(None)
            )
        )
    )
    drift = []
    for customer_id in sorted(involved):
        stored, computed = (
            stats_for(session, shop, customer_id),
            compute(session, shop, customer_id),
        )
        if stored != computed:
            drift.append(Drift(customer_id, stored, computed))
    if repair and drift:
        refresh(session, shop, [d.customer_id for d in drift])
    return drift

"""The checks on a new referral: `fraud_context` reads from the shop's rows everything the
rules compare, and `evaluate_rules` runs the pure rules of `fraud` on it and stores each
decision with its evidence."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from shopify_app.models import (
    Advocate,
    AdvocateVisit,
    Customer,
    FraudCheck,
    Order,
    Referral,
    Shop,
    utcnow,
)
from shopify_app.values import normalize_email

from .blocklist import entries_for, matches
from .fraud import FraudContext, Person, RuleResult, evaluate

COUNTED = ("pending", "completed")  # what caps and "already referred" count


def fraud_context(session: Session, shop: Shop, referral: Referral, order: Order) -> FraudContext:
    """Everything the rules compare, read from the shop's rows."""
    advocate = session.get(Advocate, referral.advocate_id)
    assert advocate is not None
    advocate_customer = session.get(Customer, advocate.customer_id)
    friend_customer = (
        session.get(Customer, order.customer_id) if order.customer_id is not None else None
    )
    address = order.shipping_address or {}
    friend = Person(
        customer_id=order.customer_id,
        email=order.email or (friend_customer.email if friend_customer else None),
        phone=(friend_customer.phone if friend_customer else None) or address.get("phone"),
        address=order.shipping_address,
        ip=order.client_ip,
        user_agent=order.user_agent,
    )
    advocate_person = Person(
        customer_id=advocate.customer_id,
        email=advocate_customer.email if advocate_customer else None,
        phone=advocate_customer.phone if advocate_customer else None,
    )
    own_orders = session.execute(
        select(Order.client_ip, Order.user_agent, Order.shipping_address)
        .where(
            Order.shop_id == shop.id,
            Order.customer_id == advocate.customer_id,
            Order.id != order.id,
        )
        .order_by(Order.id.desc())
        .limit(200)
    ).all()
    visits = [
        (ip, ua)
        for ip, ua in session.execute(
            select(AdvocateVisit.ip, AdvocateVisit.user_agent)
            .where(AdvocateVisit.shop_id == shop.id, AdvocateVisit.advocate_id == advocate.id)
            .order_by(AdvocateVisit.last_seen_at.desc())
            .limit(50)
        )
    ]
    prior, prior_by_email = _earlier_orders(session, shop, order, friend.email)
    other_referrals = []
    if order.customer_id is not None:
        other_referrals = [
            {"referral_id": rid, "advocate_id": aid, "status": status}
            for rid, aid, status in session.execute(
                select(Referral.id, Referral.advocate_id, Referral.status).where(
                    Referral.shop_id == shop.id,
                    Referral.friend_customer_id == order.customer_id,
                    Referral.id != referral.id,
                    Referral.status.in_(COUNTED),
                )
            )
        ]
    reverse = None
    if order.customer_id is not None:
        their = aliased(Advocate)
        row = session.execute(
            select(Referral.id, Referral.status)
            .join(their, their.id == Referral.advocate_id)
            .where(
                Referral.shop_id == shop.id,
                their.customer_id == order.customer_id,
                Referral.friend_customer_id == advocate.customer_id,
                Referral.status.in_(COUNTED),
            )
            .limit(1)
        ).first()
        if row is not None:
            reverse = {"referral_id": row[0], "status": row[1]}
    day_start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    counted = and_(
        Referral.shop_id == shop.id,
        Referral.advocate_id == advocate.id,
        Referral.id != referral.id,
        Referral.status.in_(COUNTED),
    )
    total = session.scalar(select(func.count()).select_from(Referral).where(counted)) or 0
    today = (
        session.scalar(
            select(func.count())
            .select_from(Referral)
            .where(counted, Referral.created_at >= day_start)
        )
        or 0
    )
    terms = referral.terms
    return FraudContext(
        advocate=advocate_person,
        friend=friend,
        advocate_devices=[(ip, ua) for ip, ua, _a in own_orders] + visits,
        advocate_addresses=[a for _ip, _ua, a in own_orders if a],
        new_customers_only=bool(terms.get("friend_new_customers_only", True)),
        friend_prior_orders=prior,
        friend_prior_orders_by_email=prior_by_email,
        friend_other_referrals=other_referrals,
        reverse_referral=reverse,
        blocklist_hits=matches(
            entries_for(session, shop),
            emails=[friend.email, friend_customer.email if friend_customer else None],
            phones=[friend.phone],
            ips=[friend.ip],
        ),
        cap_per_day=terms.get("cap_per_day"),
        cap_total=terms.get("cap_total"),
        advocate_referrals_today=today,
        advocate_referrals_total=total,
    )


def _earlier_orders(
    session: Session, shop: Shop, order: Order, email: str | None
) -> tuple[list[str], list[str]]:
    """Names of the orders placed before `order` (not cancelled): the friend's own, and those
    of other customer records with the friend's email (a guest checkout under an address the
    shop already knows). Both lookups are index ranges: orders by (shop, customer), customers
    by (shop, normalised email)."""
    earlier = [Order.shop_id == shop.id, Order.id != order.id, Order.cancelled_at.is_(None)]
    if order.shopify_created_at is not None:
        earlier.append(
            or_(
                Order.shopify_created_at.is_(None),
                Order.shopify_created_at < order.shopify_created_at,
            )
        )
    own: list[str] = []
    if order.customer_id is not None:
        own = list(
            session.scalars(
                select(Order.name)
                .where(*earlier, Order.customer_id == order.customer_id)
                .order_by(Order.id)
                .limit(50)
            )
        )
    normalised = normalize_email(email)
    if normalised is None:
        return own, []
    others = select(Customer.id).where(
        Customer.shop_id == shop.id,
        Customer.email_normalized == normalised,
        Customer.id != order.customer_id if order.customer_id is not None else true(),
    )
    by_email = list(
        session.scalars(
            select(Order.name)
            .where(*earlier, Order.customer_id.in_(others))
            .order_by(Order.id)
            .limit(50)
        )
    )
    return own, by_email


def evaluate_rules(
    session: Session, shop: Shop, referral: Referral, order: Order
) -> list[RuleResult]:
    """Run every rule and store each decision (a new evaluation number each time)."""
    results = evaluate(fraud_context(session, shop, referral, order))
    previous = session.scalar(
        select(func.max(FraudCheck.evaluation)).where(FraudCheck.referral_id == referral.id)
    )
    evaluation = (previous or 0) + 1
    now = utcnow()
    for result in results:
        session.add(
            FraudCheck(
                shop_id=shop.id,
                referral_id=referral.id,
                evaluation=evaluation,
                rule_id=result.rule_id,
                rule_version=result.version,
                outcome=result.outcome,
                explanation=result.explanation,
                evidence=result.evidence,
                evaluated_at=now,
            )
        )
    return results

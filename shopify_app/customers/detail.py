"""What the customer detail (C4) shows, in four statements, and its hub header's orders.

The portal's person view (`portal.details.person_view_of`) reads more: the person's referrals
as a friend, their orders' names, every email. The detail page shows none of that, so it
reads only its cards: the customer with their advocate row, their latest referrals with each
friend, their latest rewards and their latest invitations.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy import String, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session, aliased

from shopify_app.db import int_param
from shopify_app.models import Advocate, Customer, EmailMessage, Order, Referral, Reward, Shop

ACTIVITY_LIMIT = 100  # referrals and rewards listed; the numbers above them count them all
INVITATIONS_SHOWN = 5
ORDERS_SHOWN = 5  # the hub header's order history; "View in Shopify" has them all
# Built once: an alias of the wide customers table costs milliseconds to set up per call.
_Friend = aliased(Customer, name="friend")


@dataclass
class CustomerDetail:
    customer: Customer
    advocate: Advocate | None
    referrals: list[Referral]  # as the advocate, latest first
    friends: dict[int, Customer]  # the friend of each referral that names one, by id
    rewards: list[Reward]  # latest first
    invitations: list[EmailMessage]  # latest first


@functools.cache
def _customer_statement():
    return (
        select(Customer, Advocate)
        .outerjoin(
            Advocate,
            and_(Advocate.shop_id == int_param("shop_id"), Advocate.customer_id == Customer.id),
        )
        .where(Customer.shop_id == int_param("shop_id"), Customer.id == int_param("customer_id"))
    )


@functools.lru_cache(maxsize=8)
def _referrals_statement(limit: int):
    return (
        select(Referral, _Friend)
        .outerjoin(
            _Friend,
            and_(
                _Friend.shop_id == int_param("shop_id"), _Friend.id == Referral.friend_customer_id
            ),
        )
        .where(
            Referral.shop_id == int_param("shop_id"),
            Referral.advocate_id == int_param("advocate_id"),
        )
        .order_by(Referral.id.desc())
        .limit(limit)
    )


@functools.lru_cache(maxsize=8)
def _rewards_statement(limit: int):
    return (
        select(Reward)
        .where(
            Reward.shop_id == int_param("shop_id"), Reward.advocate_id == int_param("advocate_id")
        )
        .order_by(Reward.id.desc())
        .limit(limit)
    )


@functools.lru_cache(maxsize=8)
def _invitations_statement(by_address: bool, limit: int):
    """Invitations sent to the customer, or (when they have an email) to their address."""
    addressed = [EmailMessage.customer_id == int_param("customer_id")]
    if by_address:
        addressed.append(EmailMessage.to_address == bindparam("address", type_=String))
    return (
        select(EmailMessage)
        .where(
            EmailMessage.shop_id == int_param("shop_id"),
            EmailMessage.kind == "invitation",
            or_(*addressed),
        )
        .order_by(EmailMessage.id.desc())
        .limit(limit)
    )


def customer_detail(session: Session, shop: Shop, customer_id: int) -> CustomerDetail | None:
    """The shop's customer `customer_id` and their cards; None if the shop has no such id.
    The statements are built once each, with bind parameters."""
    ids = {"shop_id": shop.id, "customer_id": customer_id}
    row = session.execute(_customer_statement(), ids).one_or_none()
    if row is None:
        return None
    customer, advocate = row
    referrals: list[Referral] = []
    friends: dict[int, Customer] = {}
    rewards: list[Reward] = []
    if advocate is not None:
        ids["advocate_id"] = advocate.id
        for referral, friend in session.execute(_referrals_statement(ACTIVITY_LIMIT), ids):
            referrals.append(referral)
            if friend is not None:
                friends[friend.id] = friend
        rewards = list(session.scalars(_rewards_statement(ACTIVITY_LIMIT), ids))
    if customer.email:
        ids["address"] = customer.email.lower()
    invitations = list(
        session.scalars(_invitations_statement(bool(customer.email), INVITATIONS_SHOWN), ids)
    )
    return CustomerDetail(customer, advocate, referrals, friends, rewards, invitations)


@dataclass
class OrderSummary:
    """The hub header's orders: how many, spent per currency (totals less refunds, cancelled
    orders left out), and the latest few."""

    count: int
    spent: list[tuple[int, str]]  # (minor units, currency), largest first
    latest: list[Order]


@functools.cache
def _spent_statement():
    return (
        select(
            func.count(Order.id),
            func.sum(Order.total_minor - Order.refunded_minor).filter(Order.cancelled_at.is_(None)),
            Order.currency,
        )
        .where(Order.shop_id == int_param("shop_id"), Order.customer_id == int_param("customer_id"))
        .group_by(Order.currency)
    )


@functools.lru_cache(maxsize=4)
def _latest_orders_statement(limit: int):
    placed = func.coalesce(Order.processed_at, Order.shopify_created_at)
    return (
        select(Order)
        .where(Order.shop_id == int_param("shop_id"), Order.customer_id == int_param("customer_id"))
        .order_by(placed.desc(), Order.id.desc())
        .limit(limit)
    )


def order_summary(session: Session, shop: Shop, customer_id: int) -> OrderSummary:
    """The shop's customer's orders for the hub header, over the (shop, customer) index."""
    ids = {"shop_id": shop.id, "customer_id": customer_id}
    count, spent = 0, []
    for n, minor, currency in session.execute(_spent_statement(), ids):
        count += n
        spent.append((int(minor or 0), currency))
    spent.sort(reverse=True)
    latest = list(session.scalars(_latest_orders_statement(ORDERS_SHOWN), ids)) if count else []
    return OrderSummary(count, spent, latest)

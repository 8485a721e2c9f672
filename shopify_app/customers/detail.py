"""What the customer detail (C4) shows, in four statements.

The portal's person view (`portal.details.person_view_of`) reads more: the person's referrals
as a friend, their orders' names, every email. The detail page shows none of that, so it
reads only its cards: the customer with their advocate row, their latest referrals with each
friend, their latest rewards and their latest invitations.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, aliased

from shopify_app.models import Advocate, Customer, EmailMessage, Referral, Reward, Shop

ACTIVITY_LIMIT = 100  # referrals and rewards listed; the numbers above them count them all
INVITATIONS_SHOWN = 5
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


def customer_detail(session: Session, shop: Shop, customer_id: int) -> CustomerDetail | None:
    """The shop's customer `customer_id` and their cards; None if the shop has no such id."""
    row = session.execute(
        select(Customer, Advocate)
        .outerjoin(Advocate, and_(Advocate.shop_id == shop.id, Advocate.customer_id == Customer.id))
        .where(Customer.shop_id == shop.id, Customer.id == customer_id)
    ).one_or_none()
    if row is None:
        return None
    customer, advocate = row
    referrals: list[Referral] = []
    friends: dict[int, Customer] = {}
    rewards: list[Reward] = []
    if advocate is not None:
        for referral, person in session.execute(
            select(Referral, _Friend)
            .outerjoin(
                _Friend,
                and_(_Friend.shop_id == shop.id, _Friend.id == Referral.friend_customer_id),
            )
            .where(Referral.shop_id == shop.id, Referral.advocate_id == advocate.id)
            .order_by(Referral.id.desc())
            .limit(ACTIVITY_LIMIT)
        ):
            referrals.append(referral)
            if person is not None:
                friends[person.id] = person
        rewards = list(
            session.scalars(
                select(Reward)
                .where(Reward.shop_id == shop.id, Reward.advocate_id == advocate.id)
                .order_by(Reward.id.desc())
                .limit(ACTIVITY_LIMIT)
            )
        )
    addressed = [EmailMessage.customer_id == customer.id]
    if customer.email:
        addressed.append(EmailMessage.to_address == customer.email.lower())
    invitations = list(
        session.scalars(
            select(EmailMessage)
            .where(
                EmailMessage.shop_id == shop.id,
                EmailMessage.kind == "invitation",
                or_(*addressed),
            )
            .order_by(EmailMessage.id.desc())
            .limit(INVITATIONS_SHOWN)
        )
    )
    return CustomerDetail(customer, advocate, referrals, friends, rewards, invitations)

"""Person lookup (D1): one box that finds customers by email, name, phone, order number,
referral code or reward code, and says what matched."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from shopify_app.models import (
    Advocate,
    Customer,
    EmailMessage,
    Order,
    Referral,
    Reward,
    Shop,
)
from shopify_app.referrals.codes import normalise_code
from shopify_app.referrals.identity import canonical_phone
from shopify_app.values import normalize_email

LIMIT = 25


@dataclass
class Results:
    people: list[tuple[Customer, str]] = field(default_factory=list)  # (customer, what matched)
    referrals: list[tuple[Referral, str]] = field(default_factory=list)
    rewards: list[tuple[Reward, str]] = field(default_factory=list)
    # Emails the app sent to the address searched (D5): a friend who is not a customer is
    # found by the share they were sent. Each with the advocate who sent it, if any.
    emails: list[tuple[EmailMessage, Advocate | None, Customer | None]] = field(
        default_factory=list
    )

    @property
    def empty(self) -> bool:
        return not (self.people or self.referrals or self.rewards or self.emails)


def search(session: Session, shop: Shop, query: str) -> Results:
    text = (query or "").strip()[:200]
    found = Results()
    if not text:
        return found
    seen: set[int] = set()

    def person(customer: Customer | None, why: str) -> None:
        if customer is not None and customer.id not in seen:
            seen.add(customer.id)
            found.people.append((customer, why))

    if (email := normalize_email(text)) is not None:
        for customer in session.scalars(
            select(Customer)
            .where(Customer.shop_id == shop.id, Customer.email_normalized == email)
            .limit(LIMIT)
        ):
            person(customer, _("email %(email)s", email=customer.email))
        found.emails = emails_to(session, shop, email)
    if (code := normalise_code(text)) is not None:
        advocate = session.scalar(
            select(Advocate).where(Advocate.shop_id == shop.id, Advocate.code == code)
        )
        if advocate is not None:
            person(
                session.get(Customer, advocate.customer_id), _("referral code %(code)s", code=code)
            )
        reward = session.scalar(
            select(Reward).where(Reward.shop_id == shop.id, Reward.code == code)
        )
        if reward is not None:
            found.rewards.append((reward, _("reward code %(code)s", code=code)))
            owner = session.get(Advocate, reward.advocate_id)
            person(
                session.get(Customer, owner.customer_id) if owner else None,
                _("reward %(code)s", code=code),
            )
    name = text if text.startswith("#") else f"#{text}"
    if name[1:].isdigit():
        order = session.scalar(select(Order).where(Order.shop_id == shop.id, Order.name == name))
        if order is not None:
            referral = session.scalar(
                select(Referral).where(
                    Referral.shop_id == shop.id, Referral.order_shopify_id == order.shopify_id
                )
            )
            if referral is not None:
                found.referrals.append((referral, _("order %(order)s", order=name)))
            if order.customer_id is not None:
                person(session.get(Customer, order.customer_id), _("order %(order)s", order=name))
    if (phone := canonical_phone(text)) is not None:
        for customer in session.scalars(
            select(Customer)
            .where(Customer.shop_id == shop.id, Customer.phone == phone)
            .limit(LIMIT)
        ):
            person(customer, _("phone %(phone)s", phone=phone))
    if "@" not in text and len(text) >= 2:
        needle = f"%{text.lower()}%"
        full_name = func.lower(
            func.coalesce(Customer.first_name, "") + " " + func.coalesce(Customer.last_name, "")
        )
        for customer in session.scalars(
            select(Customer)
            .where(
                Customer.shop_id == shop.id,
                or_(full_name.like(needle), func.lower(Customer.email).like(needle)),
            )
            .order_by(Customer.id)
            .limit(LIMIT)
        ):
            person(customer, _("name or email contains “%(text)s”", text=text))
    return found


def emails_to(
    session: Session, shop: Shop, address: str
) -> list[tuple[EmailMessage, Advocate | None, Customer | None]]:
    """Every email the app sent to `address` (lowercased), newest first, with the advocate
    who shared it and that advocate's customer (index `ix_email_messages_shop_to`)."""
    rows = session.execute(
        select(EmailMessage, Advocate, Customer)
        .outerjoin(
            Advocate,
            (Advocate.id == EmailMessage.advocate_id) & (Advocate.shop_id == shop.id),
        )
        .outerjoin(Customer, Customer.id == Advocate.customer_id)
        .where(EmailMessage.shop_id == shop.id, EmailMessage.to_address == address)
        .order_by(EmailMessage.id.desc())
        .limit(LIMIT)
    ).all()
    return [(message, advocate, customer) for message, advocate, customer in rows]

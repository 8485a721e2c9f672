"""The names behind the ids a page shows (customers, advocates), loaded in two queries, for
`wording`'s sentences and formatted values."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app.models import Advocate, Customer, Shop
from shopify_app.referrals.program import shop_currency
from shopify_app.wording import Names


def load(
    session: Session,
    shop: Shop,
    *,
    customer_ids: Iterable[int] = (),
    advocate_ids: Iterable[int] = (),
) -> Names:
    advocate_ids = {a for a in advocate_ids if isinstance(a, int)}
    customer_ids = {c for c in customer_ids if isinstance(c, int)}
    advocate_customers = (
        dict(
            session.execute(
                select(Advocate.id, Advocate.customer_id).where(
                    Advocate.shop_id == shop.id, Advocate.id.in_(advocate_ids)
                )
            ).all()
        )
        if advocate_ids
        else {}
    )
    customer_ids |= set(advocate_customers.values())
    customers = (
        {
            c.id: c.display_name
            for c in session.scalars(
                select(Customer).where(Customer.shop_id == shop.id, Customer.id.in_(customer_ids))
            )
        }
        if customer_ids
        else {}
    )
    return Names(
        customers=customers,
        advocates={a: (c, customers[c]) for a, c in advocate_customers.items() if c in customers},
        currency=shop_currency(shop),
    )

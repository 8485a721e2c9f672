"""Whether a person withdrew email marketing consent (unsubscribed in Shopify, or staff
unsubscribed them on the customer page, `customers.unsubscribe`): the app then sends them
none of its program emails, invitations, shares or reward notices.

Asked when a message is queued and again when the job sends it. The person is the message's
customer, or any customer of the shop with the recipient's address (a share goes to an
address, which may be a customer's).
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from shopify_app.models import Customer
from shopify_app.values import normalize_email

UNSUBSCRIBED = "unsubscribed"
REASON = "the customer unsubscribed from email marketing"


def unsubscribed_reason(
    session: Session, shop_id: int, *, customer_id: int | None, address: str | None
) -> str | None:
    """`REASON` if the customer `customer_id`, or a customer of the shop with `address`, is
    unsubscribed from email marketing; None otherwise. One indexed read."""
    who = []
    if customer_id is not None:
        who.append(Customer.id == customer_id)
    normalized = normalize_email(address)
    if normalized:
        who.append(Customer.email_normalized == normalized)
    if not who:
        return None
    found = session.scalar(
        select(Customer.id)
        .where(
            Customer.shop_id == shop_id,
            Customer.email_marketing_state == UNSUBSCRIBED,
            or_(*who),
        )
        .limit(1)
    )
    return REASON if found is not None else None


def unsubscribed_among(session: Session, shop_id: int, addresses: list[str]) -> set[str]:
    """Those of `addresses` (normalised) that belong to a customer of the shop unsubscribed
    from email marketing."""
    wanted = {a for a in (normalize_email(x) for x in addresses) if a}
    if not wanted:
        return set()
    return set(
        session.scalars(
            select(Customer.email_normalized).where(
                Customer.shop_id == shop_id,
                Customer.email_normalized.in_(sorted(wanted)),
                Customer.email_marketing_state == UNSUBSCRIBED,
            )
        )
    )

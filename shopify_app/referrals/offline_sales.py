"""A referral for a sale Shopify does not know (D7, issue 21 item 12): a shop assistant
sold to a referred friend in person, or by phone, and types the subtotal and why.

The sale is stored as a conversion (`models.Conversion`, event type `offline_sale`, source
"Staff"), so the referral is made by the same engine as any other: `states.insert_referral`
with every fraud rule, `states.advance`, the reward, the timeline. Its referral has no order
(`order_shopify_id` is the conversion's id negated, see models/conversion.py), so recheck,
unblock and unvoid find the sale again through `conversions.facts_for_referral`. The form's
request key is the conversion's event id: a double submit makes one sale and one referral.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app.audit import record_audit
from shopify_app.db import insert_ignore
from shopify_app.models import Advocate, Conversion, Customer, Referral, Shop, utcnow
from shopify_app.values import money_text, to_minor

from . import revenue, states
from .attribution import Attribution
from .conversions import _facts
from .program import get_program, shop_currency
from .states import TransitionRefused

EVENT_TYPE = "offline_sale"
MAX_SUBTOTAL = Decimal("1000000")


def parse_subtotal(text: str, currency: str) -> int:
    """A typed amount ("49.90", "49,90") as minor units of `currency`; refused unless > 0."""
    cleaned = (text or "").strip().replace(" ", "").replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        value = Decimal(0)
    if not value.is_finite() or value <= 0 or value > MAX_SUBTOTAL:
        raise TransitionRefused(
            _(
                "Type the sale's subtotal as a positive amount in %(currency)s, like 49.90.",
                currency=currency,
            )
        )
    minor = to_minor(cleaned, currency)
    if minor <= 0:
        raise TransitionRefused(
            _("The subtotal is less than the smallest unit of %(currency)s.", currency=currency)
        )
    return minor


def create_offline_referral(
    session: Session,
    shop: Shop,
    advocate: Advocate,
    friend: Customer,
    *,
    subtotal: str,
    reason: str,
    actor: str,
    request_key: str,
    force: bool = False,
) -> Referral:
    """The referral of an offline sale to `friend` credited to `advocate`, checked by every
    rule (a block stands unless `force`, recorded with the reason) and audited with the
    subtotal and the reason. The caller commits."""
    why = (reason or "").strip()
    if not why:
        raise TransitionRefused(_("Say why the referral is created for an offline sale."))
    if advocate.shop_id != shop.id or friend.shop_id != shop.id:
        raise TransitionRefused(_("That advocate or friend belongs to another shop."))
    if friend.id == advocate.customer_id:
        raise TransitionRefused(_("The advocate cannot be their own friend."))
    if friend.redacted_at is not None:
        raise TransitionRefused(_("The friend's data was erased at their request."))
    key = re.sub(r"[^A-Za-z0-9]", "", request_key or "")[:64]
    if not key:
        raise TransitionRefused(_("The form has expired; open it again."))
    event_id = f"offline-sale:{key}"
    earlier = _sale(session, shop, event_id)
    if earlier is not None and earlier.referral_id is not None:
        referral = session.get(Referral, earlier.referral_id)
        assert referral is not None
        return referral  # the same form submitted twice
    currency = shop_currency(shop)
    minor = parse_subtotal(subtotal, currency)
    now = utcnow()
    inserted = insert_ignore(
        session,
        Conversion,
        {
            "shop_id": shop.id,
            "customer_id": friend.id,
            "event_type": EVENT_TYPE,
            "event_id": event_id,
            "source_name": "Staff",
            "occurred_at": now,
            "recorded_at": now,
            "properties": {
                "value": money_text(minor, currency),
                "currency": currency,
                "reason": why,
                "entered_by": actor,
            },
            "outcome": "referral",
        },
        ["shop_id", "event_id"],
    )
    sale = _sale(session, shop, event_id)
    assert sale is not None
    if inserted is None and sale.referral_id is not None:  # a concurrent submit made it
        referral = session.get(Referral, sale.referral_id)
        assert referral is not None
        return referral
    facts = _facts(sale, friend, shop)
    facts.name = "an offline sale"
    program = get_program(session, shop)
    found = Attribution(advocate.id, "manual", advocate.code, [])
    referral = states.insert_referral(session, shop, facts, advocate, found, program, actor, why)
    assert referral is not None
    referral.attribution_evidence = {**referral.attribution_evidence, "offline_sale": True}
    if referral.status == "blocked" and force:
        states.transition(
            session, shop, referral, "pending", actor=actor, cause="forced", reason=why
        )
    sale.referral_id = referral.id
    record_audit(
        session,
        shop,
        actor=actor,
        action="referral.created_offline" + (".forced" if force else ""),
        subject_type="referral",
        subject_id=referral.id,
        after={
            "sale": "offline",
            "subtotal": f"{money_text(minor, currency)} {currency}",
            "friend": friend.email,
            "advocate": advocate.code,
            "status": referral.status,
        },
        reason=why,
        customer_id=advocate.customer_id,
    )
    states.advance(session, shop, referral, facts)
    sale.outcome_reason = referral.status_reason
    revenue.refresh(session, shop, states.referral_people(session, referral))
    return referral


def _sale(session: Session, shop: Shop, event_id: str) -> Conversion | None:
    return session.scalar(
        select(Conversion)
        .where(Conversion.shop_id == shop.id, Conversion.event_id == event_id)
        .with_for_update()
    )

"""Custom conversion events (G5): a third party reports that a customer converted
(`subscription_started`, ...). Every conversion is stored once per (shop, event id) and shown
on the customer's timeline; when the program's reward trigger is that event type, it runs
through the same engine as an order: attribution (`attribution.attribute` on the codes the
event carries, else on the customer's latest order that carried one), the fraud rules
(`checks.evaluate_rules`), the state machine (`states.insert_referral`, `states.advance`) and
the reward (`rewards.issue`).

A conversion stands in for an order through `ConversionFacts`, which has the order's fields
the engine reads. Its referral's `order_shopify_id` is the conversion's id negated
(models/conversion.py), so "one referral per order" is "one referral per conversion" too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app.db import insert_ignore
from shopify_app.i18n import N_, stored
from shopify_app.models import Advocate, Conversion, Customer, Order, Referral, Shop, utcnow
from shopify_app.timeline import third_party
from shopify_app.timeline.events import record_event
from shopify_app.values import to_minor

from . import revenue, rewards, states
from .attribution import NOTE_ATTRIBUTE_NAMES, Attribution, attribute, referral_signals
from .program import get_program, shop_currency

# How many of the customer's latest orders are searched for a referral code when the event
# carries none (an order that used the friend code, then the subscription started).
ORDERS_SEARCHED = 20


class ConversionRefused(ValueError):
    """The conversion cannot be recorded (bad input, another shop's or an erased customer);
    the message says why. Nothing was stored."""


@dataclass(frozen=True)
class ConversionResult:
    """What a conversion made. `duplicate` is true when the event id was seen before: the
    answer is then the first one's, and nothing new was made."""

    conversion_id: int
    event_type: str
    event_id: str
    customer_id: int
    occurred_at: datetime
    duplicate: bool
    outcome: str  # referral | not_trigger | program_off | not_attributed
    reason: str | None
    referral_id: int | None
    referral_status: str | None
    reward_id: int | None


@dataclass(frozen=True)
class ConversionAttribution(Attribution):
    """An attribution whose code came from an earlier order of the customer."""

    via_order: str | None = None

    def evidence(self) -> dict[str, Any]:
        found = super().evidence()
        if self.via_order is not None:
            found["via_order"] = self.via_order
        return found


@dataclass
class ConversionFacts:
    """A conversion as the referral engine reads an order: who, which codes, which device,
    what it is worth. `id` and `shopify_created_at` are those of the order that carried the
    code (when it came from one), so "earlier orders" are those before the first purchase
    with the code; otherwise orders before the conversion."""

    shopify_id: int
    name: str
    customer_id: int
    email: str | None
    currency: str
    total_minor: int
    occurred_at: datetime
    discount_codes: list[dict[str, Any]] = field(default_factory=list)
    note_attributes: list[dict[str, Any]] = field(default_factory=list)
    landing_site: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    shipping_address: dict[str, Any] | None = None
    id: int | None = None
    shopify_created_at: datetime | None = None
    is_conversion: bool = True
    refunded_minor: int = 0
    cancelled_at: datetime | None = None
    redacted_at: datetime | None = None
    financial_status: str = "paid"
    fulfillment_status: str | None = None
    processed_at: datetime | None = None


# Outcomes kept with the conversion and on the timeline (in English; pages: `stored`).
_OUTCOMES = {
    "off": stored(N_("The referral program is switched off.")),
    "not_attributed": stored(
        N_("Neither the event nor the customer's recent orders carry an advocate's code.")
    ),
}


def _text(properties: dict[str, Any], name: str) -> str | None:
    value = properties.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _facts(conversion: Conversion, customer: Customer, shop: Shop) -> ConversionFacts:
    props = conversion.properties or {}
    currency = (_text(props, "currency") or shop_currency(shop)).upper()[:3]
    try:
        total = to_minor(props.get("value"), currency) if props.get("value") is not None else 0
    except ValueError:
        total = 0
    return ConversionFacts(
        shopify_id=-conversion.id,
        name=f"{conversion.event_type} {conversion.event_id}",
        customer_id=customer.id,
        email=customer.email,
        currency=currency,
        total_minor=max(total, 0),
        occurred_at=conversion.occurred_at,
        discount_codes=[{"code": c}] if (c := _text(props, "discount_code")) else [],
        note_attributes=[
            {"name": name, "value": props[name]}
            for name in sorted(NOTE_ATTRIBUTE_NAMES)
            if _text(props, name)
        ],
        landing_site=_text(props, "landing_site"),
        client_ip=_text(props, "ip"),
        user_agent=_text(props, "user_agent"),
        shopify_created_at=conversion.occurred_at,
        processed_at=conversion.occurred_at,
    )


def _from_order(facts: ConversionFacts, order: Order) -> None:
    """The order that carried the code is the friend's first contact (see ConversionFacts)."""
    facts.id = order.id
    facts.shopify_created_at = order.shopify_created_at
    facts.client_ip = facts.client_ip or order.client_ip
    facts.user_agent = facts.user_agent or order.user_agent
    facts.shipping_address = order.shipping_address


def facts_for_referral(session: Session, shop: Shop, referral: Referral) -> ConversionFacts | None:
    """What the engine reads for a conversion's referral (staff recheck, unblock, unvoid);
    None for a referral made from an order."""
    if referral.order_shopify_id >= 0:
        return None
    conversion = conversion_in_shop(session, shop, -referral.order_shopify_id)
    if conversion is None:
        return None
    customer = session.get(Customer, conversion.customer_id)
    assert customer is not None
    facts = _facts(conversion, customer, shop)
    via = (referral.attribution_evidence or {}).get("via_order")
    if via:
        order = session.scalar(select(Order).where(Order.shop_id == shop.id, Order.name == via))
        if order is not None:
            _from_order(facts, order)
    return facts


def _known_codes(session: Session, shop: Shop, codes: set[str]) -> dict[str, int]:
    if not codes:
        return {}
    return dict(
        session.execute(
            select(Advocate.code, Advocate.id).where(
                Advocate.shop_id == shop.id, Advocate.code.in_(codes)
            )
        ).all()
    )


def _attribute(
    session: Session, shop: Shop, facts: ConversionFacts
) -> ConversionAttribution | None:
    """The event's own codes first (the order's priority: discount code, attribute, landing
    site); else the newest of the customer's latest orders that names a known advocate."""
    known = _known_codes(session, shop, {code for _m, code in referral_signals(facts)})
    found = attribute(facts, known.get)
    if found is not None:
        return ConversionAttribution(found.advocate_id, found.method, found.code, found.candidates)
    orders = session.scalars(
        select(Order)
        .where(
            Order.shop_id == shop.id,
            Order.customer_id == facts.customer_id,
            Order.cancelled_at.is_(None),
            Order.redacted_at.is_(None),
        )
        .order_by(Order.id.desc())
        .limit(ORDERS_SEARCHED)
    ).all()
    signals = {order.id: referral_signals(order) for order in orders}
    known = _known_codes(session, shop, {c for s in signals.values() for _m, c in s})
    for order in orders:
        if not signals[order.id]:
            continue
        found = attribute(order, known.get)
        if found is not None:
            _from_order(facts, order)
            return ConversionAttribution(
                found.advocate_id, found.method, found.code, found.candidates, order.name
            )
    return None


def _result(
    session: Session, shop: Shop, conversion: Conversion, *, duplicate: bool
) -> ConversionResult:
    referral = session.get(Referral, conversion.referral_id) if conversion.referral_id else None
    reward = None
    if referral is not None and referral.shop_id == shop.id:
        reward = rewards.reward_for(session, shop, referral)
    return ConversionResult(
        conversion_id=conversion.id,
        event_type=conversion.event_type,
        event_id=conversion.event_id,
        customer_id=conversion.customer_id,
        occurred_at=conversion.occurred_at,
        duplicate=duplicate,
        outcome=conversion.outcome,
        reason=conversion.outcome_reason,
        referral_id=referral.id if referral else None,
        referral_status=referral.status if referral else None,
        reward_id=reward.id if reward else None,
    )


def conversion_in_shop(session: Session, shop: Shop, conversion_id: int) -> Conversion | None:
    return session.scalar(
        select(Conversion).where(Conversion.shop_id == shop.id, Conversion.id == conversion_id)
    )


def result_of(session: Session, shop: Shop, conversion: Conversion) -> ConversionResult:
    """A stored conversion's result (what `record_conversion` answered, `duplicate` false)."""
    return _result(session, shop, conversion, duplicate=False)


def record_conversion(
    session: Session,
    shop: Shop,
    customer: Customer,
    event_type: str,
    occurred_at: datetime | None,
    properties: Any,
    *,
    event_id: str,
    source_name: str = "API",
    actor: str = "system",
) -> ConversionResult:
    """Record one conversion event of the shop's customer, exactly once per `event_id`.

    Always: a `conversions` row and a timeline event (source "api", the third party's
    name). When the program is on and its reward trigger is this event type: attribution,
    the fraud rules and the reward, as for an order. The same `event_id` again returns the
    first result with `duplicate=True` and makes nothing (not even when the body differs: an
    event id names one event). Raises ConversionRefused for bad input, another shop's
    customer or an erased one. The caller commits.
    """
    if customer.shop_id != shop.id:
        raise ConversionRefused("No such customer in this shop.")
    if not third_party.valid_idempotency_key(event_id):
        raise ConversionRefused(
            "The event id must be 1 to 100 letters, digits or '_', '.', ':', '-'."
        )
    try:
        fields = third_party.validate(
            event_type=event_type,
            source_name=source_name,
            occurred_at=occurred_at,
            properties={} if properties is None else properties,
            idempotency_key=event_id,
        )
    except third_party.InvalidEvent as exc:
        raise ConversionRefused(str(exc)) from exc
    earlier = _by_event_id(session, shop, event_id)
    if earlier is not None:
        return _result(session, shop, earlier, duplicate=True)
    if customer.redacted_at is not None:
        raise ConversionRefused("This customer's data was erased; no event can be added.")
    now = utcnow()
    new_id = insert_ignore(
        session,
        Conversion,
        {
            "shop_id": shop.id,
            "customer_id": customer.id,
            "event_type": fields["type"],
            "event_id": event_id,
            "source_name": fields["source_name"],
            "occurred_at": fields["occurred_at"],
            "recorded_at": now,
            "properties": fields["properties"],
            "outcome": "not_trigger",
        },
        ["shop_id", "event_id"],
    )
    conversion = _by_event_id(session, shop, event_id)
    assert conversion is not None
    if new_id is None:  # a concurrent delivery of the same event stored it first
        return _result(session, shop, conversion, duplicate=True)
    record_event(
        session,
        shop_id=shop.id,
        customer_id=customer.id,
        kind=conversion.event_type,
        occurred_at=conversion.occurred_at,
        source="api",
        source_name=conversion.source_name,
        payload={"properties": conversion.properties, "conversion_id": conversion.id},
        dedupe_key=f"conversion:{conversion.id}",
    )
    _run_engine(session, shop, customer, conversion, actor)
    return _result(session, shop, conversion, duplicate=False)


def _by_event_id(session: Session, shop: Shop, event_id: str) -> Conversion | None:
    return session.scalar(
        select(Conversion)
        .where(Conversion.shop_id == shop.id, Conversion.event_id == event_id)
        .with_for_update()
    )


def _outcome(
    session: Session, shop: Shop, conversion: Conversion, outcome: str, reason: str | None
) -> None:
    conversion.outcome = outcome
    conversion.outcome_reason = reason
    if outcome in ("not_attributed", "program_off"):
        record_event(
            session,
            shop_id=shop.id,
            customer_id=conversion.customer_id,
            kind="referral.not_created",
            occurred_at=conversion.occurred_at,
            source="app",
            payload={
                "conversion_id": conversion.id,
                "event": conversion.event_type,
                "reason": reason,
            },
            dedupe_key=f"conversion:{conversion.id}:referral-not-created",
        )


def _run_engine(
    session: Session, shop: Shop, customer: Customer, conversion: Conversion, actor: str
) -> None:
    program = get_program(session, shop)
    if program.reward_trigger != "event" or program.conversion_event != conversion.event_type:
        trigger = (
            f"the event {program.conversion_event}"
            if program.reward_trigger == "event"
            else "orders"
        )
        _outcome(session, shop, conversion, "not_trigger", f"The program rewards {trigger}.")
        return
    if not program.enabled:
        _outcome(session, shop, conversion, "program_off", _OUTCOMES["off"])
        return
    facts = _facts(conversion, customer, shop)
    found = _attribute(session, shop, facts)
    if found is None:
        _outcome(
            session,
            shop,
            conversion,
            "not_attributed",
            _OUTCOMES["not_attributed"],
        )
        return
    advocate = session.get(Advocate, found.advocate_id)
    assert advocate is not None and advocate.shop_id == shop.id
    referral = states.insert_referral(session, shop, facts, advocate, found, program, actor, None)
    assert referral is not None
    conversion.outcome = "referral"
    conversion.outcome_reason = referral.status_reason
    conversion.referral_id = referral.id
    states.advance(session, shop, referral, facts)
    conversion.outcome_reason = referral.status_reason
    revenue.refresh(session, shop, states.referral_people(session, referral))

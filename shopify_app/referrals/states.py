"""The referral state machine (B5, B6): an order becomes a referral, is checked by the fraud
rules (`checks`), waits for its reward trigger and approval, and ends Completed (reward
issued), Blocked (a rule, with its reason) or Voided (refund, cancel, staff).

`on_order` runs after every sync of an order, in the same transaction as the sync, so a
duplicate, late or reordered delivery meets the referral it already made (unique per order)
and can only move it forward. Every transition stores who or what caused it and why, and is
written to the advocate's and the friend's timelines. What staff do by hand is in
`staff_actions`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app.db import insert_ignore
from shopify_app.i18n import N_, stored
from shopify_app.models import (
    Advocate,
    Order,
    Program,
    Referral,
    ReferralTransition,
    Reward,
    Shop,
    utcnow,
)
from shopify_app.outgoing import payloads
from shopify_app.outgoing.events import emit
from shopify_app.timeline.events import record_event

from . import revenue, rewards
from .attribution import Attribution, attribute, referral_signals
from .checks import evaluate_rules
from .program import get_program, shop_currency, terms_of

PAID = ("paid", "partially_refunded")
# Statuses whose reaching is an outgoing webhook event (back to pending, by staff undoing a
# block or a void, is none).
OUTGOING_TRANSITIONS = {
    "completed": "referral.completed",
    "blocked": "referral.blocked",
    "voided": "referral.voided",
}


class TransitionRefused(ValueError):
    """The referral cannot make that move; the message says why."""


# Reasons kept with the referral (in English; pages show them translated: `stored`).
_REASONS = {
    "currency": stored(N_("The order is in %(order)s; the program pays in %(program)s.")),
    "cancelled": stored(N_("Order %(order)s was cancelled.")),
    "refunded": stored(N_("Order %(order)s was refunded in full.")),
    "unknown_code": stored(N_("no advocate has the referral code it carries")),
    "off": stored(N_("the referral program is switched off")),
    "event": stored(N_("the program rewards the event %(event)s, not orders")),
    "erased": stored(N_("the customer's data was erased at their request")),
}


def referral_for_order(session: Session, shop: Shop, order_shopify_id: int) -> Referral | None:
    return session.scalar(
        select(Referral).where(
            Referral.shop_id == shop.id, Referral.order_shopify_id == order_shopify_id
        )
    )


def on_order(session: Session, shop: Shop, order: Order) -> Referral | None:
    """Apply what an order sync means for referrals, rewards and revenue.

    This runs for every order webhook, so it costs one indexed lookup for an order that names
    no code, and one more per kind of code it carries (rewards, advocates), never one per code.
    """
    touched = {
        customer_id
        for reward, customer_id in rewards.redeemed_by(session, shop, order)
        if customer_id is not None and reward.used_order_shopify_id == order.shopify_id
    }
    referral = referral_for_order(session, shop, order.shopify_id)
    unchanged = None
    if referral is None:
        referral = create_from_order(session, shop, order)
    elif order.refunded_minor == 0 and order.total_minor == referral.order_total_minor:
        unchanged = referral.status  # revenue moves only with status, totals or refunds
    if referral is not None:
        advance(session, shop, referral, order)
        referral.order_total_minor = order.total_minor
        if referral.status != unchanged:
            touched |= referral_people(session, referral)
    if touched:
        revenue.refresh(session, shop, touched)
    return referral


def referral_people(session: Session, referral: Referral) -> set[int]:
    """The customer ids whose revenue stats the referral counts in: its advocate and friend."""
    advocate = session.get(Advocate, referral.advocate_id)
    return {
        c
        for c in (advocate.customer_id if advocate else None, referral.friend_customer_id)
        if c is not None
    }


def _not_created(session: Session, shop: Shop, order: Order, reason: str) -> None:
    """An order that names a referral code but makes no referral says why, on the timeline."""
    record_event(
        session,
        shop_id=shop.id,
        customer_id=order.customer_id if order.redacted_at is None else None,
        kind="referral.not_created",
        occurred_at=order.processed_at or order.shopify_created_at,
        source="app",
        payload={"order": order.name, "order_id": order.shopify_id, "reason": reason},
        dedupe_key=f"order:{order.shopify_id}:referral-not-created",
    )


def create_from_order(
    session: Session,
    shop: Shop,
    order: Order,
    *,
    manual_advocate: Advocate | None = None,
    actor: str = "system",
    reason: str | None = None,
) -> Referral | None:
    """The order's referral, if it names a known advocate's code (or staff name one) and the
    program takes it; otherwise None, and the order's timeline says why."""
    codes = {code for _method, code in referral_signals(order)}
    known = (
        dict(
            session.execute(
                select(Advocate.code, Advocate.id).where(
                    Advocate.shop_id == shop.id, Advocate.code.in_(codes)
                )
            ).all()
        )
        if codes
        else {}
    )
    found = attribute(
        order,
        known.get,
        manual_advocate_id=manual_advocate.id if manual_advocate else None,
    )
    if found is None:
        if referral_signals(order):
            _not_created(session, shop, order, _REASONS["unknown_code"])
        return None
    program = get_program(session, shop)
    if not program.enabled and manual_advocate is None:
        _not_created(session, shop, order, _REASONS["off"])
        return None
    if program.reward_trigger == "event" and manual_advocate is None:
        _not_created(
            session,
            shop,
            order,
            _REASONS["event"] % {"event": program.conversion_event},
        )
        return None
    if order.redacted_at is not None:
        _not_created(session, shop, order, _REASONS["erased"])
        return None
    advocate = session.get(Advocate, found.advocate_id)
    assert advocate is not None and advocate.shop_id == shop.id
    return insert_referral(session, shop, order, advocate, found, program, actor, reason)


def insert_referral(
    session: Session,
    shop: Shop,
    order: Order | Any,
    advocate: Advocate,
    found: Attribution,
    program: Program,
    actor: str,
    reason: str | None,
) -> Referral | None:
    """Make the referral of an attributed order (or of a conversion standing in for one,
    `conversions.ConversionFacts`), once: check it with every rule and block it when one
    says so. A referral the order already has is returned unchanged."""
    now = utcnow()
    new_id = insert_ignore(
        session,
        Referral,
        {
            "shop_id": shop.id,
            "advocate_id": advocate.id,
            "friend_customer_id": order.customer_id,
            "order_id": order.id,
            "order_shopify_id": order.shopify_id,
            "attribution": found.method,
            "attribution_evidence": found.evidence(),
            "status": "pending",
            "terms": terms_of(program),
            "program_version": program.version,
            "order_total_minor": order.total_minor,
            "currency": order.currency,
            "needs_manual_approval": False,
            "created_at": now,
            "updated_at": now,
        },
        ["shop_id", "order_shopify_id"],
    )
    referral = referral_for_order(session, shop, order.shopify_id)
    if new_id is None or referral is None:
        return referral  # made by an earlier delivery of this order
    transition(
        session,
        shop,
        referral,
        "pending",
        actor=actor,
        cause=f"attributed:{found.method}",
        reason=reason,
        created=True,
    )
    results = evaluate_rules(session, shop, referral, order)
    blocking = [r for r in results if r.blocks]
    block = None
    if order.currency != shop_currency(shop) and shop.currency:
        block = (
            "currency",
            _REASONS["currency"] % {"order": order.currency, "program": shop.currency},
        )
    elif blocking:
        block = (f"rule:{blocking[0].rule_id}", blocking[0].explanation)
    if block is not None:
        cause, why = block
        transition(session, shop, referral, "blocked", actor="system", cause=cause, reason=why)
    else:
        flag(session, shop, referral, results)
    return referral


def flag(session: Session, shop: Shop, referral: Referral, results: list) -> bool:
    """Hold a pending referral for review when a rule flags it (a grey area: a similar email,
    a household's shared IP address). It stays pending and issues no reward until staff
    approve it; nothing else blocks it. A referral is flagged once; True when it was now."""
    flagged = [r for r in results if r.flags]
    if not flagged or referral.status != "pending" or referral.flagged_at is not None:
        return False
    why = " ".join(r.explanation for r in flagged)
    referral.flagged_at = utcnow()
    referral.flag_reason = why
    referral.needs_manual_approval = True
    transition(
        session,
        shop,
        referral,
        "pending",
        actor="system",
        cause=f"flagged:{flagged[0].rule_id}",
        reason=why,
    )
    return True


def _trigger_time(terms: dict[str, Any], order: Order | Any, now: datetime) -> datetime | None:
    """When the program's reward trigger is met for this order (None: not yet). A referral
    made from a conversion event met its trigger when the event arrived; one made by staff
    from an order under an event trigger waits for the order's payment."""
    trigger = terms.get("reward_trigger", "paid")
    if trigger == "event":
        return (
            now
            if getattr(order, "is_conversion", False) or (order.financial_status in PAID)
            else None
        )
    if trigger == "fulfilled":
        return now if order.fulfillment_status == "fulfilled" else None
    if order.financial_status not in PAID:
        return None
    if trigger == "days_after_paid":
        return now + timedelta(days=int(terms.get("reward_trigger_days") or 0))
    return now


def advance(session: Session, shop: Shop, referral: Referral, order: Order | Any) -> None:
    """Move the referral as far as the order's state allows."""
    if referral.status in ("blocked", "voided"):
        return
    if order.cancelled_at is not None:
        void(
            session,
            shop,
            referral,
            actor="shopify",
            cause="order_cancelled",
            reason=_REASONS["cancelled"] % {"order": order.name},
        )
        return
    if order.total_minor > 0 and order.refunded_minor >= order.total_minor:
        void(
            session,
            shop,
            referral,
            actor="shopify",
            cause="order_refunded",
            reason=_REASONS["refunded"] % {"order": order.name},
        )
        return
    if referral.status != "pending":
        return
    now = utcnow()
    if referral.approve_after is None:
        trigger_at = _trigger_time(referral.terms, order, now)
        if trigger_at is None:
            return
        delay = timedelta(hours=int(referral.terms.get("approval_delay_hours") or 0))
        referral.approve_after = trigger_at + delay
    complete_if_due(session, shop, referral, now)


def complete_if_due(session: Session, shop: Shop, referral: Referral, now: datetime) -> bool:
    if referral.status != "pending" or referral.approve_after is None:
        return False
    if referral.approve_after > now:
        return False
    if referral.terms.get("approval_mode") == "manual" or referral.flagged_at is not None:
        referral.needs_manual_approval = True
        return False
    complete(session, shop, referral, actor="system", cause="approved:automatic")
    return True


def complete(
    session: Session,
    shop: Shop,
    referral: Referral,
    *,
    actor: str,
    cause: str,
    reason: str | None = None,
) -> Reward:
    if referral.status != "pending":
        raise TransitionRefused(f"referral #{referral.id} is {referral.status}, not pending")
    referral.completed_at = utcnow()
    referral.needs_manual_approval = False
    transition(session, shop, referral, "completed", actor=actor, cause=cause, reason=reason)
    return rewards.issue(session, shop, referral)


def void(
    session: Session, shop: Shop, referral: Referral, *, actor: str, cause: str, reason: str
) -> None:
    if referral.status == "voided":
        raise TransitionRefused(f"referral #{referral.id} is already voided")
    transition(session, shop, referral, "voided", actor=actor, cause=cause, reason=reason)
    referral.needs_manual_approval = False
    reward = rewards.reward_for(session, shop, referral)
    if reward is not None:
        rewards.void(session, shop, reward, reason=reason)


def transition(
    session: Session,
    shop: Shop,
    referral: Referral,
    to_status: str,
    *,
    actor: str,
    cause: str,
    reason: str | None,
    created: bool = False,
) -> None:
    """Move the referral to `to_status`, storing who or what did it and why, and write it to
    the advocate's and the friend's timelines."""
    from_status = None if created else referral.status
    referral.status = to_status
    referral.status_reason = reason if to_status in ("blocked", "voided") else None
    now = utcnow()
    transition = ReferralTransition(
        shop_id=shop.id,
        referral_id=referral.id,
        from_status=from_status,
        to_status=to_status,
        actor=actor,
        cause=cause,
        reason=reason,
        at=now,
    )
    session.add(transition)
    session.flush()
    advocate = session.get(Advocate, referral.advocate_id)
    payload = {
        "referral_id": referral.id,
        # A conversion's referral has no order (models/conversion.py).
        "order_id": referral.order_shopify_id if referral.order_shopify_id > 0 else None,
        "status": to_status,
        "cause": cause,
        "reason": reason,
        "total_minor": referral.order_total_minor,
        "currency": referral.currency,
    }
    kind = "referral.created" if from_status is None else f"referral.{to_status}"
    for role, customer_id in (
        ("advocate", advocate.customer_id if advocate else None),
        ("friend", referral.friend_customer_id),
    ):
        if customer_id is None:
            continue
        record_event(
            session,
            shop_id=shop.id,
            customer_id=customer_id,
            kind=kind,
            occurred_at=now,
            source="app",
            actor=actor,
            payload={**payload, "role": role},
            dedupe_key=f"referral-transition:{transition.id}:{role}",
        )
    outgoing = "referral.created" if from_status is None else OUTGOING_TRANSITIONS.get(to_status)
    if outgoing is not None:
        # Keyed by the transition: a duplicate delivery moves nothing, so it emits nothing;
        # a referral voided, un-voided and voided again is two events.
        emit(
            session,
            shop,
            outgoing,
            payloads.referral(referral, advocate, transition),
            key=f"referral-transition:{transition.id}",
        )


def complete_due(session: Session, shop: Shop, now: datetime | None = None) -> int:
    """Complete the shop's referrals whose approval delay has passed (the scheduled path;
    a delay of zero completes on the order's own sync). Returns how many completed."""
    now = now or utcnow()
    due = session.scalars(
        select(Referral)
        .where(
            Referral.shop_id == shop.id,
            Referral.status == "pending",
            Referral.needs_manual_approval.is_(False),
            Referral.approve_after <= now,
        )
        .order_by(Referral.approve_after)
        .limit(500)
        .with_for_update(skip_locked=True)
    ).all()
    completed = [r for r in due if complete_if_due(session, shop, r, now)]
    for referral in completed:
        revenue.refresh(session, shop, referral_people(session, referral))
    return len(completed)

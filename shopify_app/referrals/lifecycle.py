"""The referral lifecycle (B5, B6): an order becomes a referral, is checked by the fraud
rules, waits for its reward trigger and approval, and ends Completed (reward issued), Blocked
(a rule, with its reason) or Voided (refund, cancel, staff).

`on_order` runs after every sync of an order, in the same transaction as the sync, so a
duplicate, late or reordered delivery meets the referral it already made (unique per order)
and can only move it forward. Every transition stores who or what caused it and why, and is
written to the advocate's and the friend's timelines.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from shopify_app.audit import record_audit
from shopify_app.db import insert_ignore
from shopify_app.models import (
    Advocate,
    AdvocateVisit,
    Customer,
    FraudCheck,
    Order,
    Program,
    Referral,
    ReferralTransition,
    Reward,
    Shop,
    utcnow,
)
from shopify_app.sync.values import normalize_email
from shopify_app.timeline.events import record_event

from . import revenue, rewards
from .attribution import Attribution, attribute, referral_signals
from .blocklist import entries_for, matches
from .fraud import FraudContext, Person, RuleResult, evaluate
from .program import get_program, shop_currency, terms_of

OPEN = ("pending",)
COUNTED = ("pending", "completed")  # what caps and "already referred" count
PAID = ("paid", "partially_refunded")


class TransitionRefused(ValueError):
    """The referral cannot make that move; the message says why."""


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
        referral = _create_from_order(session, shop, order)
    elif order.refunded_minor == 0 and order.total_minor == referral.order_total_minor:
        unchanged = referral.status  # revenue moves only with status, totals or refunds
    if referral is not None:
        advance(session, shop, referral, order)
        referral.order_total_minor = order.total_minor
        if referral.status != unchanged:
            touched |= _people(session, referral)
    if touched:
        revenue.refresh(session, shop, touched)
    return referral


def _people(session: Session, referral: Referral) -> set[int]:
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


def _create_from_order(
    session: Session,
    shop: Shop,
    order: Order,
    *,
    manual_advocate: Advocate | None = None,
    actor: str = "system",
    reason: str | None = None,
) -> Referral | None:
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
            _not_created(session, shop, order, "no advocate has the referral code it carries")
        return None
    program = get_program(session, shop)
    if not program.enabled and manual_advocate is None:
        _not_created(session, shop, order, "the referral program is switched off")
        return None
    if order.redacted_at is not None:
        _not_created(session, shop, order, "the customer's data was erased at their request")
        return None
    advocate = session.get(Advocate, found.advocate_id)
    assert advocate is not None and advocate.shop_id == shop.id
    return _insert_referral(session, shop, order, advocate, found, program, actor, reason)


def _insert_referral(
    session: Session,
    shop: Shop,
    order: Order,
    advocate: Advocate,
    found: Attribution,
    program: Program,
    actor: str,
    reason: str | None,
) -> Referral | None:
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
    _transition(
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
            f"The order is in {order.currency}; the program pays in {shop.currency}.",
        )
    elif blocking:
        block = (f"rule:{blocking[0].rule_id}", blocking[0].explanation)
    if block is not None:
        cause, why = block
        _transition(session, shop, referral, "blocked", actor="system", cause=cause, reason=why)
    return referral


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


def _trigger_time(terms: dict[str, Any], order: Order, now: datetime) -> datetime | None:
    """When the program's reward trigger is met for this order (None: not yet)."""
    trigger = terms.get("reward_trigger", "paid")
    if trigger == "fulfilled":
        return now if order.fulfillment_status == "fulfilled" else None
    if order.financial_status not in PAID:
        return None
    if trigger == "days_after_paid":
        return now + timedelta(days=int(terms.get("reward_trigger_days") or 0))
    return now


def advance(session: Session, shop: Shop, referral: Referral, order: Order) -> None:
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
            reason=f"Order {order.name} was cancelled.",
        )
        return
    if order.total_minor > 0 and order.refunded_minor >= order.total_minor:
        void(
            session,
            shop,
            referral,
            actor="shopify",
            cause="order_refunded",
            reason=f"Order {order.name} was refunded in full.",
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
    if referral.terms.get("approval_mode") == "manual":
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
    _transition(session, shop, referral, "completed", actor=actor, cause=cause, reason=reason)
    return rewards.issue(session, shop, referral)


def void(
    session: Session, shop: Shop, referral: Referral, *, actor: str, cause: str, reason: str
) -> None:
    if referral.status == "voided":
        raise TransitionRefused(f"referral #{referral.id} is already voided")
    _transition(session, shop, referral, "voided", actor=actor, cause=cause, reason=reason)
    referral.needs_manual_approval = False
    reward = rewards.reward_for(session, shop, referral)
    if reward is not None:
        rewards.void(session, shop, reward, reason=reason)


def _transition(
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
        "order_id": referral.order_shopify_id,
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
        revenue.refresh(session, shop, _people(session, referral))
    return len(completed)


def _audit(
    session: Session,
    shop: Shop,
    referral: Referral,
    action: str,
    actor: str,
    before: str,
    reason: str | None,
) -> None:
    advocate = session.get(Advocate, referral.advocate_id)
    record_audit(
        session,
        shop,
        actor=actor,
        action=action,
        subject_type="referral",
        subject_id=referral.id,
        before={"status": before},
        after={"status": referral.status},
        reason=reason,
        customer_id=advocate.customer_id if advocate else None,
    )


def staff_approve(
    session: Session, shop: Shop, referral: Referral, *, actor: str, reason: str | None = None
) -> Reward:
    """A staff member approves a pending referral (the manual approval queue, or early)."""
    if referral.status != "pending":
        raise TransitionRefused(
            f"Referral #{referral.id} is {referral.status}; only pending referrals can be approved."
        )
    reward = complete(session, shop, referral, actor=actor, cause="approved:staff", reason=reason)
    _audit(session, shop, referral, "referral.approved", actor, "pending", reason)
    revenue.refresh(session, shop, _people(session, referral))
    return reward


def staff_void(
    session: Session, shop: Shop, referral: Referral, *, actor: str, reason: str
) -> None:
    if not (reason or "").strip():
        raise TransitionRefused("Say why the referral is voided.")
    before = referral.status
    void(session, shop, referral, actor=actor, cause="staff", reason=reason.strip())
    _audit(session, shop, referral, "referral.voided", actor, before, reason.strip())
    revenue.refresh(session, shop, _people(session, referral))


def staff_recheck(session: Session, shop: Shop, referral: Referral, *, actor: str) -> list:
    """Run every fraud rule again on the referral's order (a new evaluation is stored next to
    the earlier ones); the referral's status is not changed by it."""
    order = session.get(Order, referral.order_id) if referral.order_id else None
    if order is None:
        raise TransitionRefused(f"The order of referral #{referral.id} is no longer stored.")
    results = evaluate_rules(session, shop, referral, order)
    _audit(session, shop, referral, "referral.rechecked", actor, referral.status, None)
    return results


def staff_reassign(
    session: Session,
    shop: Shop,
    referral: Referral,
    to_advocate: Advocate,
    *,
    actor: str,
    reason: str,
) -> Reward | None:
    """Give the referral to another advocate (a disputed attribution, a cross referral). The
    reward follows: an unused one is voided (its code deactivated) and the new advocate gets
    their own. Reassigning back is the same action. Returns the new advocate's reward."""
    if not (reason or "").strip():
        raise TransitionRefused("Say why the referral is reassigned.")
    if to_advocate.shop_id != shop.id:
        raise TransitionRefused("That advocate belongs to another shop.")
    if to_advocate.id == referral.advocate_id:
        raise TransitionRefused("The referral already belongs to that advocate.")
    if referral.status == "voided":
        raise TransitionRefused(f"Referral #{referral.id} is voided; nothing to reassign.")
    new_customer = session.get(Customer, to_advocate.customer_id)
    if new_customer is not None and new_customer.id == referral.friend_customer_id:
        raise TransitionRefused("The friend cannot be their own advocate.")
    old = rewards.reward_for(session, shop, referral)
    if old is not None and old.status == "used":
        raise TransitionRefused(
            f"The reward {old.code} was already used on order {old.used_order_shopify_id}; "
            "it cannot follow the referral."
        )
    before_advocate = referral.advocate_id
    people_before = _people(session, referral)
    if old is not None:
        rewards.void(session, shop, old, reason=f"Referral reassigned: {reason.strip()}")
    referral.advocate_id = to_advocate.id
    session.add(
        ReferralTransition(
            shop_id=shop.id,
            referral_id=referral.id,
            from_status=referral.status,
            to_status=referral.status,
            actor=actor,
            cause=f"reassigned:{before_advocate}->{to_advocate.id}",
            reason=reason.strip(),
            at=utcnow(),
        )
    )
    session.flush()
    record_audit(
        session,
        shop,
        actor=actor,
        action="referral.reassigned",
        subject_type="referral",
        subject_id=referral.id,
        before={"advocate_id": before_advocate},
        after={"advocate_id": to_advocate.id},
        reason=reason.strip(),
        customer_id=to_advocate.customer_id,
    )
    new_reward = None
    if referral.status == "completed":
        earlier = rewards.reward_for(session, shop, referral)  # reassigned back to them
        new_reward = (
            rewards.reissue(session, shop, earlier)
            if earlier is not None
            else rewards.issue(session, shop, referral)
        )
    revenue.refresh(session, shop, people_before | _people(session, referral))
    return new_reward


def staff_create(
    session: Session,
    shop: Shop,
    advocate: Advocate,
    order: Order,
    *,
    actor: str,
    reason: str,
    force: bool = False,
    dry_run: bool = False,
) -> tuple[Referral | None, list[RuleResult]]:
    """Create a referral for an advocate by hand (D7): the order's referral with attribution
    `manual`, checked by every rule. A block stands unless `force` (with the reason, audited).
    With `dry_run` nothing is kept: the answer is which rules would block."""
    if not (reason or "").strip():
        raise TransitionRefused("Say why the referral is created by hand.")
    if referral_for_order(session, shop, order.shopify_id) is not None:
        raise TransitionRefused(f"Order {order.name} already has a referral.")
    if order.customer_id is not None and order.customer_id == advocate.customer_id:
        raise TransitionRefused("The advocate placed this order themself.")
    if order.redacted_at is not None:
        raise TransitionRefused("The customer's data on this order was erased at their request.")
    savepoint = session.begin_nested()
    referral = _create_from_order(
        session, shop, order, manual_advocate=advocate, actor=actor, reason=reason.strip()
    )
    assert referral is not None
    checks = session.scalars(select(FraudCheck).where(FraudCheck.referral_id == referral.id)).all()
    results = [
        RuleResult(c.rule_id, c.rule_version, c.outcome, c.explanation, c.evidence) for c in checks
    ]
    if dry_run:
        savepoint.rollback()
        return None, results
    if referral.status == "blocked" and force:
        _transition(
            session, shop, referral, "pending", actor=actor, cause="forced", reason=reason.strip()
        )
    record_audit(
        session,
        shop,
        actor=actor,
        action="referral.created" + (".forced" if force else ""),
        subject_type="referral",
        subject_id=referral.id,
        after={"order": order.name, "advocate_id": advocate.id, "status": referral.status},
        reason=reason.strip(),
        customer_id=advocate.customer_id,
    )
    advance(session, shop, referral, order)
    revenue.refresh(session, shop, _people(session, referral))
    savepoint.commit()
    return referral, results


def _require_reason(reason: str, what: str) -> str:
    if not (reason or "").strip():
        raise TransitionRefused(f"Say why the referral is {what}.")
    return reason.strip()


def staff_unblock(session: Session, shop: Shop, referral: Referral, *, actor: str, reason: str):
    """Undo a block: the referral is pending again and moves on as its order allows."""
    why = _require_reason(reason, "unblocked")
    if referral.status != "blocked":
        raise TransitionRefused(f"Referral #{referral.id} is {referral.status}, not blocked.")
    _transition(session, shop, referral, "pending", actor=actor, cause="unblocked", reason=why)
    _audit(session, shop, referral, "referral.unblocked", actor, "blocked", why)
    order = session.get(Order, referral.order_id) if referral.order_id else None
    if order is not None:
        advance(session, shop, referral, order)
    revenue.refresh(session, shop, _people(session, referral))


def staff_unvoid(session: Session, shop: Shop, referral: Referral, *, actor: str, reason: str):
    """Undo a void: the referral returns to the status it had, and a completed one gets its
    reward back (a new code: the voided one was deactivated in Shopify)."""
    why = _require_reason(reason, "restored")
    if referral.status != "voided":
        raise TransitionRefused(f"Referral #{referral.id} is {referral.status}, not voided.")
    order = session.get(Order, referral.order_id) if referral.order_id else None
    if order is not None and (
        order.cancelled_at is not None
        or (order.total_minor > 0 and order.refunded_minor >= order.total_minor)
    ):
        raise TransitionRefused(f"Order {order.name} was cancelled or refunded in full.")
    last_void = session.scalar(
        select(ReferralTransition)
        .where(
            ReferralTransition.referral_id == referral.id, ReferralTransition.to_status == "voided"
        )
        .order_by(ReferralTransition.id.desc())
        .limit(1)
    )
    previous = (last_void.from_status if last_void else None) or "pending"
    _transition(session, shop, referral, previous, actor=actor, cause="unvoided", reason=why)
    referral.status_reason = None
    _audit(session, shop, referral, "referral.unvoided", actor, "voided", why)
    if previous == "completed":
        reward = rewards.reward_for(session, shop, referral)
        if reward is not None:
            rewards.reissue(session, shop, reward)
        else:
            rewards.issue(session, shop, referral)
    elif previous == "pending" and order is not None:
        advance(session, shop, referral, order)
    revenue.refresh(session, shop, _people(session, referral))

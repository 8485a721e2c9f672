"""The program's advocates, referrals and rewards as plain values, read and written for the
public API (`shopify_app.api`): every lookup scoped by shop, every write through the
services the admin and the portal use (`advocates.join`, `staff_actions`), so the API keeps
the same rules, refusals and audit trail.

Lists are newest first, keyset-paged by id: a page is `(records, before_id)`, where
`before_id` continues the list (None on the last page).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app.audit import record_audit
from shopify_app.models import Advocate, Customer, Order, Referral, Reward, Shop
from shopify_app.values import normalize_email

from . import advocates, queries, rewards, staff_actions
from .fraud import RuleResult
from .states import TransitionRefused

MAX_PAGE = 100
REFERRAL_STATUSES = ("pending", "completed", "blocked", "voided")
REWARD_STATUSES = ("pending", "issued", "used", "unused", "voided")


class NotFound(LookupError):
    """No such row in this shop (another shop's id is the same as none)."""


class Refused(ValueError):
    """The action is refused; the message says why (a sentence for the caller)."""


@dataclass(frozen=True)
class Money:
    minor: int
    currency: str


@dataclass(frozen=True)
class AdvocateRecord:
    id: int
    customer_id: int
    email: str | None
    first_name: str | None
    last_name: str | None
    code: str
    joined_at: datetime
    joined_via: str
    friend_code_status: str
    successful_referrals: int


@dataclass(frozen=True)
class ReferralRecord:
    id: int
    status: str
    status_reason: str | None
    advocate_id: int
    friend_customer_id: int | None
    order_id: int | None  # Shopify's order id; None for a conversion's referral
    order_name: str | None
    conversion_id: int | None
    attribution: str
    total: Money
    needs_manual_approval: bool
    program_version: int
    reward_id: int | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True)
class RewardRecord:
    id: int
    referral_id: int
    advocate_id: int
    code: str
    kind: str  # percentage (value in whole percent) | fixed_amount (value in minor units)
    value: int
    currency: str
    status: str
    issued_at: datetime | None
    expires_at: datetime | None
    used_at: datetime | None
    used_order_id: int | None
    voided_at: datetime | None
    void_reason: str | None
    created_at: datetime


@dataclass(frozen=True)
class RuleOutcome:
    rule_id: str
    version: int
    outcome: str  # pass | block
    explanation: str


@dataclass(frozen=True)
class ManualReferral:
    """A referral created by hand: the referral (None for a dry run) and every rule's
    decision on it."""

    referral: ReferralRecord | None
    checks: list[RuleOutcome]


def _limit(limit: int) -> int:
    return max(1, min(int(limit), MAX_PAGE))


# --- advocates -------------------------------------------------------------------------


def _advocate_record(advocate: Advocate, customer: Customer) -> AdvocateRecord:
    return AdvocateRecord(
        id=advocate.id,
        customer_id=customer.id,
        email=customer.email,
        first_name=customer.first_name,
        last_name=customer.last_name,
        code=advocate.code,
        joined_at=advocate.joined_at,
        joined_via=advocate.joined_via,
        friend_code_status=advocate.friend_discount_status,
        successful_referrals=customer.successful_referrals or 0,
    )


def _advocate_in_shop(session: Session, shop: Shop, advocate_id: int) -> Advocate:
    advocate = session.scalar(
        select(Advocate).where(Advocate.shop_id == shop.id, Advocate.id == advocate_id)
    )
    if advocate is None:
        raise NotFound(f"No advocate {advocate_id}.")
    return advocate


def get_advocate(session: Session, shop: Shop, advocate_id: int) -> AdvocateRecord:
    advocate = _advocate_in_shop(session, shop, advocate_id)
    customer = session.get(Customer, advocate.customer_id)
    assert customer is not None
    return _advocate_record(advocate, customer)


def list_advocates(
    session: Session, shop: Shop, *, before_id: int | None = None, limit: int = 50
) -> tuple[list[AdvocateRecord], int | None]:
    rows, more = queries.list_advocates(session, shop, before_id=before_id, limit=_limit(limit))
    return [_advocate_record(a, c) for a, c in rows], more


def _customer_to_join(
    session: Session, shop: Shop, customer_id: int | None, email: str | None
) -> Customer:
    if customer_id is not None:
        customer = session.scalar(
            select(Customer).where(Customer.shop_id == shop.id, Customer.id == customer_id)
        )
        if customer is None:
            raise NotFound(f"No customer {customer_id}.")
        return customer
    normalised = normalize_email(email)
    if normalised is None:
        raise Refused("Name the customer: customer_id or email.")
    customer = session.scalar(
        select(Customer)
        .where(Customer.shop_id == shop.id, Customer.email_normalized == normalised)
        .order_by(Customer.shopify_id.is_(None), Customer.id)
        .limit(1)
    )
    if customer is None:
        raise Refused(f"No customer has the email {email}; create the customer first.")
    return customer


def join_advocate(
    session: Session,
    shop: Shop,
    *,
    customer_id: int | None = None,
    email: str | None = None,
    actor: str,
) -> tuple[AdvocateRecord, bool]:
    """The customer (by id, or by email) joins the program; idempotent. Returns (advocate,
    newly joined). Audited with `actor` when new. Raises NotFound for an unknown or other
    shop's customer id, Refused with the reason (erased, deleted in Shopify)."""
    customer = _customer_to_join(session, shop, customer_id, email)
    try:
        advocate, created = advocates.join(session, shop, customer, via="api", actor=actor)
    except advocates.JoinRefused as exc:
        raise Refused(_sentence(str(exc))) from exc
    if created and not actor.startswith("staff:"):  # `join` audits staff itself
        record_audit(
            session,
            shop,
            actor=actor,
            action="advocate.joined",
            subject_type="advocate",
            subject_id=advocate.id,
            after={"code": advocate.code, "via": "api"},
            customer_id=customer.id,
        )
    return _advocate_record(advocate, customer), created


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else text


# --- referrals -------------------------------------------------------------------------


def _referral_record(
    referral: Referral, order_name: str | None, reward: Reward | None
) -> ReferralRecord:
    from_order = referral.order_shopify_id > 0
    return ReferralRecord(
        id=referral.id,
        status=referral.status,
        status_reason=referral.status_reason,
        advocate_id=referral.advocate_id,
        friend_customer_id=referral.friend_customer_id,
        order_id=referral.order_shopify_id if from_order else None,
        order_name=order_name if from_order else None,
        conversion_id=None if from_order else -referral.order_shopify_id,
        attribution=referral.attribution,
        total=Money(referral.order_total_minor, referral.currency),
        needs_manual_approval=referral.needs_manual_approval,
        program_version=referral.program_version,
        reward_id=reward.id if reward is not None else None,
        created_at=referral.created_at,
        updated_at=referral.updated_at,
        completed_at=referral.completed_at,
    )


def _referral_in_shop(session: Session, shop: Shop, referral_id: int) -> Referral:
    referral = queries.referral_in_shop(session, shop, referral_id)
    if referral is None:
        raise NotFound(f"No referral {referral_id}.")
    return referral


def referral_record(session: Session, shop: Shop, referral: Referral) -> ReferralRecord:
    order = session.get(Order, referral.order_id) if referral.order_id else None
    return _referral_record(
        referral, order.name if order else None, rewards.reward_for(session, shop, referral)
    )


def get_referral(session: Session, shop: Shop, referral_id: int) -> ReferralRecord:
    return referral_record(session, shop, _referral_in_shop(session, shop, referral_id))


def list_referrals(
    session: Session,
    shop: Shop,
    *,
    status: str | None = None,
    advocate_id: int | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> tuple[list[ReferralRecord], int | None]:
    """Newest first; `status` one of REFERRAL_STATUSES or "approval" (waiting for staff)."""
    if advocate_id is None:
        rows, more = queries.list_referrals(
            session, shop, status=status or "all", before_id=before_id, limit=_limit(limit)
        )
        return [_referral_record(r.referral, r.order_name, r.reward) for r in rows], more
    query = (
        select(Referral, Order.name, Reward)
        .outerjoin(Order, Order.id == Referral.order_id)
        .outerjoin(
            Reward,
            (Reward.referral_id == Referral.id) & (Reward.advocate_id == Referral.advocate_id),
        )
        .where(Referral.shop_id == shop.id, Referral.advocate_id == advocate_id)
        .order_by(Referral.id.desc())
        .limit(_limit(limit) + 1)
    )
    if status == "approval":
        query = query.where(Referral.status == "pending", Referral.needs_manual_approval.is_(True))
    elif status:
        query = query.where(Referral.status == status)
    if before_id is not None:
        query = query.where(Referral.id < before_id)
    rows = session.execute(query).all()
    more = len(rows) > _limit(limit)
    rows = rows[: _limit(limit)]
    return (
        [_referral_record(r, name, reward) for r, name, reward in rows],
        rows[-1][0].id if more and rows else None,
    )


def _order_in_shop(
    session: Session, shop: Shop, order_id: int | None, order_name: str | None
) -> Order:
    if order_id is not None:
        order = session.scalar(
            select(Order).where(Order.shop_id == shop.id, Order.shopify_id == order_id)
        )
        if order is None:
            raise NotFound(f"No order {order_id} has been synced from Shopify.")
        return order
    name = (order_name or "").strip()
    if not name:
        raise Refused("Name the order: order_id or order_name.")
    name = name if name.startswith("#") else f"#{name}"
    order = session.scalar(select(Order).where(Order.shop_id == shop.id, Order.name == name))
    if order is None:
        raise NotFound(f"No order {name} has been synced from Shopify.")
    return order


def create_referral(
    session: Session,
    shop: Shop,
    *,
    advocate_id: int,
    order_id: int | None = None,
    order_name: str | None = None,
    reason: str,
    force: bool = False,
    dry_run: bool = False,
    actor: str,
) -> ManualReferral:
    """A referral made by hand, as the Customer Service Portal makes it
    (`staff_actions.staff_create`): attribution `manual`, every rule checked, a block stands
    unless `force` (audited with the reason); `dry_run` keeps nothing and answers which rules
    would block. Raises NotFound (advocate, order) or Refused with the reason (the order has
    a referral, the advocate's own order, an erased customer, no reason)."""
    advocate = _advocate_in_shop(session, shop, advocate_id)
    order = _order_in_shop(session, shop, order_id, order_name)
    try:
        referral, results = staff_actions.staff_create(
            session,
            shop,
            advocate,
            order,
            actor=actor,
            reason=reason if not dry_run else (reason or "(check)"),
            force=force,
            dry_run=dry_run,
        )
    except TransitionRefused as exc:
        raise Refused(str(exc)) from exc
    return ManualReferral(
        referral_record(session, shop, referral) if referral is not None else None,
        [_rule_outcome(r) for r in results],
    )


def _rule_outcome(result: RuleResult) -> RuleOutcome:
    return RuleOutcome(result.rule_id, result.version, result.outcome, result.explanation)


def approve_referral(
    session: Session, shop: Shop, referral_id: int, *, actor: str, reason: str | None = None
) -> ReferralRecord:
    """Approve a pending referral (its reward is issued). Refused unless pending."""
    referral = _referral_in_shop(session, shop, referral_id)
    try:
        staff_actions.staff_approve(session, shop, referral, actor=actor, reason=reason)
    except TransitionRefused as exc:
        raise Refused(str(exc)) from exc
    return referral_record(session, shop, referral)


def void_referral(
    session: Session, shop: Shop, referral_id: int, *, actor: str, reason: str
) -> ReferralRecord:
    """Void a referral with the reason (an unused reward is clawed back). Refused without a
    reason or when already voided."""
    referral = _referral_in_shop(session, shop, referral_id)
    try:
        staff_actions.staff_void(session, shop, referral, actor=actor, reason=reason)
    except TransitionRefused as exc:
        raise Refused(str(exc)) from exc
    return referral_record(session, shop, referral)


# --- rewards ---------------------------------------------------------------------------


def _reward_record(reward: Reward) -> RewardRecord:
    return RewardRecord(
        id=reward.id,
        referral_id=reward.referral_id,
        advocate_id=reward.advocate_id,
        code=reward.code,
        kind=reward.kind,
        value=reward.value,
        currency=reward.currency,
        status=reward.status,
        issued_at=reward.issued_at,
        expires_at=reward.expires_at,
        used_at=reward.used_at,
        used_order_id=reward.used_order_shopify_id,
        voided_at=reward.voided_at,
        void_reason=reward.void_reason,
        created_at=reward.created_at,
    )


def get_reward(session: Session, shop: Shop, reward_id: int) -> RewardRecord:
    reward = session.scalar(select(Reward).where(Reward.shop_id == shop.id, Reward.id == reward_id))
    if reward is None:
        raise NotFound(f"No reward {reward_id}.")
    return _reward_record(reward)


def list_rewards(
    session: Session,
    shop: Shop,
    *,
    status: str | None = None,
    advocate_id: int | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> tuple[list[RewardRecord], int | None]:
    """Newest first, optionally one status (REWARD_STATUSES) or one advocate's."""
    size = _limit(limit)
    query = (
        select(Reward).where(Reward.shop_id == shop.id).order_by(Reward.id.desc()).limit(size + 1)
    )
    if status:
        query = query.where(Reward.status == status)
    if advocate_id is not None:
        query = query.where(Reward.advocate_id == advocate_id)
    if before_id is not None:
        query = query.where(Reward.id < before_id)
    rows = list(session.scalars(query))
    more = len(rows) > size
    rows = rows[:size]
    return [_reward_record(r) for r in rows], (rows[-1].id if more and rows else None)

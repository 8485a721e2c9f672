"""Advocate rewards (B8, H3): one per completed referral, created in Shopify by a job, marked
Used when an order redeems the code, and clawed back (the code deactivated) when its referral
is voided before the code was used."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app import jobs
from shopify_app.db import insert_ignore
from shopify_app.i18n import N_, stored
from shopify_app.models import Advocate, Order, Referral, Reward, Shop, utcnow
from shopify_app.outgoing import payloads
from shopify_app.outgoing.events import emit
from shopify_app.timeline.events import record_event

from .codes import normalise_code, reward_code

FRIEND_CODE_INACTIVE = stored(N_("The friend code is no longer active in Shopify."))
CODE_DELETED = stored(N_("The code was deleted in Shopify."))


def reward_for(session: Session, shop: Shop, referral: Referral) -> Reward | None:
    """The reward of the referral's current advocate (a reassigned referral keeps the voided
    reward of the advocate it had before)."""
    return session.scalar(
        select(Reward).where(
            Reward.shop_id == shop.id,
            Reward.referral_id == referral.id,
            Reward.advocate_id == referral.advocate_id,
        )
    )


def issue(session: Session, shop: Shop, referral: Referral) -> Reward:
    """The referral's reward for its advocate (unique per referral and advocate: a second
    call returns the first), with
    its code drawn now and created in Shopify by `workers.referral_jobs.create_reward_code`
    after commit."""
    existing = reward_for(session, shop, referral)
    if existing is not None:
        return existing
    terms = referral.terms
    now = utcnow()
    expiry_days = int(terms.get("reward_expiry_days") or 0)
    for _attempt in range(5):
        new_id = insert_ignore(
            session,
            Reward,
            {
                "shop_id": shop.id,
                "referral_id": referral.id,
                "advocate_id": referral.advocate_id,
                "code": reward_code(),
                "kind": terms.get("reward_kind", "fixed_amount"),
                "value": int(terms.get("reward_value") or 0),
                "currency": referral.currency,
                "status": "pending",
                "expires_at": now + timedelta(days=expiry_days) if expiry_days else None,
                "created_at": now,
                "updated_at": now,
            },
            ["shop_id", "referral_id", "advocate_id"],
        )
        reward = reward_for(session, shop, referral)
        if reward is not None:
            break
    else:  # pragma: no cover - the code collided five times
        raise RuntimeError("could not draw a unique reward code")
    if new_id is not None:
        jobs.enqueue_after_commit(session, jobs.CREATE_REWARD_CODE, reward.id)
    return reward


def _advocate_customer_id(session: Session, reward: Reward) -> int | None:
    advocate = session.get(Advocate, reward.advocate_id)
    return advocate.customer_id if advocate else None


def _event(session: Session, shop: Shop, reward: Reward, kind: str, **payload) -> None:
    customer_id = _advocate_customer_id(session, reward)
    if customer_id is None:
        return
    record_event(
        session,
        shop_id=shop.id,
        customer_id=customer_id,
        kind=kind,
        occurred_at=utcnow(),
        source="app",
        payload={
            "reward_id": reward.id,
            "referral_id": reward.referral_id,
            "code": reward.code,
            **payload,
        },
        dedupe_key=f"reward:{reward.id}:{kind}",
    )


def _emit(session: Session, shop: Shop, reward: Reward, event_type: str, key: str) -> None:
    """The outgoing webhook event (`reward.issued`, `.used`, `.voided`), keyed so that a
    retried job or a duplicate delivery is one event."""
    emit(session, shop, event_type, payloads.reward(reward), key=f"{event_type}:{reward.id}:{key}")


def mark_issued(session: Session, shop: Shop, reward: Reward, node_id: str) -> None:
    reward.discount_gid = node_id
    reward.status = "issued"
    reward.issued_at = utcnow()
    reward.last_error = None
    _event(session, shop, reward, "reward.issued", value=reward.value, kind_=reward.kind)
    _emit(session, shop, reward, "reward.issued", reward.code)


def redeemed_by(session: Session, shop: Shop, order: Order) -> list[tuple[Reward, int | None]]:
    """The rewards whose codes this order carries, each with its advocate's customer id; those
    not used yet become Used by this order (a cancelled order redeems nothing)."""
    codes = {c for c in (normalise_code(d.get("code")) for d in order.discount_codes or []) if c}
    if not codes:
        return []
    found = session.execute(
        select(Reward, Advocate.customer_id)
        .join(Advocate, Advocate.id == Reward.advocate_id)
        .where(Reward.shop_id == shop.id, Reward.code.in_(codes))
    ).all()
    for reward, _customer_id in found:
        if order.cancelled_at is None and reward.status in ("issued", "unused", "pending"):
            reward.status = "used"
            reward.used_order_shopify_id = order.shopify_id
            reward.used_at = order.processed_at or utcnow()
            _event(
                session, shop, reward, "reward.used", order=order.name, order_id=order.shopify_id
            )
            _emit(session, shop, reward, "reward.used", str(order.shopify_id))
    return [(reward, customer_id) for reward, customer_id in found]


def void(session: Session, shop: Shop, reward: Reward, *, reason: str) -> None:
    """Void the reward; a live code is deactivated in Shopify by a job (the clawback). A
    code already used stays Used: the reason is recorded, nothing can be taken back."""
    if reward.status in ("voided",):
        return
    if reward.status == "used":
        _event(session, shop, reward, "reward.clawback_impossible", reason=reason)
        return
    had_code = reward.discount_gid is not None
    reward.status = "voided"
    reward.voided_at = utcnow()
    reward.void_reason = reason
    _event(session, shop, reward, "reward.voided", reason=reason)
    _emit(session, shop, reward, "reward.voided", reward.code)
    if had_code:
        jobs.enqueue_after_commit(session, jobs.DEACTIVATE_REWARD_CODE, reward.id)


def expire_due(session: Session, shop: Shop, now) -> int:
    """Issued rewards past their expiry become Unused."""
    expired = session.scalars(
        select(Reward).where(
            Reward.shop_id == shop.id,
            Reward.status == "issued",
            Reward.expires_at.is_not(None),
            Reward.expires_at < now,
        )
    ).all()
    for reward in expired:
        reward.status = "unused"
        _event(session, shop, reward, "reward.expired")
    return len(expired)


def reflect_discount(session: Session, shop: Shop, node_gid: str, status: str | None) -> None:
    """A change made to one of the app's codes in Shopify (discounts/* webhooks): a deleted or
    expired friend code is shown as such on its advocate (and made anew on the next sync); a
    deleted reward code voids an unused reward, an expired one makes it Unused."""
    advocate = session.scalar(
        select(Advocate).where(
            Advocate.shop_id == shop.id, Advocate.friend_discount_gid == node_gid
        )
    )
    if advocate is not None:
        if status == "DELETED":
            advocate.friend_discount_status = "deleted"
            advocate.friend_discount_error = "The friend code was deleted in Shopify."
        elif status == "EXPIRED":
            advocate.friend_discount_status = "inactive"
            advocate.friend_discount_error = FRIEND_CODE_INACTIVE
        elif status == "ACTIVE" and advocate.friend_discount_status == "inactive":
            advocate.friend_discount_status = "active"
            advocate.friend_discount_error = None
    reward = session.scalar(
        select(Reward).where(Reward.shop_id == shop.id, Reward.discount_gid == node_gid)
    )
    if reward is not None and reward.status == "issued":
        if status == "DELETED":
            reward.status = "voided"
            reward.voided_at = utcnow()
            reward.void_reason = CODE_DELETED
            _event(session, shop, reward, "reward.voided", reason=reward.void_reason)
            _emit(session, shop, reward, "reward.voided", reward.code)
        elif status == "EXPIRED":
            reward.status = "unused"
            _event(session, shop, reward, "reward.expired")


def reissue(session: Session, shop: Shop, reward: Reward) -> Reward:
    """A voided reward given back (a referral reassigned back to this advocate): the same row
    with a new code, created in Shopify by the usual job. The old code stays deactivated."""
    if reward.status != "voided":
        return reward
    reward.code = reward_code()
    reward.status = "pending"
    reward.discount_gid = None
    reward.voided_at = reward.void_reason = reward.last_error = None
    reward.issued_at = None
    jobs.enqueue_after_commit(session, jobs.CREATE_REWARD_CODE, reward.id)
    _event(session, shop, reward, "reward.reissued")
    return reward

"""Jobs of the referral engine; each takes ids, opens the session and calls the domain
(`shopify_app.referrals.discount_sync` for the codes in Shopify). Their dotted paths are
job names (`shopify_app.jobs`): jobs already queued must still find them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from shopify_app.db import get_session
from shopify_app.emails.delivery import MAX_ATTEMPTS
from shopify_app.jobs import get_queue
from shopify_app.models import Advocate, EmailMessage, Reward, Shop, utcnow
from shopify_app.referrals import discount_sync, rewards, states

from .email_jobs import deliver_email


def sync_friend_code(advocate_id: int) -> str:
    """Create (or bring up to date) the advocate's shareable friend code in Shopify."""
    return discount_sync.sync_friend_code(get_session(), advocate_id)


def delete_friend_discount(advocate_id: int) -> str:
    """Delete an erased advocate's friend discount in Shopify."""
    return discount_sync.delete_friend_discount(get_session(), advocate_id)


def update_friend_codes(shop_id: int) -> int:
    """After a settings change: bring every advocate's friend code to the new terms."""
    return discount_sync.update_friend_codes(get_session(), shop_id)


def create_reward_code(reward_id: int) -> str:
    """Create the reward's code in Shopify, then queue its email."""
    return discount_sync.create_reward_code(get_session(), reward_id)


def deactivate_reward_code(reward_id: int) -> str:
    """The clawback: an unused code of a voided reward stops working in Shopify."""
    return discount_sync.deactivate_reward_code(get_session(), reward_id)


def _per_installed_shop(apply) -> int:
    """Run `apply(session, shop, now)` for every installed shop, a commit each; the sum."""
    session = get_session()
    shop_ids = session.scalars(select(Shop.id).where(Shop.uninstalled_at.is_(None))).all()
    session.commit()
    total = 0
    for shop_id in shop_ids:
        shop = session.get(Shop, shop_id)
        if shop is not None:
            total += apply(session, shop, utcnow())
            session.commit()
    return total


def complete_due_referrals() -> int:
    """Periodic: complete referrals whose approval delay has passed, shop by shop."""
    return _per_installed_shop(states.complete_due)


def expire_rewards() -> int:
    """Periodic: issued rewards past their expiry become Unused."""
    return _per_installed_shop(rewards.expire_due)


STUCK_AFTER = timedelta(minutes=5)


def sweep_referral_work() -> int:
    """Periodic: hand work whose job was lost (Redis restarted, a worker killed) to a new job:
    friend codes and reward codes still pending, emails queued or failed but retryable. Each
    job is idempotent, so a duplicate is harmless. Returns how many jobs were enqueued."""
    session = get_session()
    cutoff = utcnow() - STUCK_AFTER
    advocates_ = session.scalars(
        select(Advocate.id)
        .where(
            Advocate.friend_discount_status.in_(("pending", "deleted")),
            Advocate.updated_at < cutoff,
        )
        .limit(500)
    ).all()
    rewards_ = session.scalars(
        select(Reward.id)
        .where(Reward.status == "pending", Reward.last_error.is_(None), Reward.updated_at < cutoff)
        .limit(500)
    ).all()
    emails = session.scalars(
        select(EmailMessage.id)
        .where(
            EmailMessage.status.in_(("queued", "failed")),
            EmailMessage.attempts < MAX_ATTEMPTS,
            EmailMessage.updated_at < cutoff,
        )
        .limit(500)
    ).all()
    session.commit()
    queue = get_queue()
    for advocate_id in advocates_:
        queue.enqueue_call(sync_friend_code, args=(advocate_id,))
    for reward_id in rewards_:
        queue.enqueue_call(create_reward_code, args=(reward_id,))
    for message_id in emails:
        queue.enqueue_call(deliver_email, args=(message_id,))
    return len(advocates_) + len(rewards_) + len(emails)

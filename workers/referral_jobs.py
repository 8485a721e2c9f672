"""Jobs of the referral engine; each takes ids and reloads its rows.

The Shopify calls run outside any row lock; the result is written after re-reading the row,
so a reward voided while its code was being created has that code deactivated at once.
A refusal (userErrors) is recorded on the row and not retried; network errors, 5xx and
throttling raise, so RQ retries them with backoff; a retry finds the code it made before
(`shopify.discounts.create_discount` adopts it), never a second one.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app.db import get_session
from shopify_app.jobs import get_queue
from shopify_app.models import Advocate, Customer, EmailMessage, Reward, Shop, utcnow
from shopify_app.referrals import advocates, rewards, states
from shopify_app.referrals.codes import reward_code
from shopify_app.referrals.program import get_program, shop_currency
from shopify_app.shopify.admin_api import admin_api
from shopify_app.shopify.discounts import (
    CodeTakenByOthers,
    DiscountSpec,
    create_discount,
    deactivate_discount,
    delete_discount,
    update_discount,
)
from shopify_app.shopify.errors import ReauthorizationRequired, UserErrors
from shopify_app.shopify.services import shopify
from shopify_app.shops import ensure_shop_currency

log = logging.getLogger(__name__)


def _customer_gid(customer: Customer | None) -> tuple[str, ...]:
    if customer is None or customer.shopify_id is None:
        return ()
    return (f"gid://shopify/Customer/{customer.shopify_id}",)


def _installed_shop(session: Session, shop_id: int) -> Shop | None:
    """The shop, while the app is installed there: a job reaches its Shopify only then."""
    shop = session.get(Shop, shop_id)
    return shop if shop is not None and shop.is_installed else None


def friend_spec(shop: Shop, advocate: Advocate, program) -> DiscountSpec:
    """The advocate's shareable friend code, holding at checkout what Shopify can hold.

    "New customers only" cannot be put on a code discount that anyone may be sent
    (shopify-platform.md § 11.6). Customer eligibility (`context.customers`) lists known
    customers, and a segment such as `number_of_orders = 0` (`context.customerSegments`) is
    matched against an identified customer at checkout: a brand-new guest, the friend the
    program exists for, has no customer record yet and would be refused, while an existing
    customer only has to check out as a guest to get past it. So the code stays open to all
    buyers (`context: {all: ALL}`), and with "new customers only" it is always limited to one
    use per customer (`appliesOncePerCustomer`, which Shopify tracks by the buyer's email):
    a friend who used it once is no longer new. What checkout lets through, an existing
    customer using the code, makes no referral (`fraud` rule `existing_customer`) and is
    listed for the merchant (Referrals > Existing customers who used a friend code).
    """
    return DiscountSpec(
        title=f"Referral friend offer · {advocate.code}",
        code=advocate.code,
        kind=program.friend_kind,
        value=program.friend_value,
        currency=shop_currency(shop),
        starts_at=advocate.joined_at,
        min_subtotal_minor=program.friend_min_subtotal_minor,
        once_per_customer=program.friend_once_per_customer or program.friend_new_customers_only,
    )


def sync_friend_code(advocate_id: int) -> str:
    """Create (or bring up to date) the advocate's shareable friend code in Shopify."""
    session = get_session()
    advocate = session.get(Advocate, advocate_id)
    if advocate is None:
        return "gone"
    shop = _installed_shop(session, advocate.shop_id)
    if shop is None:
        return "shop not installed"
    program = get_program(session, shop)
    ensure_shop_currency(session, shop, shopify())
    session.commit()
    api = admin_api(session, shop, shopify())
    try:
        for _attempt in range(3):
            spec = friend_spec(shop, advocate, program)
            try:
                if advocate.friend_discount_status == "deleted":
                    advocate.friend_discount_gid = None  # deleted in Shopify: make it anew
                if advocate.friend_discount_gid:
                    update_discount(api, advocate.friend_discount_gid, spec)
                    node_id = advocate.friend_discount_gid
                else:
                    node_id, _adopted = create_discount(api, spec)
                break
            except CodeTakenByOthers:
                advocates.redraw_code(session, advocate)  # not shared yet: one Shopify lacks
                session.commit()
        else:
            raise UserErrors("discountCodeBasicCreate", [{"message": "no free code found"}])
    except (UserErrors, ReauthorizationRequired) as exc:
        advocate.friend_discount_status = "failed"
        advocate.friend_discount_error = str(exc)[:2000]
        session.commit()
        log.warning("friend code for advocate %s failed: %s", advocate_id, exc)
        return "failed"
    advocate.friend_discount_gid = node_id
    advocate.friend_discount_status = "active"
    advocate.friend_discount_version = program.version
    advocate.friend_discount_error = None
    session.commit()
    return "active"


def delete_friend_discount(advocate_id: int) -> str:
    """An erased advocate's friend discount (its code started with their first name) is
    deleted in Shopify; the advocate keeps a neutral code and no discount."""
    session = get_session()
    advocate = session.get(Advocate, advocate_id)
    if advocate is None or not advocate.friend_discount_gid:
        return "nothing to delete"
    shop = _installed_shop(session, advocate.shop_id)
    if shop is None:
        return "shop not installed"
    session.commit()
    try:
        delete_discount(admin_api(session, shop, shopify()), advocate.friend_discount_gid)
    except UserErrors as exc:
        log.info("friend discount of advocate %s not deleted: %s", advocate_id, exc)
    advocate.friend_discount_gid = None
    session.commit()
    return "deleted"


def update_friend_codes(shop_id: int) -> int:
    """After a settings change: bring every advocate's friend code to the new terms."""
    session = get_session()
    if session.get(Shop, shop_id) is None:
        return 0
    ids = session.scalars(
        select(Advocate.id).where(
            Advocate.shop_id == shop_id,
            Advocate.friend_discount_status.in_(("active", "failed", "pending")),
        )
    ).all()
    session.commit()
    done = 0
    for advocate_id in ids:
        if sync_friend_code(advocate_id) == "active":
            done += 1
    return done


def reward_spec(shop: Shop, reward: Reward, customer: Customer | None) -> DiscountSpec:
    return DiscountSpec(
        title=f"Referral reward · {reward.code}",
        code=reward.code,
        kind=reward.kind,
        value=reward.value,
        currency=reward.currency,
        starts_at=reward.created_at,
        ends_at=reward.expires_at,
        once_per_customer=True,
        usage_limit=1,
        customer_gids=_customer_gid(customer),
    )


def create_reward_code(reward_id: int) -> str:
    """Create the reward's code in Shopify: usage limit 1, for the advocate only, ends at the
    reward's expiry."""
    session = get_session()
    reward = session.get(Reward, reward_id)
    if reward is None:
        return "gone"
    if reward.status != "pending":
        return f"already {reward.status}"
    shop = _installed_shop(session, reward.shop_id)
    if shop is None:
        return "shop not installed"
    advocate = session.get(Advocate, reward.advocate_id)
    customer = session.get(Customer, advocate.customer_id) if advocate else None
    session.commit()
    api = admin_api(session, shop, shopify())
    try:
        for _attempt in range(3):
            try:
                node_id, _adopted = create_discount(api, reward_spec(shop, reward, customer))
                break
            except CodeTakenByOthers:
                reward.code = reward_code()
                session.commit()
        else:
            raise UserErrors("discountCodeBasicCreate", [{"message": "no free code found"}])
    except (UserErrors, ReauthorizationRequired) as exc:
        reward.last_error = str(exc)[:2000]
        session.commit()
        log.warning("reward %s code failed: %s", reward_id, exc)
        return "failed"
    session.refresh(reward, with_for_update=True)
    if reward.status == "voided":  # voided while the code was being made: take it back now
        reward.discount_gid = node_id
        session.commit()
        deactivate_discount(api, node_id)
        return "voided"
    rewards.mark_issued(session, shop, reward, node_id)
    session.commit()
    from .email_jobs import send_reward_email

    send_reward_email(reward.id)  # in this job: one fork fewer between order and inbox
    return "issued"


def deactivate_reward_code(reward_id: int) -> str:
    """The clawback: an unused code of a voided reward stops working in Shopify."""
    session = get_session()
    reward = session.get(Reward, reward_id)
    if reward is None or reward.discount_gid is None:
        return "no code"
    shop = _installed_shop(session, reward.shop_id)
    if shop is None:
        return "shop not installed"
    session.commit()
    try:
        deactivate_discount(admin_api(session, shop, shopify()), reward.discount_gid)
    except UserErrors as exc:
        reward.last_error = str(exc)[:2000]  # e.g. deleted in Shopify already: nothing to undo
        session.commit()
        return "failed"
    return "deactivated"


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
    from .email_jobs import MAX_ATTEMPTS

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
        queue.enqueue_call("workers.email_jobs.deliver_email", args=(message_id,))
    return len(advocates_) + len(rewards_) + len(emails)

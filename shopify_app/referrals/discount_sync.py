"""Referral codes in Shopify: the advocate's friend code and each reward's code are created,
updated, deactivated or deleted here; the jobs in `workers/referral_jobs.py` only open the
session and call these.

The Shopify calls run outside any row lock; the result is written after re-reading the row,
so a reward voided while its code was being created has that code deactivated at once.
A refusal (userErrors) is recorded on the row and not retried; network errors, 5xx and
throttling raise, so RQ retries them with backoff; a retry finds the code it made before
(`shopify.discounts.create_discount` adopts it), never a second one.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app.models import Advocate, Customer, Reward, Shop
from shopify_app.shopify.admin_api import admin_api
from shopify_app.shopify.discounts import (
    CodeTakenByOthers,
    create_discount,
    deactivate_discount,
    delete_discount,
    update_discount,
)
from shopify_app.shopify.errors import ReauthorizationRequired, UserErrors
from shopify_app.shopify.services import shopify
from shopify_app.shops import ensure_shop_currency

from . import advocates, rewards
from .codes import reward_code
from .discount_specs import friend_spec, reward_spec
from .program import get_program
from .reward_email import announce_reward

log = logging.getLogger(__name__)


def _installed_shop(session: Session, shop_id: int) -> Shop | None:
    """The shop, while the app is installed there: a job reaches its Shopify only then."""
    shop = session.get(Shop, shop_id)
    return shop if shop is not None and shop.is_installed else None


def sync_friend_code(session: Session, advocate_id: int) -> str:
    """Create (or bring up to date) the advocate's shareable friend code in Shopify."""
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


def delete_friend_discount(session: Session, advocate_id: int) -> str:
    """An erased advocate's friend discount (its code started with their first name) is
    deleted in Shopify; the advocate keeps a neutral code and no discount."""
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


def update_friend_codes(session: Session, shop_id: int) -> int:
    """After a settings change: bring every advocate's friend code to the new terms."""
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
        if sync_friend_code(session, advocate_id) == "active":
            done += 1
    return done


def create_reward_code(session: Session, reward_id: int) -> str:
    """Create the reward's code in Shopify: usage limit 1, for the advocate only, ends at the
    reward's expiry."""
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
    announce_reward(session, reward.id)  # in this job: one fork fewer between order and inbox
    session.commit()
    return "issued"


def deactivate_reward_code(session: Session, reward_id: int) -> str:
    """The clawback: an unused code of a voided reward stops working in Shopify."""
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

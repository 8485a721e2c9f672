"""What the portal shows about a person, a referral and a reward (D2, D3, D5): every fact
with its reason, read from the rows the engine wrote."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from shopify_app.db import unindexed
from shopify_app.i18n import N_, stored_text
from shopify_app.models import (
    Advocate,
    Customer,
    EmailMessage,
    FraudCheck,
    Order,
    Referral,
    ReferralClick,
    ReferralTransition,
    Reward,
    Shop,
)
from shopify_app.referrals import staff_actions
from shopify_app.storefront.share import share_token


@dataclass
class ReferralView:
    referral: Referral
    advocate: Advocate
    advocate_customer: Customer | None
    friend: Customer | None
    order: Order | None
    checks: list[FraudCheck]  # the latest evaluation
    earlier_evaluations: int
    transitions: list[ReferralTransition]
    reward: Reward | None
    reward_emails: list[EmailMessage]
    reward_status: str
    # Each staff action with why it would be refused (None: offered), `offered_actions`.
    actions: dict[str, str | None] = field(default_factory=dict)
    # A suggestion for "give this referral to": another advocate whose code the order also
    # carried, unless the referral was reassigned already (then the form starts empty).
    reassign_suggestion: str = ""

    def offers(self, action: str) -> bool:
        return action in self.actions and self.actions[action] is None


def referral_view(session: Session, shop: Shop, referral_id: int) -> ReferralView | None:
    referral = session.scalar(
        select(Referral).where(Referral.shop_id == shop.id, Referral.id == referral_id)
    )
    if referral is None:
        return None
    advocate = session.get(Advocate, referral.advocate_id)
    latest = session.scalar(
        select(func.max(FraudCheck.evaluation)).where(FraudCheck.referral_id == referral.id)
    )
    checks = (
        list(
            session.scalars(
                select(FraudCheck)
                .where(FraudCheck.referral_id == referral.id, FraudCheck.evaluation == latest)
                .order_by(FraudCheck.outcome, FraudCheck.id)  # "block" first
            )
        )
        if latest
        else []
    )
    reward = session.scalar(
        select(Reward).where(
            Reward.shop_id == shop.id,
            Reward.referral_id == referral.id,
            Reward.advocate_id == referral.advocate_id,
        )
    )
    emails = (
        list(
            session.scalars(
                select(EmailMessage)
                .where(EmailMessage.shop_id == shop.id, EmailMessage.reward_id == reward.id)
                .order_by(EmailMessage.id)
            )
        )
        if reward
        else []
    )
    transitions = list(
        session.scalars(
            select(ReferralTransition)
            .where(ReferralTransition.referral_id == referral.id)
            .order_by(ReferralTransition.id)
        )
    )
    reassigned = any(t.cause.startswith("reassigned:") for t in transitions)
    suggestion = next(
        (
            c.get("code")
            for c in (referral.attribution_evidence or {}).get("candidates", [])
            if c.get("advocate_id") and c.get("advocate_id") != referral.advocate_id
        ),
        None,
    )
    return ReferralView(
        referral=referral,
        advocate=advocate,
        advocate_customer=session.get(Customer, advocate.customer_id) if advocate else None,
        friend=(
            session.get(Customer, referral.friend_customer_id)
            if referral.friend_customer_id
            else None
        ),
        order=session.get(Order, referral.order_id) if referral.order_id else None,
        checks=checks,
        earlier_evaluations=(latest or 1) - 1,
        transitions=transitions,
        reward=reward,
        reward_emails=emails,
        reward_status=where_is_the_reward(referral, reward, emails),
        actions=staff_actions.offered_actions(session, shop, referral),
        reassign_suggestion="" if reassigned else (suggestion or ""),
    )


def _day(moment) -> str:
    return f"{moment:%Y-%m-%d}"


def _voided_story(referral: Referral, reward: Reward | None, emails: list[EmailMessage]) -> str:
    """A voided referral's reward, whole: was it issued, emailed, used, deactivated?"""
    reason = stored_text(referral.status_reason)
    head = (_("No reward: the referral was voided.") + f" {reason}").strip()
    if reward is None or reward.issued_at is None:
        return head
    sent = [m for m in emails if m.status == "sent"]
    if sent:
        last = sent[-1]
        story = _(
            "%(head)s Its reward %(code)s had been issued on %(issued)s and emailed to "
            "%(address)s on %(sent)s",
            head=head,
            code=reward.code,
            issued=_day(reward.issued_at),
            address=last.to_address,
            sent=_day(last.sent_at or last.created_at),
        )
    else:
        story = _(
            "%(head)s Its reward %(code)s had been issued on %(issued)s",
            head=head,
            code=reward.code,
            issued=_day(reward.issued_at),
        )
    if reward.status == "used":
        return _(
            "%(story)s; it was used on order %(order)s before the void, "
            "and a used code cannot be taken back.",
            story=story,
            order=reward.used_order_shopify_id,
        )
    if reward.last_error and reward.status == "voided":
        return _(
            "%(story)s; deactivating the code in Shopify failed: %(error)s",
            story=story,
            error=reward.last_error,
        )
    return _(
        "%(story)s; the code was deactivated in Shopify, so it can no longer be used.",
        story=story,
    )


def _last_email_story(emails: list[EmailMessage]) -> str:
    """The latest reward email, when the mail system said it did not arrive."""
    last = emails[-1] if emails else None
    if (
        last is None
        or last.status != "sent"
        or last.delivery_status not in ("bounced", "complained")
    ):
        return ""
    if last.delivery_status == "complained":
        return " " + _(
            "The reward email to %(address)s was marked as spam by the recipient.",
            address=last.to_address,
        )
    detail = last.delivery_detail or ""
    return " " + _(
        "The reward email to %(address)s bounced: %(detail)s",
        address=last.to_address,
        detail=f"{detail[:1].lower()}{detail[1:]}",
    )


_TRIGGERS = {
    "paid": N_("Waiting for the friend's order to be paid."),
    "fulfilled": N_("Waiting for the friend's order to be fulfilled."),
    "days_after_paid": N_("Waiting for the friend's order to be days after paid."),
    "event": N_("Waiting for the friend's order to be event."),
}


def where_is_the_reward(
    referral: Referral, reward: Reward | None, emails: list[EmailMessage] | None = None
) -> str:
    """D3 in one sentence: the reward's state and why."""
    if referral.status == "blocked":
        reason = stored_text(referral.status_reason)
        return (_("No reward: the referral was blocked.") + f" {reason}").strip()
    if referral.status == "voided":
        return _voided_story(referral, reward, emails or [])
    if referral.status == "pending":
        if referral.flagged_at is not None:
            return _(
                "Held for review: %(why)s Approve it to issue the reward, or void it.",
                why=stored_text(referral.flag_reason) or _("a rule flagged the referral."),
            )
        if referral.needs_manual_approval:
            return _("Waiting for a staff member to approve the referral (manual approval).")
        if referral.approve_after is None:
            trigger = (referral.terms or {}).get("reward_trigger", "paid")
            if trigger in _TRIGGERS:
                return _(_TRIGGERS[trigger])
            return f"Waiting for the friend's order to be {trigger.replace('_', ' ')}."
        return _(
            "Pending approval until %(moment)s.",
            moment=f"{referral.approve_after:%Y-%m-%d %H:%M UTC}",
        )
    if reward is None:
        return _("Completed; the reward is being created.")
    if reward.status == "pending":
        return (
            _(
                "Completed; the reward code could not be created in Shopify yet: %(error)s",
                error=reward.last_error,
            )
            if reward.last_error
            else _("Completed; the reward code is being created in Shopify.")
        )
    if reward.status == "issued":
        issued = (
            _(
                "Issued: code %(code)s, not used yet, expires %(expires)s.",
                code=reward.code,
                expires=_day(reward.expires_at),
            )
            if reward.expires_at
            else _("Issued: code %(code)s, not used yet.", code=reward.code)
        )
        return issued + _last_email_story(emails or [])
    if reward.status == "used":
        return _(
            "Used: code %(code)s was redeemed on order %(order)s.",
            code=reward.code,
            order=reward.used_order_shopify_id,
        )
    if reward.status == "unused":
        return _(
            "Expired unused: code %(code)s ended %(ended)s.",
            code=reward.code,
            ended=_day(reward.expires_at),
        )
    return _(
        "Voided: %(why)s.",
        why=stored_text(reward.void_reason) or _("the referral was voided"),
    )


@dataclass
class PersonView:
    customer: Customer
    advocate: Advocate | None
    as_advocate: list[Referral]
    as_friend: list[Referral]
    rewards: list[Reward]
    emails: list[EmailMessage]
    order_names: dict[int, str] = field(default_factory=dict)  # order id -> "#1002"
    friends: dict[int, Customer] = field(default_factory=dict)  # of their referrals, by id


def person_view(session: Session, shop: Shop, customer_id: int) -> PersonView | None:
    customer = session.scalar(
        select(Customer).where(Customer.shop_id == shop.id, Customer.id == customer_id)
    )
    return None if customer is None else person_view_of(session, shop, customer)


def person_view_of(session: Session, shop: Shop, customer: Customer) -> PersonView:
    """Everything about one person: their referrals both ways (with the friends and orders
    they name), rewards and emails. The portal's person page and the customer detail."""
    advocate = session.scalar(
        select(Advocate).where(Advocate.shop_id == shop.id, Advocate.customer_id == customer.id)
    )
    as_advocate = (
        list(
            session.scalars(
                select(Referral)
                .where(Referral.shop_id == shop.id, Referral.advocate_id == advocate.id)
                .order_by(Referral.id.desc())
                .limit(100)
            )
        )
        if advocate
        else []
    )
    email_filter: list[Any] = [EmailMessage.customer_id == customer.id]
    if customer.email:
        email_filter.append(EmailMessage.to_address == customer.email.lower())
    as_friend = list(
        session.scalars(
            select(Referral)
            .where(Referral.shop_id == shop.id, Referral.friend_customer_id == customer.id)
            .order_by(Referral.id.desc())
        )
    )
    order_ids = {r.order_id for r in as_friend if r.order_id is not None}
    order_names = dict(
        session.execute(
            select(Order.id, Order.name).where(Order.shop_id == shop.id, Order.id.in_(order_ids))
        ).all()
    )
    friend_ids = {r.friend_customer_id for r in as_advocate if r.friend_customer_id}
    friends = (
        {
            c.id: c
            for c in session.scalars(
                select(Customer).where(
                    unindexed(Customer.shop_id) == shop.id, Customer.id.in_(friend_ids)
                )
            )
        }
        if friend_ids
        else {}
    )
    return PersonView(
        customer=customer,
        advocate=advocate,
        as_advocate=as_advocate,
        as_friend=as_friend,
        order_names=order_names,
        friends=friends,
        rewards=(
            list(
                session.scalars(
                    select(Reward)
                    .where(Reward.shop_id == shop.id, Reward.advocate_id == advocate.id)
                    .order_by(Reward.id.desc())
                )
            )
            if advocate
            else []
        ),
        emails=list(
            session.scalars(
                select(EmailMessage)
                .where(EmailMessage.shop_id == shop.id, or_(*email_filter))
                .order_by(EmailMessage.id.desc())
                .limit(100)
            )
        ),
    )


@dataclass
class ShareRow:
    """One share (D5, "did my friend get an email?"): the offer email to a friend, its
    delivery, the clicks on its own link, and the friend's first order after it."""

    message: EmailMessage
    clicks: int
    order_name: str | None
    referral_id: int | None


def shares_of(session: Session, shop: Shop, advocate: Advocate, limit: int = 100) -> list[ShareRow]:
    messages = list(
        session.scalars(
            select(EmailMessage)
            .where(
                EmailMessage.shop_id == shop.id,
                EmailMessage.advocate_id == advocate.id,
                EmailMessage.kind == "share",
            )
            .order_by(EmailMessage.id.desc())
            .limit(limit)
        )
    )
    if not messages:
        return []
    clicks = dict(
        session.execute(
            select(ReferralClick.share_token, func.count())
            .where(
                ReferralClick.shop_id == shop.id,
                ReferralClick.advocate_id == advocate.id,
                ReferralClick.share_token.is_not(None),
            )
            .group_by(ReferralClick.share_token)
        ).all()
    )
    addresses = {m.to_address.lower() for m in messages}
    # The friend's orders: customers by their (indexed) normalised email, then their orders.
    orders = session.execute(
        select(Customer.email_normalized, Order.name, Order.shopify_id, Order.shopify_created_at)
        .join(Order, Order.customer_id == Customer.id)
        .where(
            Customer.shop_id == shop.id,
            Customer.email_normalized.in_(addresses),
            Order.shop_id == shop.id,
        )
        .order_by(Order.id)
    ).all()
    referrals = dict(
        session.execute(
            select(Referral.order_shopify_id, Referral.id).where(
                Referral.shop_id == shop.id,
                Referral.order_shopify_id.in_([o.shopify_id for o in orders]),
            )
        ).all()
    )
    rows = []
    for message in messages:
        after = [
            o
            for o in orders
            if o.email_normalized == message.to_address.lower()
            and (o.shopify_created_at is None or o.shopify_created_at >= message.created_at)
        ]
        first = after[0] if after else None
        rows.append(
            ShareRow(
                message=message,
                clicks=clicks.get(share_token(message.dedupe_key), 0),
                order_name=first.name if first else None,
                referral_id=referrals.get(first.shopify_id) if first else None,
            )
        )
    return rows

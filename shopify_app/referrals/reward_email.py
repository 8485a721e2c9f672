"""The reward email: the advocate is told the code they earned (once per reward, and again
when staff resend it from the Customer Service Portal)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from shopify_app.emails import queue_email, render
from shopify_app.emails.marketing_consent import unsubscribed_reason
from shopify_app.i18n import Discount, email_locale
from shopify_app.models import Advocate, Customer, EmailMessage, Reward, Shop, utcnow
from shopify_app.timeline.events import record_event

from .program import shop_currency


class NotSendable(ValueError):
    """The email cannot be sent; the message says why."""


def describe_value(kind: str, value: int, currency: str) -> Discount:
    return Discount(kind, value, currency)


def queue_reward_email(
    session: Session, shop: Shop, reward: Reward, *, dedupe_key: str
) -> tuple[EmailMessage, bool]:
    """Render and queue the reward email for the advocate; (message, newly queued)."""
    if reward.status not in ("issued", "used", "unused"):
        raise NotSendable(f"the reward is {reward.status}: there is no code to send")
    advocate = session.get(Advocate, reward.advocate_id)
    customer = session.get(Customer, advocate.customer_id) if advocate else None
    if customer is None or customer.redacted_at is not None:
        raise NotSendable("the advocate's data was erased at their request")
    if not customer.email:
        raise NotSendable("the advocate has no email address")
    refusal = unsubscribed_reason(session, shop.id, customer_id=customer.id, address=None)
    if refusal is not None:
        raise NotSendable(refusal)
    subject, body = render(
        "reward",
        locale=email_locale(session, shop, customer),
        shop=shop,
        customer=customer,
        reward=reward,
        value=describe_value(reward.kind, reward.value, reward.currency or shop_currency(shop)),
    )
    return queue_email(
        session,
        shop,
        kind="reward",
        to=customer.email,
        subject=subject,
        body=body,
        dedupe_key=dedupe_key,
        customer_id=customer.id,
        referral_id=reward.referral_id,
        reward_id=reward.id,
        advocate_id=reward.advocate_id,
    )


def announce_reward(session: Session, reward_id: int) -> str:
    """Queue the reward's email once (its dedupe key is the reward); when it cannot be sent,
    the advocate's timeline says why. The caller commits."""
    reward = session.get(Reward, reward_id)
    shop = session.get(Shop, reward.shop_id) if reward else None
    if reward is None or shop is None or reward.status not in ("issued", "used"):
        return "no reward to announce"
    try:
        queue_reward_email(session, shop, reward, dedupe_key=f"reward:{reward.id}")
    except NotSendable as exc:
        advocate = session.get(Advocate, reward.advocate_id)
        if advocate is not None:
            record_event(
                session,
                shop_id=shop.id,
                customer_id=advocate.customer_id,
                kind="email.reward.not_sent",
                occurred_at=utcnow(),
                source="app",
                payload={"reward_id": reward.id, "reason": str(exc)},
                dedupe_key=f"reward:{reward.id}:email-not-sent",
            )
        return f"not sent: {exc}"
    return "queued"

"""Email jobs: deliver a stored message (`shopify_app.emails.delivery`) and announce a
reward (`shopify_app.referrals.reward_email`). Their dotted paths are job names
(`shopify_app.jobs`): jobs already queued must still find them."""

from __future__ import annotations

from shopify_app.conversations.email_replies import compose_reply
from shopify_app.db import get_session
from shopify_app.emails import delivery
from shopify_app.referrals.advocates import invitation_message_refusal
from shopify_app.referrals.reward_email import announce_reward


def deliver_email(message_id: int) -> str:
    """Send a queued message; a failed send raises, so RQ retries it."""
    return delivery.deliver(
        get_session(),
        message_id,
        invitation_refusal=invitation_message_refusal,
        compose=compose_reply,
    )


def send_reward_email(reward_id: int) -> str:
    """Tell the advocate their reward code (once per reward)."""
    session = get_session()
    outcome = announce_reward(session, reward_id)
    session.commit()
    return outcome

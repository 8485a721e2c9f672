"""A customer unsubscribed from email marketing (E4) gets none of the app's emails:
invitations, shares and reward notices are refused when queued, and a message queued
before the unsubscribe is not sent by the job, with the reason kept."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shopify_app.customers import unsubscribe
from shopify_app.emails import Unsubscribed, delivery, queue_email
from shopify_app.emails.marketing_consent import REASON
from shopify_app.models import EmailMessage
from shopify_app.referrals import advocates, reward_email
from shopify_app.storefront import share

from .. import factories
from . import queries

LIMITS = share.ShareLimits(
    per_advocate=50, per_recipient=5, recipient_days=7, per_ip=50, per_shop=500
)


@pytest.fixture
def shop(session):
    shop = factories.shop(session)
    factories.program(session, shop)
    return shop


@pytest.fixture
def subscriber(session, shop):
    return factories.customer(session, shop, email_marketing_state="subscribed")


def _unsubscribe(session, shop, customer):
    unsubscribe.request_unsubscribe(
        session, shop, customer, ["email"], actor="staff:1", reason="asked", request_key="k"
    )
    session.commit()


def _never_refused(_session, _message):
    return None


def _deliver(session, message_id):
    return delivery.deliver(session, message_id, invitation_refusal=_never_refused)


def _queue(session, shop, customer, kind, **kw):
    message, _ = queue_email(
        session,
        shop,
        kind=kind,
        to=customer.email,
        subject="Hello",
        body="Body",
        dedupe_key=f"{kind}:{customer.id}:test",
        **kw,
    )
    session.commit()
    return message


def test_an_invitation_is_refused_after_the_unsubscribe(session, shop, subscriber, enqueued):
    _unsubscribe(session, shop, subscriber)
    with pytest.raises(advocates.InvitationRefused) as refused:
        advocates.invite(
            session, shop, subscriber, actor="staff:1", join_url="https://x", offer="10%"
        )
    assert refused.value.code == "unsubscribed"


def test_an_invitation_queued_before_is_not_sent(session, shop, subscriber, enqueued):
    message = _queue(session, shop, subscriber, "invitation", customer_id=subscriber.id)
    _unsubscribe(session, shop, subscriber)
    assert _deliver(session, message.id) == f"suppressed: {REASON}"
    session.refresh(message)
    assert (message.status, message.error) == ("suppressed", REASON)


def test_a_share_skips_a_friend_who_unsubscribed(session, shop, subscriber, enqueued):
    advocate = factories.advocate(session, shop)
    owner = session.get(type(subscriber), advocate.customer_id)
    _unsubscribe(session, shop, subscriber)
    other = "friend-still-subscribed@example.com"
    result = share.share_offer(
        session, shop, advocate, owner, [subscriber.email.lower(), other], ip=None, limits=LIMITS
    )
    assert result.skipped == {subscriber.email.lower(): "suppressed"}
    assert result.sent == [other]


def test_a_share_queued_before_is_not_sent(session, shop, subscriber, enqueued):
    advocate = factories.advocate(session, shop)
    message = _queue(session, shop, subscriber, "share", advocate_id=advocate.id)
    assert message.customer_id is None  # a share names an address, not a customer
    _unsubscribe(session, shop, subscriber)
    assert _deliver(session, message.id) == f"suppressed: {REASON}"


def test_queueing_any_kind_for_an_unsubscribed_customer_raises(session, shop, subscriber):
    _unsubscribe(session, shop, subscriber)
    for kind in ("reward", "invitation", "share"):
        with pytest.raises(Unsubscribed):
            _queue(session, shop, subscriber, kind)
    assert session.scalars(select(EmailMessage).where(EmailMessage.shop_id == shop.id)).all() == []


def _reward_for(session, shop, customer):
    advocate = factories.advocate(session, shop, customer)
    order = factories.order(session, shop)
    referral = factories.referral(session, shop, advocate, order, status="completed")
    return factories.reward(session, shop, referral)


def test_a_reward_notice_is_not_sent_and_the_timeline_says_why(session, shop, subscriber, enqueued):
    reward = _reward_for(session, shop, subscriber)
    _unsubscribe(session, shop, subscriber)
    assert reward_email.announce_reward(session, reward.id) == f"not sent: {REASON}"
    [event] = queries.events(session, shop, "email.reward.not_sent")
    assert event.payload["reason"] == REASON
    with pytest.raises(reward_email.NotSendable, match="unsubscribed"):  # the portal's resend
        reward_email.queue_reward_email(session, shop, reward, dedupe_key="resend-1")


def test_a_reward_notice_queued_before_is_not_sent(session, shop, subscriber, enqueued):
    reward = _reward_for(session, shop, subscriber)
    assert reward_email.announce_reward(session, reward.id) == "queued"
    session.commit()
    [message] = session.scalars(select(EmailMessage).where(EmailMessage.shop_id == shop.id))
    _unsubscribe(session, shop, subscriber)
    assert _deliver(session, message.id) == f"suppressed: {REASON}"


def test_a_subscribed_customer_still_gets_their_reward_notice(session, shop, subscriber, enqueued):
    reward = _reward_for(session, shop, subscriber)
    assert reward_email.announce_reward(session, reward.id) == "queued"

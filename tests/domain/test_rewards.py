"""Rewards: issued once per referral and advocate, used by an order, expired, voided (the
code deactivated in Shopify by a job after commit), reissued with a new code."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shopify_app import jobs
from shopify_app.models import Reward, utcnow
from shopify_app.referrals import rewards, staff_actions
from shopify_app.sync import order_flow

from .. import factories
from . import queries

pytestmark = pytest.mark.program


@pytest.fixture
def referral(session, shop):
    advocate = factories.advocate(session, shop)
    order = factories.order(session, shop, factories.customer(session, shop))
    return factories.referral(session, shop, advocate, order, status="completed")


def test_issue_draws_a_code_with_the_terms_and_enqueues_its_creation(
    session, shop, referral, enqueued
):
    reward = rewards.issue(session, shop, referral)
    assert reward.code.startswith("REWARD-")
    assert (reward.status, reward.kind, reward.value, reward.currency) == (
        "pending",
        "fixed_amount",
        1000,
        "EUR",
    )
    assert reward.expires_at - utcnow() > timedelta(days=89)
    session.commit()
    assert enqueued.calls(jobs.CREATE_REWARD_CODE) == [(reward.id,)]


def test_issuing_twice_returns_the_first_reward_and_enqueues_once(
    session, shop, referral, enqueued
):
    first = rewards.issue(session, shop, referral)
    second = rewards.issue(session, shop, referral)
    session.commit()
    assert second.id == first.id and second.code == first.code
    assert len(queries.rewards(session, shop)) == 1
    assert enqueued.names() == [jobs.CREATE_REWARD_CODE]


def test_a_rolled_back_issue_enqueues_nothing(session, shop, referral, enqueued):
    session.commit()
    rewards.issue(session, shop, referral)
    session.rollback()
    assert queries.rewards(session, shop) == []
    assert enqueued.jobs == []


def test_no_expiry_when_the_program_says_never(session, shop, referral):
    referral.terms = {**referral.terms, "reward_expiry_days": 0}
    assert rewards.issue(session, shop, referral).expires_at is None


def test_mark_issued_keeps_the_node_and_tells_the_timeline(session, shop, referral):
    reward = rewards.issue(session, shop, referral)
    rewards.mark_issued(session, shop, reward, "gid://shopify/DiscountCodeNode/77")
    assert (reward.status, reward.discount_gid) == ("issued", "gid://shopify/DiscountCodeNode/77")
    assert queries.event_kinds(session, shop)[-1] == "reward.issued"


def test_expire_due_makes_issued_rewards_past_expiry_unused(session, shop, referral):
    past = factories.reward(session, shop, referral, expires_at=utcnow() - timedelta(days=1))
    other = factories.referral(
        session, shop, factories.advocate(session, shop), factories.order(session, shop)
    )
    future = factories.reward(session, shop, other, expires_at=utcnow() + timedelta(days=1))
    assert rewards.expire_due(session, shop, utcnow()) == 1
    assert (past.status, future.status) == ("unused", "issued")
    assert "reward.expired" in queries.event_kinds(session, shop)


def test_voiding_a_live_code_deactivates_it_after_commit(session, shop, referral, enqueued):
    reward = factories.reward(session, shop, referral)
    rewards.void(session, shop, reward, reason="refunded")
    assert (reward.status, reward.void_reason) == ("voided", "refunded")
    assert enqueued.jobs == []
    session.commit()
    assert enqueued.calls(jobs.DEACTIVATE_REWARD_CODE) == [(reward.id,)]


def test_voiding_twice_deactivates_once(session, shop, referral, enqueued):
    reward = factories.reward(session, shop, referral)
    rewards.void(session, shop, reward, reason="refunded")
    rewards.void(session, shop, reward, reason="again")
    session.commit()
    assert reward.void_reason == "refunded"
    assert len(enqueued.calls(jobs.DEACTIVATE_REWARD_CODE)) == 1


def test_a_used_reward_cannot_be_clawed_back(session, shop, referral, enqueued):
    reward = factories.reward(session, shop, referral, status="used")
    rewards.void(session, shop, reward, reason="refunded")
    session.commit()
    assert reward.status == "used"
    assert queries.event_kinds(session, shop)[-1] == "reward.clawback_impossible"
    assert enqueued.jobs == []


def test_an_order_carrying_the_code_uses_the_reward(session, shop, referral):
    reward = factories.reward(session, shop, referral)
    payload = factories.order_payload(
        None, discount_codes=[{"code": reward.code.lower(), "amount": "10.00", "type": "x"}]
    )
    order_flow.apply_order(session, shop, payload)
    assert (reward.status, reward.used_order_shopify_id) == ("used", payload["id"])
    assert reward.used_at is not None


def test_a_cancelled_order_uses_no_reward(session, shop, referral):
    reward = factories.reward(session, shop, referral)
    payload = factories.order_payload(
        None,
        discount_codes=[{"code": reward.code, "amount": "10.00", "type": "x"}],
        cancelled_at=factories.payloads.ts(1),
    )
    order_flow.apply_order(session, shop, payload)
    assert reward.status == "issued"


def test_reissue_gives_a_voided_reward_a_new_code(session, shop, referral, enqueued):
    reward = factories.reward(session, shop, referral, status="voided", void_reason="x")
    old_code = reward.code
    assert rewards.reissue(session, shop, reward) is reward
    assert reward.code != old_code
    assert (reward.status, reward.discount_gid, reward.void_reason) == ("pending", None, None)
    session.commit()
    assert enqueued.calls(jobs.CREATE_REWARD_CODE) == [(reward.id,)]


def test_reissue_leaves_a_live_reward_alone(session, shop, referral, enqueued):
    reward = factories.reward(session, shop, referral)
    code = reward.code
    rewards.reissue(session, shop, reward)
    session.commit()
    assert (reward.code, reward.status) == (code, "issued")
    assert enqueued.jobs == []


@pytest.mark.parametrize(
    ("status", "expected"), [("DELETED", "voided"), ("EXPIRED", "unused"), ("ACTIVE", "issued")]
)
def test_a_change_made_in_shopify_is_reflected_on_the_reward(
    session, shop, referral, status, expected
):
    reward = factories.reward(session, shop, referral)
    rewards.reflect_discount(session, shop, reward.discount_gid, status)
    assert reward.status == expected


def test_a_deleted_friend_code_is_shown_on_its_advocate(session, shop):
    advocate = factories.advocate(session, shop, friend_discount_gid="gid://x/1")
    rewards.reflect_discount(session, shop, "gid://x/1", "DELETED")
    assert advocate.friend_discount_status == "deleted"
    assert "deleted" in advocate.friend_discount_error


def test_a_reassigned_referral_voids_the_old_reward_and_issues_the_new_advocate_one(
    session, shop, referral, enqueued
):
    old = factories.reward(session, shop, referral)
    newcomer = factories.advocate(session, shop)
    new = staff_actions.staff_reassign(
        session, shop, referral, newcomer, actor="staff:1", reason="disputed"
    )
    session.commit()
    assert old.status == "voided"
    assert (new.advocate_id, new.status) == (newcomer.id, "pending")
    assert enqueued.calls(jobs.DEACTIVATE_REWARD_CODE) == [(old.id,)]
    assert enqueued.calls(jobs.CREATE_REWARD_CODE) == [(new.id,)]


def test_reassigning_back_reissues_the_first_advocates_reward(session, shop, referral):
    first_advocate_id = referral.advocate_id
    original = factories.reward(session, shop, referral)
    newcomer = factories.advocate(session, shop)
    staff_actions.staff_reassign(session, shop, referral, newcomer, actor="staff:1", reason="a")
    back = session.get(type(newcomer), first_advocate_id)
    again = staff_actions.staff_reassign(session, shop, referral, back, actor="staff:1", reason="b")
    assert again.id == original.id and again.status == "pending"
    assert session.query(Reward).filter_by(referral_id=referral.id).count() == 2

"""Staff actions on referrals: each needs a reason, moves the referral as the state machine
allows, and leaves an audit entry."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shopify_app import jobs
from shopify_app.models import AuditEntry
from shopify_app.referrals import staff_actions, states
from shopify_app.sync import order_flow

from .. import factories
from . import queries

pytestmark = pytest.mark.program


def _audited(session, shop) -> list[str]:
    return list(
        session.scalars(
            select(AuditEntry.action).where(AuditEntry.shop_id == shop.id).order_by(AuditEntry.id)
        )
    )


def _completed(session, shop):
    advocate = factories.advocate(session, shop)
    payload = factories.order_payload(advocate.code, financial_status="paid")
    order_flow.apply_order(session, shop, payload)
    return queries.referrals(session, shop)[0]


def test_a_void_needs_a_reason(session, shop):
    referral = _completed(session, shop)
    with pytest.raises(states.TransitionRefused):
        staff_actions.staff_void(session, shop, referral, actor="staff:1", reason="  ")
    assert referral.status == "completed"


def test_staff_void_and_unvoid_give_the_reward_back_with_a_new_code(session, shop, enqueued):
    referral = _completed(session, shop)
    [reward] = queries.rewards(session, shop)
    first_code = reward.code
    staff_actions.staff_void(session, shop, referral, actor="staff:1", reason="duplicate account")
    assert (referral.status, reward.status) == ("voided", "voided")
    staff_actions.staff_unvoid(session, shop, referral, actor="staff:1", reason="checked again")
    assert (referral.status, reward.status) == ("completed", "pending")
    assert reward.code != first_code
    assert _audited(session, shop) == ["referral.voided", "referral.unvoided"]
    session.commit()
    assert enqueued.calls(jobs.CREATE_REWARD_CODE) == [(reward.id,), (reward.id,)]


def test_a_referral_whose_order_was_refunded_cannot_be_unvoided(session, shop):
    advocate = factories.advocate(session, shop)
    payload = factories.order_payload(advocate.code, financial_status="paid")
    order_flow.apply_order(session, shop, payload)
    order_flow.apply_refund(session, shop, factories.refund_payload(payload["id"], "89.90"))
    [referral] = queries.referrals(session, shop)
    with pytest.raises(states.TransitionRefused, match="refunded"):
        staff_actions.staff_unvoid(session, shop, referral, actor="staff:1", reason="please")


def test_unblocking_moves_the_referral_on_as_its_order_allows(session, shop):
    owner = factories.customer(session, shop)
    advocate = factories.advocate(session, shop, owner)
    order_flow.apply_order(
        session,
        shop,
        factories.order_payload(advocate.code, cid=owner.shopify_id, financial_status="paid"),
    )
    [referral] = queries.referrals(session, shop)
    assert referral.status == "blocked"
    staff_actions.staff_unblock(session, shop, referral, actor="staff:1", reason="family member")
    assert referral.status == "completed"
    assert [t[2] for t in queries.transitions(session, referral)][-2:] == [
        "unblocked",
        "approved:automatic",
    ]


def test_approving_a_blocked_referral_is_refused(session, shop):
    owner = factories.customer(session, shop)
    advocate = factories.advocate(session, shop, owner)
    order_flow.apply_order(
        session, shop, factories.order_payload(advocate.code, cid=owner.shopify_id)
    )
    [referral] = queries.referrals(session, shop)
    with pytest.raises(states.TransitionRefused):
        staff_actions.staff_approve(session, shop, referral, actor="staff:1")


def test_a_dry_run_of_a_manual_referral_keeps_nothing(session, shop):
    advocate = factories.advocate(session, shop)
    order = factories.order(session, shop, factories.customer(session, shop))
    referral, results = staff_actions.staff_create(
        session, shop, advocate, order, actor="staff:1", reason="phone order", dry_run=True
    )
    assert referral is None
    assert {r.rule_id for r in results} >= {"self_referral.customer", "caps"}
    assert queries.referrals(session, shop) == []


def test_a_forced_manual_referral_overrides_a_block_and_is_audited(session, shop):
    advocate = factories.advocate(session, shop)
    friend = factories.customer(session, shop)
    factories.order(session, shop, friend)  # the friend ordered before: existing customer
    order = factories.order(session, shop, friend, shopify_created_at=None)
    referral, results = staff_actions.staff_create(
        session, shop, advocate, order, actor="staff:1", reason="agreed by phone", force=True
    )
    assert any(r.blocks for r in results)
    assert referral.attribution == "manual"
    assert referral.status == "completed"
    assert _audited(session, shop) == ["referral.created.forced"]


def test_the_advocates_own_order_cannot_be_made_theirs_by_hand(session, shop):
    owner = factories.customer(session, shop)
    advocate = factories.advocate(session, shop, owner)
    order = factories.order(session, shop, owner)
    with pytest.raises(states.TransitionRefused, match="themself"):
        staff_actions.staff_create(session, shop, advocate, order, actor="staff:1", reason="x")

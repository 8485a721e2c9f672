"""The referral lifecycle from an order's sync: created, blocked with its reason, completed
with a reward, voided by a refund or a cancellation; each move recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shopify_app import jobs
from shopify_app.models import Customer, utcnow
from shopify_app.referrals import staff_actions, states
from shopify_app.sync import order_flow

from .. import factories
from . import queries


@pytest.fixture
def advocate(session, shop):
    factories.program(session, shop)
    return factories.advocate(session, shop)


def test_an_unpaid_order_with_a_code_makes_a_pending_referral(session, shop, advocate):
    order = order_flow.apply_order(session, shop, factories.order_payload(advocate.code))
    [referral] = queries.referrals(session, shop)
    assert (referral.status, referral.advocate_id, referral.order_id) == (
        "pending",
        advocate.id,
        order.id,
    )
    assert referral.attribution == "note_attribute"
    assert referral.approve_after is None
    assert referral.friend_customer_id == order.customer_id
    assert queries.transitions(session, referral) == [
        (None, "pending", "attributed:note_attribute")
    ]
    assert queries.rewards(session, shop) == []


def test_a_paid_order_completes_the_referral_and_issues_one_reward_after_commit(
    session, shop, advocate, enqueued
):
    order_flow.apply_order(
        session, shop, factories.order_payload(advocate.code, financial_status="paid")
    )
    [referral] = queries.referrals(session, shop)
    [reward] = queries.rewards(session, shop)
    assert referral.status == "completed" and referral.completed_at is not None
    assert (reward.status, reward.advocate_id, reward.value) == ("pending", advocate.id, 1000)
    assert queries.transitions(session, referral) == [
        (None, "pending", "attributed:note_attribute"),
        ("pending", "completed", "approved:automatic"),
    ]
    assert enqueued.jobs == []
    session.commit()
    assert enqueued.calls(jobs.CREATE_REWARD_CODE) == [(reward.id,)]


def test_payment_arriving_later_completes_the_pending_referral(session, shop, advocate):
    payload = factories.order_payload(advocate.code)
    order_flow.apply_order(session, shop, payload)
    order_flow.apply_order(
        session,
        shop,
        {**payload, "financial_status": "paid", "updated_at": factories.payloads.ts(5)},
    )
    [referral] = queries.referrals(session, shop)
    assert referral.status == "completed"
    assert len(queries.rewards(session, shop)) == 1


def test_duplicate_and_reordered_deliveries_make_one_referral_and_one_reward(
    session, shop, advocate, enqueued
):
    paid = factories.order_payload(
        advocate.code, financial_status="paid", updated_at=factories.payloads.ts(5)
    )
    created = {**paid, "financial_status": "pending", "updated_at": factories.payloads.ts(0)}
    for payload in (paid, paid, created, paid):
        order_flow.apply_order(session, shop, payload)
    session.commit()
    [referral] = queries.referrals(session, shop)
    assert referral.status == "completed"
    assert len(queries.rewards(session, shop)) == 1
    assert len(enqueued.calls(jobs.CREATE_REWARD_CODE)) == 1
    assert [t[1] for t in queries.transitions(session, referral)] == ["pending", "completed"]


def test_an_order_naming_an_unknown_code_makes_no_referral_and_says_why(session, shop, advocate):
    order_flow.apply_order(session, shop, factories.order_payload("NOBODY-123"))
    assert queries.referrals(session, shop) == []
    [event] = queries.events(session, shop, "referral.not_created")
    assert event.payload["reason"] == "no advocate has the referral code it carries"


def test_an_order_without_any_code_records_nothing_about_referrals(session, shop, advocate):
    order_flow.apply_order(session, shop, factories.order_payload(None))
    assert queries.referrals(session, shop) == []
    assert queries.events(session, shop, "referral.not_created") == []


def test_a_switched_off_program_makes_no_referral(session, shop, advocate):
    factories.program(session, shop, enabled=False)
    order_flow.apply_order(session, shop, factories.order_payload(advocate.code))
    assert queries.referrals(session, shop) == []
    [event] = queries.events(session, shop, "referral.not_created")
    assert event.payload["reason"] == "the referral program is switched off"


def test_the_advocates_own_order_is_blocked_with_the_rule_and_its_reason(session, shop):
    factories.program(session, shop)
    owner = factories.customer(session, shop)
    advocate = factories.advocate(session, shop, owner)
    order_flow.apply_order(
        session,
        shop,
        factories.order_payload(advocate.code, cid=owner.shopify_id, financial_status="paid"),
    )
    [referral] = queries.referrals(session, shop)
    assert referral.status == "blocked"
    assert referral.status_reason == "The friend is the advocate's own customer account."
    assert queries.transitions(session, referral)[-1] == (
        "pending",
        "blocked",
        "rule:self_referral.customer",
    )
    assert queries.rewards(session, shop) == []
    assert {e.payload["role"] for e in queries.events(session, shop, "referral.blocked")} == {
        "advocate",
        "friend",
    }


def test_an_order_in_another_currency_is_blocked(session, shop, advocate):
    order_flow.apply_order(
        session,
        shop,
        factories.order_payload(advocate.code, currency="USD", financial_status="paid"),
    )
    [referral] = queries.referrals(session, shop)
    assert referral.status == "blocked"
    assert queries.transitions(session, referral)[-1][2] == "currency"
    assert "USD" in referral.status_reason and "EUR" in referral.status_reason


def test_a_friend_who_ordered_before_is_blocked_as_an_existing_customer(session, shop, advocate):
    cid = factories.next_id()
    earlier = factories.order_payload(None, cid=cid, created_at=factories.payloads.ts(0))
    order_flow.apply_order(session, shop, earlier)
    order_flow.apply_order(
        session,
        shop,
        factories.order_payload(advocate.code, cid=cid, created_at=factories.payloads.ts(30)),
    )
    [referral] = queries.referrals(session, shop)
    assert referral.status == "blocked"
    assert queries.transitions(session, referral)[-1][2] == "rule:existing_customer"
    assert earlier["name"] in referral.status_reason


def test_a_full_refund_voids_the_referral_and_its_reward(session, shop, advocate, enqueued):
    payload = factories.order_payload(advocate.code, financial_status="paid")
    order_flow.apply_order(session, shop, payload)
    order_flow.apply_refund(session, shop, factories.refund_payload(payload["id"], "89.90"))
    [referral] = queries.referrals(session, shop)
    [reward] = queries.rewards(session, shop)
    assert referral.status == "voided"
    assert referral.status_reason == f"Order {payload['name']} was refunded in full."
    assert queries.transitions(session, referral)[-1] == ("completed", "voided", "order_refunded")
    assert reward.status == "voided"
    session.commit()
    assert enqueued.calls(jobs.DEACTIVATE_REWARD_CODE) == []  # no code existed in Shopify yet


def test_refunds_that_add_up_to_the_total_void_only_when_they_do(session, shop, advocate):
    payload = factories.order_payload(advocate.code, financial_status="paid")
    order_flow.apply_order(session, shop, payload)
    order_flow.apply_refund(session, shop, factories.refund_payload(payload["id"], "40.00"))
    [referral] = queries.referrals(session, shop)
    assert referral.status == "completed"
    order_flow.apply_refund(session, shop, factories.refund_payload(payload["id"], "49.90"))
    assert referral.status == "voided"


def test_the_same_refund_twice_counts_once(session, shop, advocate):
    payload = factories.order_payload(advocate.code, financial_status="paid")
    order = order_flow.apply_order(session, shop, payload)
    refund = factories.refund_payload(payload["id"], "40.00")
    order_flow.apply_refund(session, shop, refund)
    order_flow.apply_refund(session, shop, refund)
    assert order.refunded_minor == 4000
    assert queries.referrals(session, shop)[0].status == "completed"


def test_a_cancelled_order_voids_a_pending_referral(session, shop, advocate):
    payload = factories.order_payload(advocate.code)
    order_flow.apply_order(session, shop, payload)
    order_flow.apply_order(
        session,
        shop,
        {
            **payload,
            "cancelled_at": factories.payloads.ts(10),
            "cancel_reason": "customer",
            "updated_at": factories.payloads.ts(10),
        },
    )
    [referral] = queries.referrals(session, shop)
    assert referral.status == "voided"
    assert queries.transitions(session, referral)[-1][2] == "order_cancelled"


def test_a_blocked_referral_stays_blocked_when_its_order_is_paid(session, shop):
    factories.program(session, shop)
    owner = factories.customer(session, shop)
    advocate = factories.advocate(session, shop, owner)
    payload = factories.order_payload(advocate.code, cid=owner.shopify_id)
    order_flow.apply_order(session, shop, payload)
    order_flow.apply_order(
        session,
        shop,
        {**payload, "financial_status": "paid", "updated_at": factories.payloads.ts(5)},
    )
    assert queries.referrals(session, shop)[0].status == "blocked"
    assert queries.rewards(session, shop) == []


def test_manual_approval_waits_in_the_queue_until_staff_approve(session, shop, enqueued):
    factories.program(session, shop, approval_mode="manual")
    advocate = factories.advocate(session, shop)
    order_flow.apply_order(
        session, shop, factories.order_payload(advocate.code, financial_status="paid")
    )
    [referral] = queries.referrals(session, shop)
    assert (referral.status, referral.needs_manual_approval) == ("pending", True)
    reward = staff_actions.staff_approve(session, shop, referral, actor="staff:7", reason="checked")
    assert (referral.status, referral.needs_manual_approval) == ("completed", False)
    assert queries.transitions(session, referral)[-1] == ("pending", "completed", "approved:staff")
    session.commit()
    assert enqueued.calls(jobs.CREATE_REWARD_CODE) == [(reward.id,)]


def test_an_approval_delay_completes_on_the_schedule_not_before(session, shop):
    factories.program(session, shop, approval_delay_hours=48)
    advocate = factories.advocate(session, shop)
    order_flow.apply_order(
        session, shop, factories.order_payload(advocate.code, financial_status="paid")
    )
    [referral] = queries.referrals(session, shop)
    assert referral.status == "pending"
    assert referral.approve_after > utcnow() + timedelta(hours=47)
    assert states.complete_due(session, shop, utcnow() + timedelta(hours=47)) == 0
    assert referral.status == "pending"
    assert states.complete_due(session, shop, utcnow() + timedelta(hours=49)) == 1
    assert referral.status == "completed"


def test_a_fulfilment_trigger_ignores_payment(session, shop):
    factories.program(session, shop, reward_trigger="fulfilled")
    advocate = factories.advocate(session, shop)
    payload = factories.order_payload(advocate.code, financial_status="paid")
    order_flow.apply_order(session, shop, payload)
    [referral] = queries.referrals(session, shop)
    assert referral.status == "pending"
    order_flow.apply_order(
        session,
        shop,
        {**payload, "fulfillment_status": "fulfilled", "updated_at": factories.payloads.ts(5)},
    )
    assert referral.status == "completed"


def test_a_referral_keeps_the_terms_it_was_made_under(session, shop, advocate):
    order_flow.apply_order(session, shop, factories.order_payload(advocate.code))
    factories.program(session, shop, reward_value=5000)
    [referral] = queries.referrals(session, shop)
    order_flow.apply_order(
        session,
        shop,
        {
            **factories.order_payload(advocate.code),
            "id": referral.order_shopify_id,
            "financial_status": "paid",
            "updated_at": factories.payloads.ts(5),
        },
    )
    assert referral.terms["reward_value"] == 1000
    assert queries.rewards(session, shop)[0].value == 1000


def test_transitions_reach_both_timelines(session, shop, advocate):
    order = order_flow.apply_order(
        session, shop, factories.order_payload(advocate.code, financial_status="paid")
    )
    completed = queries.events(session, shop, "referral.completed")
    assert {(e.customer_id, e.payload["role"]) for e in completed} == {
        (advocate.customer_id, "advocate"),
        (order.customer_id, "friend"),
    }


def test_revenue_counts_a_completed_referral_for_the_advocate(session, shop, advocate):
    order_flow.apply_order(
        session, shop, factories.order_payload(advocate.code, financial_status="paid")
    )
    owner = session.get(Customer, advocate.customer_id)
    assert owner.successful_referrals == 1
    assert owner.referral_revenue_minor == 8990

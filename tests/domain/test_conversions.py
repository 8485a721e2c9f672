"""Custom conversion events (G5): a program whose reward trigger is an event type runs that
event through the same attribution, fraud rules and rewards as an order, exactly once per
event id; any other event is only stored on the timeline."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from shopify_app import compliance, jobs
from shopify_app.models import Conversion, Customer, IdempotentRequest, utcnow
from shopify_app.referrals import conversions, staff_actions, states
from shopify_app.sync import order_flow
from shopify_app.timeline import third_party

from .. import factories
from . import queries

EVENT = "subscription_started"


@pytest.fixture
def advocate(session, shop):
    factories.program(session, shop, reward_trigger="event", conversion_event=EVENT)
    return factories.advocate(session, shop)


@pytest.fixture
def friend(session, shop):
    return factories.customer(session, shop, first_name="Fred")


def stored(session, shop) -> int:
    return session.scalar(
        select(func.count()).select_from(Conversion).where(Conversion.shop_id == shop.id)
    )


def convert(session, shop, customer, event_type=EVENT, properties=None, *, event_id=None):
    return conversions.record_conversion(
        session,
        shop,
        customer,
        event_type,
        utcnow() - timedelta(minutes=1),
        properties or {},
        event_id=event_id or f"evt-{factories.next_id()}",
        source_name="Recharge",
    )


def test_an_event_with_the_advocates_code_completes_a_referral_and_issues_the_reward(
    session, shop, advocate, friend, enqueued
):
    result = convert(session, shop, friend, properties={"referral_code": advocate.code})

    assert (result.outcome, result.referral_status, result.duplicate) == (
        "referral",
        "completed",
        False,
    )
    [referral] = queries.referrals(session, shop)
    assert referral.id == result.referral_id
    assert (referral.advocate_id, referral.friend_customer_id) == (advocate.id, friend.id)
    assert referral.attribution == "note_attribute"
    assert referral.order_id is None and referral.order_shopify_id == -result.conversion_id
    assert referral.terms["reward_trigger"] == "event"
    assert queries.transitions(session, referral) == [
        (None, "pending", "attributed:note_attribute"),
        ("pending", "completed", "approved:automatic"),
    ]
    assert all(c.outcome == "pass" for c in queries.checks(session, referral).values())
    [reward] = queries.rewards(session, shop)
    assert (reward.id, reward.advocate_id, reward.status) == (
        result.reward_id,
        advocate.id,
        "pending",
    )
    [event] = queries.events(session, shop, EVENT)
    assert (event.customer_id, event.source, event.source_name) == (friend.id, "api", "Recharge")
    assert enqueued.names() == []  # nothing reaches the queue before the commit
    session.commit()
    assert enqueued.calls(jobs.CREATE_REWARD_CODE) == [(reward.id,)]


def test_an_event_without_a_code_is_attributed_by_the_friends_order_that_carried_one(
    session, shop, advocate, enqueued
):
    """The friend used the code on their first order; the program rewards the subscription,
    so the order made no referral and the event makes it."""
    order = order_flow.apply_order(session, shop, factories.order_payload(advocate.code))
    assert queries.referrals(session, shop) == []
    [not_created] = queries.events(session, shop, "referral.not_created")
    assert "rewards the event subscription_started, not orders" in not_created.payload["reason"]
    friend = session.get(Customer, order.customer_id)

    result = convert(session, shop, friend, properties={"plan": "monthly"})

    [referral] = queries.referrals(session, shop)
    assert (result.referral_id, referral.status) == (referral.id, "completed")
    assert referral.attribution_evidence["via_order"] == order.name
    # "New customers only" looks before the order that carried the code: it passes.
    assert queries.checks(session, referral)["existing_customer"].outcome == "pass"


def test_a_fraud_rule_blocks_the_conversion_with_its_reason(session, shop, advocate, enqueued):
    own = session.get(Customer, advocate.customer_id)

    result = convert(session, shop, own, properties={"discount_code": advocate.code})

    assert (result.outcome, result.referral_status, result.reward_id) == (
        "referral",
        "blocked",
        None,
    )
    assert result.reason == "The friend is the advocate's own customer account."
    [referral] = queries.referrals(session, shop)
    assert referral.status_reason == result.reason
    assert queries.checks(session, referral)["self_referral.customer"].outcome == "block"
    assert queries.rewards(session, shop) == []
    session.commit()
    assert jobs.CREATE_REWARD_CODE not in enqueued.names()


def test_a_friend_who_ordered_before_the_conversion_is_an_existing_customer(
    session, shop, advocate, friend
):
    factories.order(
        session, shop, friend, shopify_created_at=utcnow() - timedelta(days=30), name="#OLD-1"
    )

    result = convert(session, shop, friend, properties={"referral_code": advocate.code})

    assert result.referral_status == "blocked"
    assert "#OLD-1" in result.reason


def test_the_same_event_twice_makes_one_referral_and_one_reward(
    session, shop, advocate, friend, enqueued
):
    first = convert(session, shop, friend, properties={"ref": advocate.code}, event_id="sub-1")
    session.commit()
    again = convert(session, shop, friend, properties={"ref": advocate.code}, event_id="sub-1")
    # Even with another body: an event id names one event.
    other_body = convert(session, shop, friend, properties={}, event_id="sub-1")
    session.commit()

    assert again.duplicate and other_body.duplicate
    assert (again.conversion_id, again.referral_id, again.reward_id) == (
        first.conversion_id,
        first.referral_id,
        first.reward_id,
    )
    assert len(queries.referrals(session, shop)) == 1
    assert len(queries.rewards(session, shop)) == 1
    assert len(queries.events(session, shop, EVENT)) == 1
    assert enqueued.names().count(jobs.CREATE_REWARD_CODE) == 1


def test_an_event_that_is_not_the_trigger_is_stored_on_the_timeline_and_rewards_nothing(
    session, shop, advocate, friend
):
    result = convert(
        session, shop, friend, "review.submitted", properties={"referral_code": advocate.code}
    )

    assert (result.outcome, result.referral_id, result.reward_id) == ("not_trigger", None, None)
    assert result.reason == "The program rewards the event subscription_started."
    assert queries.referrals(session, shop) == []
    [event] = queries.events(session, shop, "review.submitted")
    assert event.payload["properties"] == {"referral_code": advocate.code}


def test_an_order_triggered_program_rewards_no_event(session, shop, friend):
    factories.program(session, shop)  # reward on payment (the default)
    advocate = factories.advocate(session, shop)

    result = convert(session, shop, friend, properties={"referral_code": advocate.code})

    assert (result.outcome, result.reason) == ("not_trigger", "The program rewards orders.")
    assert queries.referrals(session, shop) == []


def test_a_switched_off_program_or_an_unknown_code_makes_no_referral_and_says_why(
    session, shop, advocate, friend
):
    unknown = convert(session, shop, friend, properties={"referral_code": "NOBODY-1"})
    assert unknown.outcome == "not_attributed"
    factories.program(session, shop, enabled=False)
    off = convert(session, shop, friend, properties={"referral_code": advocate.code})
    assert (off.outcome, off.reason) == ("program_off", "The referral program is switched off.")
    assert queries.referrals(session, shop) == []
    reasons = [e.payload["reason"] for e in queries.events(session, shop, "referral.not_created")]
    assert reasons == [unknown.reason, off.reason]


def test_another_shops_customer_is_refused_and_nothing_is_stored(session, shop, advocate):
    other_shop = factories.shop(session)
    stranger = factories.customer(session, other_shop)

    with pytest.raises(conversions.ConversionRefused, match="No such customer"):
        convert(session, shop, stranger, properties={"referral_code": advocate.code})

    assert stored(session, shop) == stored(session, other_shop) == 0
    assert queries.referrals(session, shop) == []
    assert queries.events(session, other_shop) == []


def test_event_ids_are_per_shop(session, shop, advocate, friend):
    other_shop = factories.shop(session)
    factories.program(session, other_shop, reward_trigger="event", conversion_event=EVENT)
    other_advocate = factories.advocate(session, other_shop)
    other_friend = factories.customer(session, other_shop)

    mine = convert(session, shop, friend, properties={"ref": advocate.code}, event_id="e-1")
    theirs = convert(
        session, other_shop, other_friend, properties={"ref": other_advocate.code}, event_id="e-1"
    )

    assert not theirs.duplicate and theirs.conversion_id != mine.conversion_id
    assert theirs.referral_id != mine.referral_id
    # A code of another shop names no advocate here.
    crossed = convert(session, shop, friend, properties={"ref": other_advocate.code})
    assert crossed.outcome == "not_attributed"


@pytest.mark.parametrize(
    ("event_type", "properties", "event_id", "message"),
    [
        ("Subscription Started", {}, "e-1", "lowercase words"),
        (EVENT, {"nested": {"a": 1}}, "e-1", "no lists or objects"),
        (EVENT, {}, "", "event id"),
        (EVENT, {}, "has spaces", "event id"),
    ],
)
def test_bad_input_is_refused_with_the_reason(
    session, shop, advocate, friend, event_type, properties, event_id, message
):
    with pytest.raises(conversions.ConversionRefused, match=message):
        conversions.record_conversion(
            session, shop, friend, event_type, None, properties, event_id=event_id
        )
    assert stored(session, shop) == 0


def test_an_erased_customer_converts_nothing(session, shop, advocate, friend):
    friend.redacted_at = utcnow()
    with pytest.raises(conversions.ConversionRefused, match="erased"):
        convert(session, shop, friend, properties={"ref": advocate.code})


def test_manual_approval_waits_for_staff_and_staff_approval_issues_the_reward(
    session, shop, advocate, friend
):
    factories.program(session, shop, approval_mode="manual")
    result = convert(session, shop, friend, properties={"ref": advocate.code})
    [referral] = queries.referrals(session, shop)
    assert (result.referral_status, referral.needs_manual_approval) == ("pending", True)

    reward = staff_actions.staff_approve(session, shop, referral, actor="staff:1")

    assert referral.status == "completed" and reward.referral_id == referral.id
    stored = session.get(Conversion, result.conversion_id)
    assert conversions.result_of(session, shop, stored).reward_id == reward.id


def test_a_conversions_value_counts_as_the_referrals_revenue(session, shop, advocate, friend):
    result = convert(
        session,
        shop,
        friend,
        properties={"ref": advocate.code, "value": "29.90", "currency": "EUR"},
    )
    [referral] = queries.referrals(session, shop)
    assert (referral.order_total_minor, referral.currency) == (2990, "EUR")
    assert result.referral_status == "completed"


def test_customers_redact_erases_a_conversions_properties_and_event_id(
    session, shop, advocate, friend
):
    email, last_name = friend.email, friend.last_name
    named = convert(
        session,
        shop,
        friend,
        properties={"ref": advocate.code, "contact": email},
        event_id=f"sub:{last_name}",
    )
    other = convert(session, shop, factories.customer(session, shop), properties={"plan": "x"})

    compliance.redact_customer(
        session,
        shop,
        {
            "shop_domain": shop.domain,
            "customer": {"id": friend.shopify_id, "email": email, "phone": None},
            "orders_to_redact": [],
        },
    )

    erased = session.get(Conversion, named.conversion_id)
    assert erased.properties == {}
    assert erased.event_id == f"erased/{erased.id}"
    # no sender can claim that id ahead of the erasure (it would make the redaction fail)
    assert not third_party.valid_idempotency_key(erased.event_id)
    assert session.get(Conversion, other.conversion_id).properties == {"plan": "x"}
    # The same event sent again finds an erased customer: refused, nothing made.
    with pytest.raises(conversions.ConversionRefused, match="erased"):
        convert(session, shop, friend, properties={"ref": advocate.code}, event_id="sub:again")


def test_an_approval_delay_completes_the_conversions_referral_when_due(
    session, shop, advocate, friend
):
    factories.program(session, shop, approval_delay_hours=48)
    result = convert(session, shop, friend, properties={"ref": advocate.code})
    [referral] = queries.referrals(session, shop)
    assert (result.referral_status, result.reward_id) == ("pending", None)
    assert referral.approve_after is not None

    assert states.complete_due(session, shop, utcnow() + timedelta(hours=1)) == 0
    assert states.complete_due(session, shop, utcnow() + timedelta(hours=49)) == 1
    assert referral.status == "completed"
    assert len(queries.rewards(session, shop)) == 1


def test_staff_recheck_and_unblock_work_on_a_conversions_referral(session, shop, advocate, friend):
    factories.order(session, shop, friend, shopify_created_at=utcnow() - timedelta(days=9))
    result = convert(session, shop, friend, properties={"ref": advocate.code})
    [referral] = queries.referrals(session, shop)
    assert result.referral_status == "blocked"

    rechecked = staff_actions.staff_recheck(session, shop, referral, actor="staff:1")
    assert {r.rule_id for r in rechecked if r.blocks} == {"existing_customer"}
    assert set(queries.checks(session, referral, evaluation=2)) == set(
        queries.checks(session, referral, evaluation=1)
    )
    staff_actions.staff_unblock(session, shop, referral, actor="staff:1", reason="Known friend")

    assert referral.status == "completed"
    assert [r.referral_id for r in queries.rewards(session, shop)] == [referral.id]


def test_customers_redact_forgets_the_apis_stored_answers_that_name_the_customer(
    session, shop, friend
):
    def answer(key: str, body: bytes) -> IdempotentRequest:
        now = utcnow()
        row = IdempotentRequest(
            shop_id=shop.id,
            key=key,
            request_digest="d" * 64,
            state="done",
            owner="o",
            lease_until=now,
            expires_at=now + timedelta(hours=24),
            response_status=201,
            response_body=body,
        )
        session.add(row)
        session.flush()
        return row

    email = friend.email
    friend.last_name = "Brontë"  # JSON writes it Bront\u00eb
    naming = answer("k1", json.dumps({"email": email.upper()}).encode())
    escaped = answer("k2", json.dumps({"id": 7, "last_name": "Brontë"}).encode())
    assert b"\\u00eb" in escaped.response_body
    other = answer("k3", b'{"email": "someone@example.net"}')
    ids = (naming.id, escaped.id, other.id)

    compliance.redact_customer(
        session,
        shop,
        {
            "shop_domain": shop.domain,
            "customer": {"id": friend.shopify_id, "email": email, "phone": None},
            "orders_to_redact": [],
        },
    )

    kept = session.scalars(select(IdempotentRequest.id).where(IdempotentRequest.id.in_(ids)))
    assert list(kept) == [other.id]

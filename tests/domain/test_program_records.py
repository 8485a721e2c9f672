"""The program's advocates, referrals and rewards as the public API reads and writes them
(`referrals.records`): scoped by shop, the portal's rules for referrals made by hand, the
refusals with their reasons, audited with the caller's name."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shopify_app.models import AuditEntry, Customer, utcnow
from shopify_app.referrals import conversions, records
from shopify_app.sync import order_flow

from .. import factories
from . import queries

pytestmark = pytest.mark.program
ACTOR = "api:Zapier"


def audit_actions(session, shop) -> list[tuple[str, str]]:
    rows = session.scalars(
        select(AuditEntry).where(AuditEntry.shop_id == shop.id).order_by(AuditEntry.id)
    )
    return [(a.action, a.actor) for a in rows]


def test_join_by_id_or_email_is_idempotent_and_audited(session, shop):
    customer = factories.customer(session, shop, email="Joiner@Example.com")

    joined, created = records.join_advocate(session, shop, customer_id=customer.id, actor=ACTOR)
    again, created_again = records.join_advocate(
        session, shop, email="joiner@example.com", actor=ACTOR
    )

    assert (created, created_again) == (True, False)
    assert again == joined
    assert (joined.customer_id, joined.joined_via, joined.email) == (
        customer.id,
        "api",
        "Joiner@Example.com",
    )
    assert records.get_advocate(session, shop, joined.id) == joined
    assert audit_actions(session, shop) == [("advocate.joined", ACTOR)]


def test_join_refusals(session, shop):
    other = factories.customer(session, factories.shop(session))
    with pytest.raises(records.NotFound):
        records.join_advocate(session, shop, customer_id=other.id, actor=ACTOR)
    with pytest.raises(records.Refused, match="create the customer first"):
        records.join_advocate(session, shop, email="nobody@example.com", actor=ACTOR)
    erased = factories.customer(session, shop, redacted_at=utcnow())
    with pytest.raises(records.Refused, match="erased at their request"):
        records.join_advocate(session, shop, customer_id=erased.id, actor=ACTOR)


def test_another_shops_rows_are_not_found(session, shop):
    other_shop = factories.shop(session)
    factories.program(session, other_shop)
    advocate = factories.advocate(session, other_shop)
    order = factories.order(session, other_shop, factories.customer(session, other_shop))
    referral = factories.referral(session, other_shop, advocate, order)
    reward = factories.reward(session, other_shop, referral)

    for call in (
        lambda: records.get_advocate(session, shop, advocate.id),
        lambda: records.get_referral(session, shop, referral.id),
        lambda: records.get_reward(session, shop, reward.id),
        lambda: records.approve_referral(session, shop, referral.id, actor=ACTOR),
        lambda: records.void_referral(session, shop, referral.id, actor=ACTOR, reason="x"),
        lambda: records.create_referral(
            session,
            shop,
            advocate_id=advocate.id,
            order_id=order.shopify_id,
            reason="x",
            actor=ACTOR,
        ),
    ):
        with pytest.raises(records.NotFound):
            call()
    assert records.list_advocates(session, shop) == ([], None)
    assert records.list_referrals(session, shop) == ([], None)
    assert records.list_rewards(session, shop) == ([], None)
    assert referral.status == "pending"


def test_lists_are_newest_first_in_keyset_pages(session, shop):
    advocate = factories.advocate(session, shop)
    made = []
    for _ in range(5):
        order = factories.order(session, shop, factories.customer(session, shop))
        referral = factories.referral(session, shop, advocate, order)
        factories.reward(session, shop, referral)
        made.append(referral.id)

    first, cursor = records.list_referrals(session, shop, limit=2)
    second, cursor2 = records.list_referrals(session, shop, limit=2, before_id=cursor)
    last, end = records.list_referrals(session, shop, limit=2, before_id=cursor2)
    assert [r.id for r in first + second + last] == made[::-1]
    assert end is None
    by_advocate, _ = records.list_referrals(session, shop, advocate_id=advocate.id, limit=10)
    assert [r.id for r in by_advocate] == made[::-1]
    assert all(r.reward_id is not None for r in by_advocate)
    rewards, more = records.list_rewards(session, shop, status="issued", limit=3)
    assert len(rewards) == 3 and more == rewards[-1].id
    assert records.list_rewards(session, shop, status="used") == ([], None)
    assert records.list_referrals(session, shop, status="completed") == ([], None)


def test_approve_and_void_use_the_staff_rules_and_refuse_with_the_reason(session, shop):
    factories.program(session, shop, approval_mode="manual")
    advocate = factories.advocate(session, shop)
    order_flow.apply_order(
        session, shop, factories.order_payload(advocate.code, financial_status="paid")
    )
    [referral] = queries.referrals(session, shop)

    approved = records.approve_referral(session, shop, referral.id, actor=ACTOR)
    assert approved.status == "completed" and approved.reward_id is not None
    with pytest.raises(records.Refused, match="only pending referrals can be approved"):
        records.approve_referral(session, shop, referral.id, actor=ACTOR)
    with pytest.raises(records.Refused, match="Say why"):
        records.void_referral(session, shop, referral.id, actor=ACTOR, reason=" ")

    voided = records.void_referral(session, shop, referral.id, actor=ACTOR, reason="Test order")
    assert (voided.status, voided.status_reason) == ("voided", "Test order")
    assert records.get_reward(session, shop, approved.reward_id).status == "voided"
    with pytest.raises(records.Refused, match="already voided"):
        records.void_referral(session, shop, referral.id, actor=ACTOR, reason="again")
    assert audit_actions(session, shop) == [
        ("referral.approved", ACTOR),
        ("referral.voided", ACTOR),
    ]


def test_create_by_hand_checks_the_rules_and_force_passes_a_block(session, shop):
    advocate = factories.advocate(session, shop)
    friend = factories.customer(session, shop)
    factories.order(session, shop, friend, name="#EARLIER")  # so the friend is not new
    order = factories.order(session, shop, friend, name="#2001")

    check = records.create_referral(
        session,
        shop,
        advocate_id=advocate.id,
        order_name="2001",
        reason="",
        dry_run=True,
        actor=ACTOR,
    )
    assert check.referral is None
    assert {c.rule_id for c in check.checks if c.outcome == "block"} == {"existing_customer"}
    assert queries.referrals(session, shop) == []

    blocked = records.create_referral(
        session,
        shop,
        advocate_id=advocate.id,
        order_id=order.shopify_id,
        reason="Phoned in",
        actor=ACTOR,
    )
    assert blocked.referral.status == "blocked"
    assert blocked.referral.attribution == "manual"
    with pytest.raises(records.Refused, match="already has a referral"):
        records.create_referral(
            session,
            shop,
            advocate_id=advocate.id,
            order_id=order.shopify_id,
            reason="again",
            force=True,
            actor=ACTOR,
        )


def test_create_by_hand_forced(session, shop):
    advocate = factories.advocate(session, shop)
    friend = factories.customer(session, shop)
    factories.order(session, shop, friend, name="#EARLIER")
    order = factories.order(session, shop, friend)

    forced = records.create_referral(
        session,
        shop,
        advocate_id=advocate.id,
        order_id=order.shopify_id,
        reason="Known friend",
        force=True,
        actor=ACTOR,
    )

    assert forced.referral.status == "completed" and forced.referral.reward_id is not None
    assert ("referral.created.forced", ACTOR) in audit_actions(session, shop)


def test_create_by_hand_refusals(session, shop):
    advocate = factories.advocate(session, shop)
    own = factories.order(session, shop, session.get(Customer, advocate.customer_id))
    with pytest.raises(records.Refused, match="placed this order themself"):
        records.create_referral(
            session,
            shop,
            advocate_id=advocate.id,
            order_id=own.shopify_id,
            reason="x",
            actor=ACTOR,
        )
    other = factories.order(session, shop, factories.customer(session, shop))
    with pytest.raises(records.Refused, match="Say why"):
        records.create_referral(
            session,
            shop,
            advocate_id=advocate.id,
            order_id=other.shopify_id,
            reason="",
            actor=ACTOR,
        )
    with pytest.raises(records.NotFound, match="No order #404404"):
        records.create_referral(
            session, shop, advocate_id=advocate.id, order_name="#404404", reason="x", actor=ACTOR
        )


def test_a_conversions_referral_names_its_conversion_not_an_order(session, shop):
    factories.program(session, shop, reward_trigger="event", conversion_event="trial_converted")
    advocate = factories.advocate(session, shop)
    friend = factories.customer(session, shop)
    result = conversions.record_conversion(
        session, shop, friend, "trial_converted", None, {"ref": advocate.code}, event_id="t-1"
    )

    record = records.get_referral(session, shop, result.referral_id)

    assert (record.order_id, record.order_name, record.conversion_id) == (
        None,
        None,
        result.conversion_id,
    )
    assert record.reward_id == result.reward_id

"""The fraud rules on real rows: what `fraud_context` reads from the shop, and the decisions
`evaluate_rules` stores with their evidence."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shopify_app.models import AdvocateVisit, Customer, utcnow
from shopify_app.referrals import blocklist, checks, staff_actions

from .. import factories
from . import queries

pytestmark = pytest.mark.program


@pytest.fixture
def advocate(session, shop):
    owner = factories.customer(session, shop, email="ada.lovelace@gmail.com", phone="+358401234567")
    return factories.advocate(session, shop, owner)


def _referral_for(session, shop, advocate, friend=None, **order_overrides):
    friend = friend or factories.customer(session, shop)
    order = factories.order(session, shop, friend, **order_overrides)
    return factories.referral(session, shop, advocate, order), order


def _blocks(session, shop, referral, order) -> dict[str, bool]:
    return {r.rule_id: r.blocks for r in checks.evaluate_rules(session, shop, referral, order)}


def test_a_clean_friend_passes_every_rule(session, shop, advocate):
    referral, order = _referral_for(session, shop, advocate)
    assert not any(_blocks(session, shop, referral, order).values())


def test_a_normalised_email_match_blocks_with_both_addresses_as_evidence(session, shop, advocate):
    friend = factories.customer(session, shop, email="Ada.Lovelace+friend@gmail.com")
    referral, order = _referral_for(session, shop, advocate, friend)
    assert _blocks(session, shop, referral, order)["self_referral.email"]
    check = queries.checks(session, referral)["self_referral.email"]
    assert check.outcome == "block"
    assert check.evidence["friend_email"] == "Ada.Lovelace+friend@gmail.com"
    assert check.evidence["advocate_email"] == "ada.lovelace@gmail.com"
    assert check.evidence["friend_normalised"] == check.evidence["advocate_normalised"]


def test_the_same_phone_in_another_format_blocks(session, shop, advocate):
    friend = factories.customer(session, shop, phone="+358 40 123 4567")
    referral, order = _referral_for(session, shop, advocate, friend)
    assert _blocks(session, shop, referral, order)["self_referral.phone"]
    evidence = queries.checks(session, referral)["self_referral.phone"].evidence
    assert evidence["friend_e164"] == evidence["advocate_e164"] == "+358401234567"


def test_the_friend_phone_falls_back_to_the_shipping_address(session, shop, advocate):
    friend = factories.customer(session, shop, phone=None)
    referral, order = _referral_for(
        session, shop, advocate, friend, shipping_address={"phone": "+358401234567"}
    )
    ctx = checks.fraud_context(session, shop, referral, order)
    assert ctx.friend.phone == "+358401234567"
    assert _blocks(session, shop, referral, order)["self_referral.phone"]


def test_shipping_to_an_address_of_the_advocates_own_orders_blocks(session, shop, advocate):
    home = {"address1": "1 Analytical St", "city": "Helsinki", "zip": "00100"}
    owner = session.get(Customer, advocate.customer_id)
    factories.order(session, shop, owner, shipping_address=home)
    referral, order = _referral_for(session, shop, advocate, shipping_address=dict(home))
    ctx = checks.fraud_context(session, shop, referral, order)
    assert ctx.advocate_addresses == [home]
    assert _blocks(session, shop, referral, order)["self_referral.address"]


def test_the_advocates_storefront_device_blocks_an_order_from_it(session, shop, advocate):
    session.add(
        AdvocateVisit(
            shop_id=shop.id, advocate_id=advocate.id, ip="198.51.100.4", user_agent="Firefox/130"
        )
    )
    referral, order = _referral_for(
        session, shop, advocate, client_ip="198.51.100.4", user_agent="Firefox/130"
    )
    ctx = checks.fraud_context(session, shop, referral, order)
    assert ("198.51.100.4", "Firefox/130") in ctx.advocate_devices
    assert _blocks(session, shop, referral, order)["self_referral.device"]
    check = queries.checks(session, referral)["self_referral.device"]
    assert check.evidence["advocate_devices"] == [["198.51.100.4", "Firefox/130"]]


def test_the_same_ip_with_another_browser_passes(session, shop, advocate):
    session.add(
        AdvocateVisit(
            shop_id=shop.id, advocate_id=advocate.id, ip="198.51.100.4", user_agent="Firefox/130"
        )
    )
    referral, order = _referral_for(
        session, shop, advocate, client_ip="198.51.100.4", user_agent="Safari/18"
    )
    assert not _blocks(session, shop, referral, order)["self_referral.device"]


def test_earlier_orders_of_the_friend_and_of_their_email_are_the_evidence(session, shop, advocate):
    friend = factories.customer(session, shop, email="friend@example.com")
    guest = factories.customer(session, shop, email="friend@example.com")
    then = utcnow() - timedelta(days=30)
    own = factories.order(session, shop, friend, shopify_created_at=then)
    by_email = factories.order(session, shop, guest, shopify_created_at=then)
    factories.order(session, shop, guest, shopify_created_at=then, cancelled_at=then)
    referral, order = _referral_for(session, shop, advocate, friend)
    ctx = checks.fraud_context(session, shop, referral, order)
    assert ctx.friend_prior_orders == [own.name]
    assert ctx.friend_prior_orders_by_email == [by_email.name]
    assert _blocks(session, shop, referral, order)["existing_customer"]


def test_existing_customers_pass_when_the_program_accepts_them(session, shop, advocate):
    factories.program(session, shop, friend_new_customers_only=False)
    friend = factories.customer(session, shop)
    factories.order(session, shop, friend, shopify_created_at=utcnow() - timedelta(days=3))
    referral, order = _referral_for(session, shop, advocate, friend)
    assert not _blocks(session, shop, referral, order)["existing_customer"]


def test_a_friend_referred_before_by_someone_else_is_blocked(session, shop, advocate):
    friend = factories.customer(session, shop)
    other = factories.advocate(session, shop)
    first, _ = _referral_for(session, shop, other, friend)
    referral, order = _referral_for(session, shop, advocate, friend)
    ctx = checks.fraud_context(session, shop, referral, order)
    assert ctx.friend_other_referrals == [
        {"referral_id": first.id, "advocate_id": other.id, "status": "pending"}
    ]
    assert _blocks(session, shop, referral, order)["friend_already_referred"]


def test_a_blocked_earlier_referral_does_not_count(session, shop, advocate):
    friend = factories.customer(session, shop)
    first, _ = _referral_for(session, shop, factories.advocate(session, shop), friend)
    first.status = "blocked"
    referral, order = _referral_for(session, shop, advocate, friend)
    assert not _blocks(session, shop, referral, order)["friend_already_referred"]


def test_a_cross_referral_is_blocked(session, shop, advocate):
    friend = factories.customer(session, shop)
    friend_as_advocate = factories.advocate(session, shop, friend)
    owner_customer = session.get(Customer, advocate.customer_id)
    earlier, _ = _referral_for(session, shop, friend_as_advocate, owner_customer)
    referral, order = _referral_for(session, shop, advocate, friend)
    ctx = checks.fraud_context(session, shop, referral, order)
    assert ctx.reverse_referral == {"referral_id": earlier.id, "status": "pending"}
    assert _blocks(session, shop, referral, order)["cross_referral"]


def test_a_blocklisted_ip_blocks_and_names_the_entry(session, shop, advocate):
    entry = blocklist.add_entry(session, shop, "ip", "203.0.113.0/24", note=None, actor="staff:1")
    referral, order = _referral_for(session, shop, advocate, client_ip="203.0.113.77")
    assert _blocks(session, shop, referral, order)["blocklist"]
    [hit] = queries.checks(session, referral)["blocklist"].evidence["hits"]
    assert (hit["entry_id"], hit["matched"]) == (entry.id, "203.0.113.77")


def test_the_daily_cap_counts_the_advocates_other_referrals_today(session, shop, advocate):
    factories.program(session, shop, cap_per_day=2)
    _referral_for(session, shop, advocate)
    referral, order = _referral_for(session, shop, advocate)
    assert not _blocks(session, shop, referral, order)["caps"]
    referral, order = _referral_for(session, shop, advocate)
    ctx = checks.fraud_context(session, shop, referral, order)
    assert (ctx.advocate_referrals_today, ctx.cap_per_day) == (2, 2)
    assert _blocks(session, shop, referral, order)["caps"]


def test_the_total_cap_ignores_voided_referrals(session, shop, advocate):
    factories.program(session, shop, cap_total=1)
    voided, _ = _referral_for(session, shop, advocate)
    voided.status = "voided"
    referral, order = _referral_for(session, shop, advocate)
    assert not _blocks(session, shop, referral, order)["caps"]


def test_each_evaluation_is_kept_with_its_own_number(session, shop, advocate):
    referral, order = _referral_for(session, shop, advocate)
    checks.evaluate_rules(session, shop, referral, order)
    results = staff_actions.staff_recheck(session, shop, referral, actor="staff:1")
    assert len(queries.checks(session, referral, 1)) == len(results)
    assert len(queries.checks(session, referral, 2)) == len(results)
    assert referral.status == "pending"

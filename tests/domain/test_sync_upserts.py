"""Sync upserts: customers, orders, refunds and discounts converge on the newest state by
Shopify's `updated_at`, whatever the order and number of deliveries."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from shopify_app.customers import signups
from shopify_app.models import Customer, Order, OrderLineItem, Refund, utcnow
from shopify_app.sync import consent, customers, discounts, order_flow, orders

from .. import factories, payloads
from . import queries


def test_a_new_customer_is_stored_with_its_fields_and_consent(session, shop):
    cid = factories.next_id()
    row = customers.upsert_customer(session, shop, payloads.customer(cid))
    assert (row.shopify_id, row.email, row.first_name, row.tags) == (
        cid,
        f"ada.lovelace+{cid}@example.com",
        "Ada",
        "vip, newsletter",
    )
    assert row.email_normalized == f"ada.lovelace+{cid}@example.com"
    assert row.email_marketing_state == "subscribed"
    assert queries.event_kinds(session, shop).count("customer.created") == 1


def test_the_listing_columns_are_derived_on_every_write_path(session, shop):
    """Core inserts of drafts (sync's get_or_insert, the storefront signup) and ORM
    updates: the Customers page sorts and searches on these columns."""
    cid = factories.next_id()
    synced = customers.upsert_customer(
        session, shop, payloads.customer(cid, first_name="Ada", last_name="Lovelace")
    )
    fresh = session.execute(
        select(
            Customer.sort_name, Customer.last_name_key, Customer.email_key, Customer.customer_since
        ).where(Customer.id == synced.id)
    ).one()
    assert fresh.sort_name == "ada lovelace" and fresh.last_name_key == "lovelace"
    assert fresh.email_key == f"ada.lovelace+{cid}@example.com"
    assert fresh.customer_since == synced.shopify_created_at
    signup = signups.sign_up(
        session, shop, signups.parse_contact("Zed@Example.com", None), confirm_url="u"
    )
    record = session.execute(
        select(Customer.sort_name, Customer.email_key, Customer.customer_since).where(
            Customer.id == signup.customer_id
        )
    ).one()
    assert record.email_key == "zed@example.com" and record.sort_name
    assert record.customer_since is not None
    customers.upsert_customer(
        session, shop, payloads.customer(cid, updated=1, first_name="Ada", last_name="Byron")
    )
    session.flush()
    session.expire(synced)
    assert synced.last_name_key == "byron" and synced.sort_name == "ada byron"


def test_a_newer_update_wins_and_an_older_one_is_ignored(session, shop):
    cid = factories.next_id()
    customers.upsert_customer(session, shop, payloads.customer(cid, updated=5, first_name="New"))
    row = customers.upsert_customer(
        session, shop, payloads.customer(cid, updated=1, first_name="Old")
    )
    assert row.first_name == "New"
    customers.upsert_customer(session, shop, payloads.customer(cid, updated=9, first_name="Newest"))
    assert row.first_name == "Newest"


def test_duplicate_customer_deliveries_make_one_row_and_one_event(session, shop):
    cid = factories.next_id()
    for _ in range(3):
        row = customers.upsert_customer(session, shop, payloads.customer(cid))
    assert row.id == customers.customer_by_shopify_id(session, shop.id, cid).id
    assert queries.event_kinds(session, shop).count("customer.created") == 1


def test_a_payload_without_an_id_is_ignored(session, shop):
    assert customers.upsert_customer(session, shop, {"email": "x@example.com"}) is None


def test_a_field_the_payload_lacks_keeps_its_stored_value(session, shop):
    cid = factories.next_id()
    customers.upsert_customer(session, shop, payloads.customer(cid))
    partial = {"id": cid, "first_name": "Augusta", "updated_at": payloads.ts(5)}
    row = customers.upsert_customer(session, shop, partial)
    assert (row.first_name, row.last_name, row.email) == (
        "Augusta",
        "Lovelace",
        f"ada.lovelace+{cid}@example.com",
    )


def test_a_deleted_customer_is_kept_marked_and_an_older_update_does_not_revive_it(session, shop):
    cid = factories.next_id()
    customers.upsert_customer(session, shop, payloads.customer(cid, updated=0))
    deleted_at = utcnow()
    row = customers.delete_customer(session, shop, payloads.customer_deleted(cid), deleted_at)
    customers.upsert_customer(session, shop, payloads.customer(cid, updated=5, first_name="Late"))
    assert row.deleted_at == deleted_at
    assert row.first_name == "Ada"
    assert queries.event_kinds(session, shop).count("customer.deleted") == 1


def test_a_deletion_arriving_first_leaves_a_marked_row(session, shop):
    cid = factories.next_id()
    row = customers.delete_customer(session, shop, payloads.customer_deleted(cid), utcnow())
    assert row.deleted_at is not None and row.email is None


def test_a_redacted_customer_is_never_refilled_by_a_late_delivery(session, shop):
    cid = factories.next_id()
    row = customers.upsert_customer(session, shop, payloads.customer(cid))
    row.email = None
    row.redacted_at = utcnow()
    customers.upsert_customer(session, shop, payloads.customer(cid, updated=30))
    assert row.email is None


def test_an_order_is_stored_with_its_customer_lines_and_money(session, shop):
    oid, cid = factories.next_id(), factories.next_id()
    order = orders.upsert_order(session, shop, payloads.order(oid, cid=cid))
    assert (order.total_minor, order.subtotal_minor, order.currency) == (8990, 9990, "EUR")
    assert order.customer_id == customers.customer_by_shopify_id(session, shop.id, cid).id
    assert [(li.title, li.quantity, li.price_minor) for li in order.line_items] == [
        ("Green tea 100 g", 2, 2495),
        ("Teapot", 1, 5000),
    ]
    assert order.discount_codes[0]["code"] == "ADA-FRIEND-7Q3K"


def test_order_updates_converge_on_the_newest_whatever_their_order(session, shop):
    oid = factories.next_id()
    newest = payloads.order(oid, updated=9, financial_status="paid", total_price="50.00")
    older = payloads.order(oid, updated=3, financial_status="pending", total_price="89.90")
    for payload in (newest, older, newest):
        order = orders.upsert_order(session, shop, payload)
    assert (order.financial_status, order.total_minor) == ("paid", 5000)
    count = session.scalar(select(func.count()).select_from(Order).where(Order.shop_id == shop.id))
    assert count == 1


def test_line_items_are_replaced_not_appended(session, shop):
    oid = factories.next_id()
    first = payloads.order(oid, updated=0)
    order = orders.upsert_order(session, shop, first)
    orders.upsert_order(
        session, shop, payloads.order(oid, updated=2, line_items=first["line_items"][:1])
    )
    count = session.scalar(
        select(func.count()).select_from(OrderLineItem).where(OrderLineItem.order_id == order.id)
    )
    assert count == 1


def test_a_refund_is_recorded_once_and_sums_into_the_order(session, shop):
    oid = factories.next_id()
    order = orders.upsert_order(session, shop, payloads.order(oid))
    for _ in range(2):
        orders.record_refund(session, shop, payloads.refund(11, oid, "10.00"))
    orders.record_refund(session, shop, payloads.refund(12, oid, "5.50"))
    assert order.refunded_minor == 1550
    assert queries.event_kinds(session, shop).count("order.refunded") == 2


def test_a_refund_before_its_order_is_kept_and_counted_when_the_order_comes(session, shop):
    oid = factories.next_id()
    refund = orders.record_refund(session, shop, payloads.refund(21, oid, "20.00"))
    assert refund.order_shopify_id == oid
    order = orders.upsert_order(session, shop, payloads.order(oid, refunds=[]))
    orders.record_refund(session, shop, payloads.refund(21, oid, "20.00"))
    assert order.refunded_minor == 2000


def test_refunds_carried_in_a_stale_order_payload_are_still_recorded(session, shop):
    oid = factories.next_id()
    order = orders.upsert_order(session, shop, payloads.order(oid, updated=9))
    stale = payloads.order(oid, updated=1, refunds=[payloads.refund(31, oid, "9.90")])
    orders.upsert_order(session, shop, stale)
    assert order.refunded_minor == 990
    assert session.scalar(select(func.count()).where(Refund.order_shopify_id == oid)) == 1


def test_an_order_refund_reaches_the_referral_engine(session, shop):
    factories.program(session, shop)
    advocate = factories.advocate(session, shop)
    payload = factories.order_payload(advocate.code, financial_status="paid")
    order_flow.apply_order(session, shop, payload)
    order_flow.apply_refund(session, shop, factories.refund_payload(payload["id"], "89.90"))
    assert queries.referrals(session, shop)[0].status == "voided"


def test_a_discount_code_is_stored_and_updated_by_updated_at(session, shop):
    did = factories.next_id()
    row = discounts.upsert_discount(
        session, shop, payloads.discount(did, updated=5, code="SPRING10")
    )
    discounts.upsert_discount(session, shop, payloads.discount(did, updated=1, status="EXPIRED"))
    assert (row.code, row.code_upper, row.status) == ("SPRING10", "SPRING10", "ACTIVE")
    discounts.upsert_discount(session, shop, payloads.discount(did, updated=8, status="EXPIRED"))
    assert row.status == "EXPIRED"


def test_automatic_discounts_are_not_codes(session, shop):
    payload = payloads.discount(
        admin_graphql_api_id=f"gid://shopify/DiscountAutomaticNode/{factories.next_id()}"
    )
    assert discounts.upsert_discount(session, shop, payload) is None


def test_a_deleted_discount_ignores_a_later_update(session, shop):
    did = factories.next_id()
    discounts.upsert_discount(session, shop, payloads.discount(did))
    row = discounts.delete_discount(session, shop, payloads.discount(did), utcnow())
    discounts.upsert_discount(session, shop, payloads.discount(did, updated=30, title="Back"))
    assert (row.status, row.title) == ("DELETED", "Friend offer 10%")


def _email_consent(cid: int, state: str, minute: int) -> dict:
    return {
        "customer_id": cid,
        "email_address": "ada@example.com",
        "email_marketing_consent": {
            "state": state,
            "opt_in_level": "single_opt_in",
            "consent_updated_at": payloads.ts(minute),
        },
    }


def test_a_consent_update_for_a_customer_not_synced_yet_makes_the_row(session, shop):
    cid = factories.next_id()
    row = customers.consent_changed(
        session, shop, "email", _email_consent(cid, "subscribed", 5), utcnow()
    )
    assert (row.shopify_id, row.email_marketing_state) == (cid, "subscribed")


def test_an_older_consent_never_overwrites_a_newer_one(session, shop):
    cid = factories.next_id()
    customers.consent_changed(
        session, shop, "email", _email_consent(cid, "unsubscribed", 9), utcnow()
    )
    row = customers.consent_changed(
        session, shop, "email", _email_consent(cid, "subscribed", 2), utcnow()
    )
    assert row.email_marketing_state == "unsubscribed"


def test_a_consent_payload_naming_no_customer_is_malformed(session, shop):
    with pytest.raises(consent.MalformedConsent):
        customers.consent_changed(
            session, shop, "email", {"email_marketing_consent": {"state": "subscribed"}}, utcnow()
        )

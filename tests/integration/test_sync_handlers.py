"""Every A3 topic through the real intake and a real worker, with Shopify-shaped payloads."""

from __future__ import annotations

import random

from shopify_app.models import (
    Customer,
    DiscountCode,
    Order,
    OrderLineItem,
    Refund,
    TimelineEvent,
    WebhookDelivery,
)
from tests import payloads
from tests.conftest import SHOP_A, SHOP_B

from .webhook_support import deliver, install, one, rows, run_jobs, shop_id, statuses


def events(app, kind=None):
    found = rows(app, TimelineEvent)
    return [e for e in found if kind is None or e.kind == kind]


def test_customer_create_syncs_profile_status_consent_and_timeline(live):
    install(live, SHOP_A)
    deliver(live, SHOP_A, "customers/create", payloads.customer(updated=0))
    run_jobs(live.app)
    c = one(live.app, Customer, Customer.shopify_id == 1001)
    assert c.shop_id == shop_id(live.app, SHOP_A)
    assert (c.email, c.email_normalized) == ("ada.lovelace+1001@example.com",) * 2
    assert c.phone == "+358401234567" and c.first_name == "Ada" and c.last_name == "Lovelace"
    assert c.shopify_status == "Member"
    assert c.email_marketing_state == "subscribed" and c.sms_marketing_state == "not_subscribed"
    assert c.tags == "vip, newsletter"
    assert sorted(e.kind for e in events(live.app)) == ["consent.email", "customer.created"]
    assert statuses(live.app) == ["done"]


def test_guest_is_a_customer_without_an_account(live):
    install(live, SHOP_A)
    deliver(live, SHOP_A, "customers/create", payloads.customer(state="disabled"))
    run_jobs(live.app)
    assert one(live.app, Customer, Customer.shopify_id == 1001).shopify_status == "Guest"


def test_an_older_update_never_overwrites_a_newer_one(live):
    install(live, SHOP_A)
    deliver(live, SHOP_A, "customers/update", payloads.customer(updated=30, first_name="Newer"))
    deliver(live, SHOP_A, "customers/update", payloads.customer(updated=10, first_name="Older"))
    deliver(live, SHOP_A, "customers/create", payloads.customer(updated=0, first_name="Oldest"))
    run_jobs(live.app)
    assert one(live.app, Customer, Customer.shopify_id == 1001).first_name == "Newer"
    assert statuses(live.app) == ["done"] * 3


def test_payload_without_consent_or_tags_keeps_what_is_known(live):
    """API 2025-01+ customer webhooks dropped consent and tags: absent is not 'unsubscribed'."""
    install(live, SHOP_A)
    deliver(live, SHOP_A, "customers/create", payloads.customer(updated=0))
    slim = payloads.customer(updated=5, last_name="Byron")
    for key in ("email_marketing_consent", "sms_marketing_consent", "tags"):
        del slim[key]
    deliver(live, SHOP_A, "customers/update", slim)
    run_jobs(live.app)
    c = one(live.app, Customer, Customer.shopify_id == 1001)
    assert c.last_name == "Byron"
    assert c.email_marketing_state == "subscribed" and c.tags == "vip, newsletter"


def test_consent_change_is_one_timeline_event_even_when_delivered_twice(live):
    install(live, SHOP_A)
    deliver(live, SHOP_A, "customers/create", payloads.customer(updated=0))
    unsubscribed = payloads.customer(
        updated=20,
        email_marketing_consent={
            "state": "unsubscribed",
            "opt_in_level": None,
            "consent_updated_at": payloads.ts(20),
        },
    )
    deliver(live, SHOP_A, "customers/update", unsubscribed, webhook_id="w-unsub-1")
    deliver(live, SHOP_A, "customers/update", unsubscribed, webhook_id="w-unsub-2")
    run_jobs(live.app)
    consent = events(live.app, "consent.email")
    assert [e.payload["to"] for e in consent] == ["subscribed", "unsubscribed"]
    assert consent[1].payload["from"] == "subscribed"


def test_customer_delete_is_honoured_and_a_late_update_does_not_resurrect(live):
    install(live, SHOP_A)
    deliver(live, SHOP_A, "customers/create", payloads.customer(updated=0))
    deliver(
        live,
        SHOP_A,
        "customers/delete",
        payloads.customer_deleted(1001),
        triggered_at="2026-11-20T16:00:00Z",
    )
    run_jobs(live.app)
    deliver(live, SHOP_A, "customers/update", payloads.customer(updated=10, first_name="Ghost"))
    run_jobs(live.app)
    c = one(live.app, Customer, Customer.shopify_id == 1001)
    assert c.deleted_at is not None and c.first_name == "Ada"
    assert len(events(live.app, "customer.deleted")) == 1


def test_order_create_syncs_every_field_the_referral_engine_needs(live):
    install(live, SHOP_A)
    deliver(live, SHOP_A, "orders/create", payloads.order())
    run_jobs(live.app)
    o = one(live.app, Order, Order.shopify_id == 5001)
    assert (o.name, o.currency) == ("#1001", "EUR")
    assert (o.total_minor, o.subtotal_minor, o.total_discounts_minor) == (8990, 9990, 1000)
    assert o.discount_codes == [
        {"code": "ADA-FRIEND-7Q3K", "amount_minor": 1000, "type": "fixed_amount"}
    ]
    assert o.note_attributes == [{"name": "referral_code", "value": "ADA-7Q3K"}]
    assert o.landing_site == "/?ref=ADA-7Q3K&utm_source=referral"
    assert o.referring_site == "https://mail.example.com/"
    assert (o.client_ip, o.user_agent) == ("203.0.113.7", "Mozilla/5.0 (X11)")
    assert o.financial_status == "pending" and o.cancelled_at is None
    customer = one(live.app, Customer, Customer.shopify_id == 1001)
    assert o.customer_id == customer.id and o.customer_shopify_id == 1001
    lines = rows(live.app, OrderLineItem, OrderLineItem.order_id == o.id)
    assert [
        (li.sku, li.product_id, li.variant_id, li.quantity, li.price_minor) for li in lines
    ] == [("TEA-GREEN-100", 7001, 8001, 2, 2495), (None, 7002, 8002, 1, 5000)]
    placed = one(live.app, TimelineEvent, TimelineEvent.kind == "order.placed")
    assert placed.customer_id == customer.id and placed.payload["total_minor"] == 8990


def test_order_updates_delivered_newest_first_converge_to_the_newest(live):
    install(live, SHOP_A)
    deliver(live, SHOP_A, "orders/paid", payloads.order(updated=20, financial_status="paid"))
    deliver(live, SHOP_A, "orders/updated", payloads.order(updated=10, financial_status="pending"))
    deliver(live, SHOP_A, "orders/create", payloads.order(updated=0, financial_status="pending"))
    run_jobs(live.app)
    assert one(live.app, Order, Order.shopify_id == 5001).financial_status == "paid"
    assert len(events(live.app, "order.placed")) == 1


def test_order_cancelled_records_status_and_an_event(live):
    install(live, SHOP_A)
    deliver(live, SHOP_A, "orders/create", payloads.order(updated=0))
    deliver(
        live,
        SHOP_A,
        "orders/cancelled",
        payloads.order(
            updated=40,
            cancelled_at=payloads.ts(40),
            cancel_reason="customer",
            financial_status="voided",
        ),
    )
    run_jobs(live.app)
    o = one(live.app, Order, Order.shopify_id == 5001)
    assert o.cancelled_at is not None and o.cancel_reason == "customer"
    assert (
        one(live.app, TimelineEvent, TimelineEvent.kind == "order.cancelled").payload["reason"]
        == "customer"
    )


def test_refund_is_recorded_once_and_totals_the_order(live):
    install(live, SHOP_A)
    deliver(live, SHOP_A, "orders/create", payloads.order())
    for webhook_id in ("r-1", "r-1", "r-2"):  # a duplicate delivery and a second subscription
        deliver(live, SHOP_A, "refunds/create", payloads.refund(), webhook_id=webhook_id)
    deliver(live, SHOP_A, "refunds/create", payloads.refund(rid=3002, amount="10.00"))
    run_jobs(live.app)
    assert sorted(r.amount_minor for r in rows(live.app, Refund)) == [1000, 2495]
    assert one(live.app, Order, Order.shopify_id == 5001).refunded_minor == 3495
    assert len(events(live.app, "order.refunded")) == 2


def test_refunds_inside_orders_updated_are_recorded_too(live):
    install(live, SHOP_A)
    deliver(live, SHOP_A, "orders/updated", payloads.order(updated=5, refunds=[payloads.refund()]))
    deliver(live, SHOP_A, "refunds/create", payloads.refund())
    run_jobs(live.app)
    assert len(rows(live.app, Refund)) == 1
    assert one(live.app, Order, Order.shopify_id == 5001).refunded_minor == 2495


def test_discount_create_update_delete(live):
    install(live, SHOP_A)
    deliver(live, SHOP_A, "discounts/create", payloads.discount(updated=0))
    deliver(live, SHOP_A, "discounts/update", payloads.discount(updated=20, status="EXPIRED"))
    deliver(live, SHOP_A, "discounts/update", payloads.discount(updated=10, status="ACTIVE"))
    run_jobs(live.app)
    d = one(live.app, DiscountCode, DiscountCode.shopify_id == 6001)
    assert (d.status, d.title) == ("EXPIRED", "Friend offer 10%")
    deliver(
        live,
        SHOP_A,
        "discounts/delete",
        {
            "admin_graphql_api_id": "gid://shopify/DiscountCodeNode/6001",
            "deleted_at": payloads.ts(50),
        },
    )
    deliver(live, SHOP_A, "discounts/update", payloads.discount(updated=55, status="ACTIVE"))
    run_jobs(live.app)
    d = one(live.app, DiscountCode, DiscountCode.shopify_id == 6001)
    assert d.deleted_at is not None and d.status == "DELETED"


def test_automatic_discounts_are_not_codes(live):
    install(live, SHOP_A)
    deliver(
        live,
        SHOP_A,
        "discounts/create",
        payloads.discount(admin_graphql_api_id="gid://shopify/DiscountAutomaticNode/77"),
    )
    run_jobs(live.app)
    assert rows(live.app, DiscountCode) == [] and statuses(live.app) == ["done"]


def test_bulk_operations_finish_is_recorded(live):
    install(live, SHOP_A)
    deliver(
        live,
        SHOP_A,
        "bulk_operations/finish",
        {
            "admin_graphql_api_id": "gid://shopify/BulkOperation/1",
            "completed_at": payloads.ts(5),
            "created_at": payloads.ts(0),
            "error_code": None,
            "status": "completed",
            "type": "query",
        },
    )
    run_jobs(live.app)
    assert statuses(live.app) == ["done"]


def test_thirty_percent_duplicates_change_nothing(live):
    install(live, SHOP_A)
    rng = random.Random(7)
    sent = []
    for n in range(40):
        topic, body = (
            ("orders/create", payloads.order(oid=6000 + n, cid=2000 + n % 5))
            if n % 2
            else ("customers/create", payloads.customer(cid=2000 + n % 5))
        )
        sent.append((topic, body, f"wh-{n}"))
    deliveries = sent + [rng.choice(sent) for _ in range(12)]
    rng.shuffle(deliveries)
    for topic, body, webhook_id in deliveries:
        deliver(live, SHOP_A, topic, body, webhook_id=webhook_id)
    run_jobs(live.app)
    assert len(rows(live.app, Order)) == 20 and len(rows(live.app, Customer)) == 5
    assert len(rows(live.app, WebhookDelivery)) == 40
    assert len(events(live.app, "order.placed")) == 20
    assert len(events(live.app, "customer.created")) == 5


def test_sync_topics_for_an_uninstalled_shop_do_no_work(live):
    install(live, SHOP_A)
    deliver(live, SHOP_A, "app/uninstalled", payloads.app_uninstalled(SHOP_A))
    run_jobs(live.app)
    deliver(live, SHOP_A, "orders/create", payloads.order())
    run_jobs(live.app)
    assert rows(live.app, Order) == []
    assert statuses(live.app) == ["done", "skipped"]


def test_shops_never_see_each_others_rows(live):
    install(live, SHOP_A)
    install(live, SHOP_B)
    deliver(live, SHOP_A, "orders/create", payloads.order())
    deliver(live, SHOP_B, "orders/create", payloads.order(name="#B-1"))
    run_jobs(live.app)
    a, b = shop_id(live.app, SHOP_A), shop_id(live.app, SHOP_B)
    assert one(live.app, Order, Order.shop_id == a).name == "#1001"
    assert one(live.app, Order, Order.shop_id == b).name == "#B-1"
    assert len(rows(live.app, Customer, Customer.shop_id == b)) == 1


def test_payload_that_is_not_an_object_is_rejected_with_the_reason(live):
    install(live, SHOP_A)
    deliver(live, SHOP_A, "orders/create", b"[1, 2, 3]")
    run_jobs(live.app)
    (row,) = rows(live.app, WebhookDelivery)
    assert row.status == "rejected" and "not a JSON object" in row.last_error

"""Compliance topics: shop/redact, customers/redact, customers/data_request (A6)."""

from __future__ import annotations

import json

from sqlalchemy import select

from shopify_app.db import get_session
from shopify_app.models import (
    Customer,
    DataRequest,
    Order,
    Refund,
    Shop,
    TimelineEvent,
    WebhookDelivery,
)
from tests import payloads
from tests.conftest import SHOP_A, SHOP_B
from tests.helpers import id_token

from .webhook_support import deliver, install, one, rows, run_jobs, shop_id


def seed(live, shop):
    install(live, shop)
    deliver(live, shop, "orders/create", payloads.order())
    deliver(live, shop, "refunds/create", payloads.refund())
    run_jobs(live.app)


def test_shop_redact_erases_the_shop_and_only_that_shop(live):
    seed(live, SHOP_A)
    seed(live, SHOP_B)
    deliver(live, SHOP_A, "shop/redact", payloads.shop_redact(SHOP_A))
    run_jobs(live.app)
    a, b = shop_id(live.app, SHOP_A), shop_id(live.app, SHOP_B)
    for model in (Customer, Order, Refund, TimelineEvent):
        assert rows(live.app, model, model.shop_id == a) == [], model.__name__
        assert rows(live.app, model, model.shop_id == b) != [], model.__name__
    (kept,) = rows(live.app, WebhookDelivery, WebhookDelivery.shop_id == a)
    assert kept.topic == "shop/redact" and kept.status == "done"
    shop = one(live.app, Shop, Shop.id == a)
    assert shop.access_token_enc is None and shop.refresh_token_enc is None and shop.name is None


def test_customers_redact_removes_personal_data_and_keeps_aggregates(live):
    seed(live, SHOP_A)
    deliver(live, SHOP_A, "customers/redact", payloads.customers_redact(SHOP_A))
    run_jobs(live.app)
    c = one(live.app, Customer, Customer.shopify_id == 1001)
    assert (c.email, c.phone, c.first_name, c.last_name, c.tags) == (None, None, None, None, "")
    assert c.redacted_at is not None
    o = one(live.app, Order, Order.shopify_id == 5001)
    assert (o.email, o.client_ip, o.user_agent, o.shipping_address) == (None, None, None, None)
    assert (o.total_minor, o.refunded_minor, o.currency) == (8990, 2495, "EUR")
    for event in rows(live.app, TimelineEvent, TimelineEvent.customer_id == c.id):
        assert set(event.payload) <= {
            "order_id",
            "total_minor",
            "amount_minor",
            "currency",
            "refund_id",
        }
    deliver(live, SHOP_A, "customers/update", payloads.customer(updated=59))
    run_jobs(live.app)
    assert one(live.app, Customer, Customer.shopify_id == 1001).email is None


def test_data_request_is_recorded_once_and_downloadable_by_that_shop_only(live):
    seed(live, SHOP_A)
    install(live, SHOP_B)
    for webhook_id in ("dr-1", "dr-2"):
        deliver(
            live,
            SHOP_A,
            "customers/data_request",
            payloads.customers_data_request(SHOP_A),
            webhook_id=webhook_id,
        )
    run_jobs(live.app)
    request = one(live.app, DataRequest)
    assert request.content["customer"]["email"] == "ada.lovelace+1001@example.com"
    assert request.content["orders"][0]["total_minor"] == 8990
    assert any(e["kind"] == "order.refunded" for e in request.content["timeline"])

    url = f"{live.app_url}/privacy/data-requests/{request.id}"
    ok = live.http.get(url, headers={"Authorization": f"Bearer {id_token(SHOP_A)}"})
    assert ok.status_code == 200
    assert ok.headers["Content-Disposition"].startswith("attachment;")
    assert json.loads(ok.text)["customer"]["shopify_id"] == 1001
    other = live.http.get(url, headers={"Authorization": f"Bearer {id_token(SHOP_B)}"})
    assert other.status_code == 404
    home = live.http.get(
        f"{live.app_url}/", headers={"Authorization": f"Bearer {id_token(SHOP_A)}"}
    )
    assert "Customer data requests" in home.text and "ada.lovelace+1001@example.com" in home.text


def test_data_request_for_an_unknown_customer_says_so(live):
    install(live, SHOP_A)
    deliver(live, SHOP_A, "customers/data_request", payloads.customers_data_request(SHOP_A, cid=42))
    run_jobs(live.app)
    assert "no data" in one(live.app, DataRequest).content["note"]


def test_compliance_topics_run_for_an_uninstalled_shop(live):
    seed(live, SHOP_A)
    deliver(live, SHOP_A, "app/uninstalled", payloads.app_uninstalled(SHOP_A))
    deliver(live, SHOP_A, "customers/redact", payloads.customers_redact(SHOP_A))
    run_jobs(live.app)
    assert one(live.app, Customer, Customer.shopify_id == 1001).redacted_at is not None


def test_customers_redact_leaves_no_personal_data_anywhere(live):
    seed(live, SHOP_A)
    deliver(live, SHOP_A, "customers/data_request", payloads.customers_data_request(SHOP_A))
    run_jobs(live.app)
    deliver(live, SHOP_A, "customers/redact", payloads.customers_redact(SHOP_A))
    run_jobs(live.app)
    needles = ("ada.lovelace", "+358401234567", "Lovelace", "203.0.113.7", "Engine Rd")
    with live.app.app_context():
        session = get_session()
        for model in (Customer, Order, Refund, TimelineEvent, DataRequest, WebhookDelivery):
            for row in session.scalars(select(model)).all():
                dump = repr({c.name: getattr(row, c.key, None) for c in model.__table__.columns})
                for needle in needles:
                    assert needle not in dump, f"{needle} left in {model.__name__}: {dump[:300]}"
        order = session.scalar(select(Order))
        assert order.note_attributes == [] and order.landing_site is None


def test_a_late_order_for_a_redacted_customer_stays_redacted(live):
    seed(live, SHOP_A)
    deliver(live, SHOP_A, "customers/redact", payloads.customers_redact(SHOP_A))
    run_jobs(live.app)
    deliver(live, SHOP_A, "orders/create", payloads.order(oid=5002))  # a retry arriving late
    run_jobs(live.app)
    late = one(live.app, Order, Order.shopify_id == 5002)
    assert late.redacted_at is not None
    assert (late.email, late.client_ip, late.shipping_address) == (None, None, None)

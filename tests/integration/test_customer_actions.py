"""The customer page's actions over HTTP with real ID tokens, against the devstore:
unsubscribe from SMS / email written back by the job through Shopify's consent mutations and
reflected by the consent webhooks, Shopify's userErrors shown on the page, one customer's
export downloaded and read back; other shops' customers 404, an erased customer offers
nothing."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest

from devstore import commerce, compliance
from shopify_app.models import AuditEntry, ConsentRequest, Customer, OrderLineItem, WebhookDelivery
from tests.conftest import SHOP_A, SHOP_B

from .test_program_pages import get, post
from .webhook_support import install, one, rows, run_jobs

SMS_TOPIC = "customers_marketing_consent/update"

NO_PHONE = "A phone number is required for SMS marketing"


def settle(live, rounds: int = 4) -> None:
    for _ in range(rounds):
        assert live.state.dispatcher.drain(15)
        run_jobs(live.app)


@pytest.fixture
def shop(live):
    install(live, SHOP_A)
    install(live, SHOP_B)
    return live


def dev_customer(live, **fields) -> commerce.DevCustomer:
    customer = commerce.create_customer(live.state, SHOP_A, **fields)
    settle(live)
    return customer


def app_customer(live, shopify_id: int) -> Customer:
    return one(live.app, Customer, Customer.shopify_id == shopify_id)


def unsubscribe(live, customer_id: int, channels, key: str, reason="asked us by phone"):
    return post(
        live,
        f"/customers/{customer_id}/unsubscribe",
        {"channel": list(channels), "reason": reason, "request_key": key},
    )


def test_unsubscribe_from_sms_is_written_back_and_reflected_by_the_webhook(shop):
    live = shop
    dev = dev_customer(
        live,
        email="sam@example.com",
        phone="+15550103030",
        first_name="Sam",
        sms_consent="subscribed",
        email_consent="subscribed",
    )
    customer = app_customer(live, dev.id)
    assert customer.sms_marketing_state == "subscribed"
    page = get(live, f"/customers/{customer.id}")
    assert 'id="unsubscribe"' in page.text and 'id="export-json"' in page.text

    answer = unsubscribe(live, customer.id, ["sms"], "click-1")
    assert answer.status_code == 200
    assert "Unsubscribed from SMS marketing; Shopify is being updated." in answer.text
    assert "waiting for Shopify to confirm" in answer.text
    again = unsubscribe(live, customer.id, ["sms"], "click-1")  # a double click
    assert "Already requested: SMS marketing." in again.text
    [request] = rows(live.app, ConsentRequest)
    assert request.status == "pending"
    assert app_customer(live, dev.id).sms_marketing_state == "unsubscribed"  # at once

    settle(live)
    assert dev.sms_consent == "unsubscribed"
    assert dev.sms_consent_updated_at == request.consent_updated_at
    assert dev.email_consent == "subscribed"  # the other channel untouched
    deliveries = rows(live.app, WebhookDelivery, WebhookDelivery.topic == SMS_TOPIC)
    assert deliveries and {d.status for d in deliveries} == {"done"}
    [request] = rows(live.app, ConsentRequest)
    assert request.status == "confirmed"
    customer = app_customer(live, dev.id)
    assert customer.sms_marketing_state == "unsubscribed"
    assert customer.sms_marketing_consent_updated_at == dev.sms_consent_updated_at
    page = get(live, f"/customers/{customer.id}")
    assert "Shopify confirmed" in page.text
    assert "Unsubscribed" in page.text.split('id="sms-consent"')[1][:80]

    noop = unsubscribe(live, customer.id, ["sms"], "click-2")
    assert "Already unsubscribed from SMS marketing: nothing to do." in noop.text
    assert len(rows(live.app, ConsentRequest)) == 1
    [audit] = rows(live.app, AuditEntry, AuditEntry.action == "customer.unsubscribed_sms")
    assert (audit.actor, audit.reason) == ("staff:501", "asked us by phone")


def test_shopify_user_errors_are_shown_and_the_state_goes_back(shop):
    live = shop
    dev = dev_customer(live, email="nophone@example.com", email_consent="subscribed")
    customer = app_customer(live, dev.id)
    answer = unsubscribe(live, customer.id, ["sms"], "k")
    assert answer.status_code == 200
    settle(live)
    [request] = rows(live.app, ConsentRequest)
    assert request.status == "failed"
    assert request.user_errors == [
        {"field": ["customerId"], "message": NO_PHONE, "code": "INVALID"}
    ]
    assert app_customer(live, dev.id).sms_marketing_state is None
    page = get(live, f"/customers/{customer.id}")
    assert "Shopify refused the unsubscribe from SMS marketing" in page.text
    assert f"customerId: {NO_PHONE}" in page.text


def test_a_reason_is_required(shop):
    live = shop
    dev = dev_customer(live, email="why@example.com", email_consent="subscribed")
    customer = app_customer(live, dev.id)
    answer = unsubscribe(live, customer.id, ["email"], "k", reason="")
    assert answer.status_code == 422
    assert "Not unsubscribed: say why" in answer.text
    assert rows(live.app, ConsentRequest) == []


def _place_order(live, dev) -> commerce.DevOrder:
    order = commerce.place_order(
        live.state,
        SHOP_A,
        customer_id=dev.id,
        lines=[
            {"title": "Green tea", "quantity": 2, "price": "4.50", "sku": "TEA-1"},
            {"title": "=cmd|calc", "quantity": 1, "price": "12.00", "sku": "MUG-1"},
        ],
    )
    settle(live)
    return order


def test_one_customers_export_read_back(shop):
    live = shop
    dev = dev_customer(live, email="exp@example.com", first_name="Exa", email_consent="subscribed")
    _place_order(live, dev)
    customer = app_customer(live, dev.id)
    lines = rows(live.app, OrderLineItem)
    assert len(lines) == 2

    as_json = get(live, f"/customers/{customer.id}/export.json")
    assert as_json.status_code == 200
    assert as_json.headers["Cache-Control"] == "no-store"
    assert as_json.headers["Content-Type"].startswith("application/json")
    assert f'filename="customer-{dev.id}.json"' in as_json.headers["Content-Disposition"]
    document = json.loads(as_json.content)
    assert document["profile"]["email"] == "exp@example.com"
    assert {c["channel"]: c["state"] for c in document["consent"]}["email"] == "subscribed"
    [order] = document["orders"]
    assert sorted((li["title"], li["quantity"], li["price_minor"]) for li in order["lines"]) == [
        ("=cmd|calc", 1, 1200),
        ("Green tea", 2, 450),
    ]
    kinds = {e["kind"] for e in document["timeline"]}
    assert "customer.created" in kinds

    as_zip = get(live, f"/customers/{customer.id}/export.zip")
    assert as_zip.status_code == 200
    assert as_zip.headers["Cache-Control"] == "no-store"
    with zipfile.ZipFile(io.BytesIO(as_zip.content)) as archive:
        sections = {
            n.removesuffix(".csv"): list(csv.DictReader(io.StringIO(archive.read(n).decode())))
            for n in archive.namelist()
        }
    assert set(sections) >= {"profile", "consent", "orders", "order_lines", "timeline"}
    assert sections["profile"][0]["email"] == "exp@example.com"
    assert sorted(li["title"] for li in sections["order_lines"]) == ["'=cmd|calc", "Green tea"]
    # the zip was made after the JSON export, which is on the timeline now
    assert len(sections["timeline"]) == len(document["timeline"]) + 1
    assert sections["timeline"][0]["kind"] == "staff.customer.exported"
    audits = rows(live.app, AuditEntry, AuditEntry.action == "customer.exported")
    assert [(a.actor, a.subject_id, a.after["format"]) for a in audits] == [
        ("staff:501", customer.id, "json"),
        ("staff:501", customer.id, "zip"),
    ]


def test_another_shops_customer_is_not_found(shop):
    live = shop
    dev = dev_customer(live, email="mine@example.com", email_consent="subscribed")
    customer = app_customer(live, dev.id)
    for path in (f"/customers/{customer.id}/export.json", f"/customers/{customer.id}/export.zip"):
        assert get(live, path, shop=SHOP_B).status_code == 404
    answer = post(
        live,
        f"/customers/{customer.id}/unsubscribe",
        {"channel": "email", "reason": "x", "request_key": "k"},
        shop=SHOP_B,
    )
    assert answer.status_code == 404
    assert get(live, f"/customers/{customer.id}/export.csv").status_code == 404
    assert rows(live.app, ConsentRequest) == []
    assert app_customer(live, dev.id).email_marketing_state == "subscribed"


def test_an_erased_customer_offers_nothing(shop):
    live = shop
    dev = dev_customer(live, email="gone@example.com", email_consent="subscribed")
    customer = app_customer(live, dev.id)
    compliance.redact_customer(live.state, SHOP_A, dev.id)
    settle(live)
    assert app_customer(live, dev.id).redacted_at is not None
    page = get(live, f"/customers/{customer.id}")
    assert page.status_code == 200
    assert 'id="customer-actions"' not in page.text
    assert get(live, f"/customers/{customer.id}/export.json").status_code == 410
    answer = unsubscribe(live, customer.id, ["email"], "k")
    assert answer.status_code == 422 and "erased" in answer.text

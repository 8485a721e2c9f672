"""Webhook trust: the HMAC covers the body only, so a signed body sent again with other headers
(another topic, another shop) is stored `rejected` and does nothing (webhooks/trust.py)."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest
from click.testing import CliRunner

from devstore import bulk, commerce, compliance
from devstore.store import shopify_shop_id
from shopify_app.cli import main
from shopify_app.db import get_session
from shopify_app.models import Customer, Order, Shop, WebhookDelivery
from shopify_app.shopify.admin_api import admin_api
from shopify_app.shopify.services import shopify
from tests import payloads
from tests.conftest import SHOP_A, SHOP_B
from tests.helpers import proxy_query, webhook_headers
from tests.support import wait_until
from webhooks.inbox import replay
from webhooks.routing import HANDLERS

from .webhook_support import cli_env, deliver, install, one, rows, run_jobs, shop_id


def seed(live, shop: str) -> None:
    install(live, shop)
    deliver(live, shop, "orders/create", payloads.order())
    run_jobs(live.app)


def the_delivery(live, topic: str) -> WebhookDelivery:
    return one(live.app, WebhookDelivery, WebhookDelivery.topic == topic)


def assert_untouched(live, shop: str) -> None:
    sid = shop_id(live.app, shop)
    customer = one(live.app, Customer, Customer.shop_id == sid)
    assert customer.email == "ada.lovelace+1001@example.com" and customer.redacted_at is None
    order = one(live.app, Order, Order.shop_id == sid)
    assert order.email and order.client_ip == "203.0.113.7"
    row = one(live.app, Shop, Shop.id == sid)
    assert row.is_installed and row.access_token_enc and row.name


def assert_rejected(live, topic: str, reason: str) -> WebhookDelivery:
    row = the_delivery(live, topic)
    assert row.status == "rejected", (row.status, row.last_error)
    assert reason in row.last_error
    run_jobs(live.app)  # nothing to retry
    again = the_delivery(live, topic)
    assert (again.status, again.attempts) == ("rejected", row.attempts)
    return again


def deliver_refused(live, shop: str, topic: str, body, *, reason: str) -> WebhookDelivery:
    """Deliver `body` to `shop` as `topic`: it is stored rejected for `reason` and the shop's
    data stays as it was."""
    deliver(live, shop, topic, body)
    run_jobs(live.app)
    assert_untouched(live, shop)
    return assert_rejected(live, topic, reason)


@pytest.mark.parametrize(
    "body",
    [payloads.shop_redact(SHOP_A), payloads.order(), payloads.customers_redact(SHOP_A)],
    ids=["shop-a-redact", "order", "shop-a-customers-redact"],
)
def test_a_signed_body_replayed_as_shop_redact_for_another_shop_erases_nothing(live, body):
    seed(live, SHOP_A)
    seed(live, SHOP_B)
    response = deliver(live, SHOP_B, "shop/redact", body)
    assert response.status_code == 200
    run_jobs(live.app)
    assert_untouched(live, SHOP_B)
    assert_untouched(live, SHOP_A)
    assert_rejected(live, "shop/redact", "payload does not match shop/redact")


@pytest.mark.parametrize(
    "body",
    [payloads.app_uninstalled(SHOP_A), payloads.shop_redact(SHOP_B), payloads.order()],
    ids=["shop-a-uninstalled", "shop-b-redact", "order"],
)
def test_a_signed_body_replayed_as_app_uninstalled_for_another_shop_does_nothing(live, body):
    seed(live, SHOP_B)
    deliver_refused(
        live, SHOP_B, "app/uninstalled", body, reason="payload does not match app/uninstalled"
    )


def test_a_customers_redact_body_never_erases_the_whole_shop(live):
    """Both compliance bodies name the shop: the topic's own keys tell them apart."""
    seed(live, SHOP_A)
    deliver_refused(
        live, SHOP_A, "shop/redact", payloads.customers_redact(SHOP_A), reason="carries customer"
    )


def test_an_orders_paid_body_sent_as_customers_redact_redacts_nobody(live):
    seed(live, SHOP_A)
    deliver_refused(
        live,
        SHOP_A,
        "customers/redact",
        payloads.order(financial_status="paid"),
        reason="shop_domain is not the X-Shopify-Shop-Domain shop",
    )


@pytest.mark.parametrize(
    "body",
    [json.dumps([payloads.customers_redact(SHOP_A)]).encode(), b'"customers/redact"'],
    ids=["array", "string"],
)
def test_a_json_body_that_is_not_an_object_never_acts(live, body):
    seed(live, SHOP_A)
    deliver_refused(live, SHOP_A, "customers/redact", body, reason="payload is not a JSON object")


def test_an_app_proxy_signature_verifies_as_a_webhook_but_its_query_never_acts(live):
    """Shopify signs app-proxy queries with the app secret too: keys sorted, `key=value`
    joined with nothing, hex. Crafted keys make that message a JSON array; the signature,
    re-encoded as base64, is a valid webhook HMAC for it."""
    seed(live, SHOP_A)
    signed = proxy_query(SHOP_A, 7, extra={'["': "", "~": '"]'})
    message = "".join(f"{k}={v}" for k, v in sorted(signed.items()) if k != "signature")
    body = message.encode()
    headers = webhook_headers(SHOP_A, "shop/redact", body)
    proxy_hmac = base64.b64encode(bytes.fromhex(signed["signature"])).decode()
    assert headers["X-Shopify-Hmac-Sha256"] == proxy_hmac
    response = live.http.post(f"{live.app_url}/webhooks", content=body, headers=headers)
    assert response.status_code == 200
    run_jobs(live.app)
    assert_untouched(live, SHOP_A)
    assert_rejected(live, "shop/redact", "payload is not a JSON object")


def test_a_compliance_body_with_the_right_domain_but_another_shop_id_is_rejected(live):
    seed(live, SHOP_A)
    forged = {**payloads.customers_redact(SHOP_A), "shop_id": shopify_shop_id(SHOP_A) + 1}
    deliver_refused(
        live, SHOP_A, "customers/redact", forged, reason="shop_id is not the shop's Shopify id"
    )
    shop = one(live.app, Shop, Shop.domain == SHOP_A)
    assert shop.shopify_id == shopify_shop_id(SHOP_A)  # learned from the Admin API's shop query
    deliver_refused(
        live,
        SHOP_A,
        "app/uninstalled",
        {**payloads.app_uninstalled(SHOP_A), "id": 1},
        reason="id is not the shop's Shopify id",
    )


def test_a_rejected_body_is_scrubbed_by_customers_redact_like_any_other(live):
    seed(live, SHOP_A)
    deliver(live, SHOP_A, "customers/redact", payloads.order(financial_status="paid"))
    run_jobs(live.app)
    rejected = the_delivery(live, "customers/redact")
    assert rejected.status == "rejected" and b"ada.lovelace" in rejected.body
    deliver(live, SHOP_A, "customers/redact", payloads.customers_redact(SHOP_A))
    run_jobs(live.app)
    assert all(b"ada.lovelace" not in d.body for d in rows(live.app, WebhookDelivery))


def test_a_body_erased_by_a_redaction_is_rejected_if_replayed(live):
    seed(live, SHOP_A)
    deliver(live, SHOP_A, "customers/redact", payloads.customers_redact(SHOP_A))
    run_jobs(live.app)
    order_row = the_delivery(live, "orders/create")
    assert order_row.body == b'{"redacted":true}'
    with live.app.app_context():
        replay(get_session(), [order_row.id])
    run_jobs(live.app)
    assert_rejected(live, "orders/create", "erased by a redaction")
    assert one(live.app, Customer).redacted_at is not None


def test_the_genuine_bodies_still_act(live):
    seed(live, SHOP_A)
    deliver(live, SHOP_A, "customers/redact", payloads.customers_redact(SHOP_A))
    run_jobs(live.app)
    assert one(live.app, Customer).redacted_at is not None
    deliver(live, SHOP_A, "app/uninstalled", payloads.app_uninstalled(SHOP_A))
    run_jobs(live.app)
    assert not one(live.app, Shop, Shop.domain == SHOP_A).is_installed
    deliver(live, SHOP_A, "shop/redact", payloads.shop_redact(SHOP_A))
    run_jobs(live.app)
    assert rows(live.app, Customer) == [] and rows(live.app, Order) == []
    assert the_delivery(live, "shop/redact").status == "done"


def test_rejected_rows_are_listed_and_a_replay_checks_them_again(live):
    seed(live, SHOP_A)
    seed(live, SHOP_B)
    deliver(live, SHOP_B, "shop/redact", payloads.shop_redact(SHOP_A))
    run_jobs(live.app)
    row = assert_rejected(live, "shop/redact", "shop_domain is not")
    env, runner = cli_env(live.app), CliRunner()
    listed = runner.invoke(main, ["webhooks", "list", "--status", "rejected"], env=env)
    assert listed.exit_code == 0, listed.output
    assert f"{row.id}" in listed.output and "shop_domain is not" in listed.output
    replayed = runner.invoke(main, ["webhooks", "replay", "--status", "rejected"], env=env)
    assert replayed.exit_code == 0 and f"replayed 1 delivery: {row.id}" in replayed.output
    run_jobs(live.app)
    again = the_delivery(live, "shop/redact")
    assert again.status == "rejected" and "shop_domain is not" in again.last_error
    assert_untouched(live, SHOP_B)


# ---- end to end: what the devstore sends, as Shopify would, is accepted -------------------

LINES = [{"title": "Green tea", "price": "24.95", "quantity": 2, "sku": "TEA-1"}]
DISCOUNT = """
mutation Create($input: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $input) {
    codeDiscountNode { id } userErrors { field message code } } }"""
DEACTIVATE = """
mutation Off($id: ID!) {
  discountCodeDeactivate(id: $id) { codeDiscountNode { id } userErrors { field message } } }"""
DELETE = """
mutation Delete($id: ID!) {
  discountCodeDelete(id: $id) { deletedCodeDiscountId userErrors { field message } } }"""
EMAIL_CONSENT = """
mutation Consent($input: CustomerEmailMarketingConsentUpdateInput!) {
  customerEmailMarketingConsentUpdate(input: $input) { customer { id } userErrors { message } } }"""
SMS_CONSENT = """
mutation Consent($input: CustomerSmsMarketingConsentUpdateInput!) {
  customerSmsMarketingConsentUpdate(input: $input) { customer { id } userErrors { message } } }"""
BULK = """
mutation Bulk($query: String!) {
  bulkOperationRunQuery(query: $query) { bulkOperation { id } userErrors { message } } }"""


def settle(live, rounds: int = 3) -> None:
    for _ in range(rounds):
        assert live.state.dispatcher.drain(15)
        run_jobs(live.app)


def admin_graphql(live, shop: str, steps) -> None:
    """Run Admin API calls as the app does (the shop's own token)."""
    with live.app.app_context():
        session = get_session()
        api = admin_api(session, session.get(Shop, shop_id(live.app, shop)), shopify())
        steps(api)
        session.commit()


def wait_for_bulk(live, shop: str) -> None:
    """Until the app has stored `bulk_operations/finish`: the devstore marks the operation
    COMPLETED before its webhook is on the wire."""

    def finished() -> bool:
        op = bulk.current(live.state, shop)
        if op is None or op.status not in ("COMPLETED", "FAILED"):
            return False
        return bool(
            rows(live.app, WebhookDelivery, WebhookDelivery.topic == "bulk_operations/finish")
        )

    wait_until(finished, 10, "the bulk operation's webhook to be stored")


def test_every_topic_the_devstore_sends_is_accepted_end_to_end(live):

    install(live, SHOP_A)
    scopes = live.devstore.extensions["devstore_app"].scopes
    ada = commerce.create_customer(
        live.state, SHOP_A, email="ada@example.com", phone="+358401234567", first_name="Ada"
    )
    commerce.update_customer(live.state, SHOP_A, ada.id, last_name="Lovelace")
    order = commerce.place_order(live.state, SHOP_A, customer_id=ada.id, lines=LINES)
    commerce.fulfill_order(live.state, SHOP_A, order.id)
    commerce.refund_order(live.state, SHOP_A, order.id, Decimal("5.00"))
    commerce.cancel_order(live.state, SHOP_A, order.id)
    gone = commerce.create_customer(live.state, SHOP_A, email="gone@example.com")
    commerce.delete_customer(live.state, SHOP_A, gone.id)
    spec = {
        "title": "Friend 10%",
        "code": "ADA-FRIEND",
        "startsAt": "2026-11-01T00:00:00Z",
        "context": {"all": "ALL"},
        "customerGets": {"value": {"percentage": 0.1}, "items": {"all": True}},
    }

    def merchant(api):
        created = api.mutate(DISCOUNT, {"input": spec}, "discountCodeBasicCreate")
        gid = created["codeDiscountNode"]["id"]
        api.mutate(DEACTIVATE, {"id": gid}, "discountCodeDeactivate")
        api.mutate(DELETE, {"id": gid}, "discountCodeDelete")
        customer = f"gid://shopify/Customer/{ada.id}"
        email = {"marketingState": "SUBSCRIBED", "marketingOptInLevel": "SINGLE_OPT_IN"}
        api.mutate(
            EMAIL_CONSENT,
            {"input": {"customerId": customer, "emailMarketingConsent": email}},
            "customerEmailMarketingConsentUpdate",
        )
        api.mutate(
            SMS_CONSENT,
            {"input": {"customerId": customer, "smsMarketingConsent": email}},
            "customerSmsMarketingConsentUpdate",
        )
        api.mutate(
            BULK, {"query": "{ customers { edges { node { id } } } }"}, "bulkOperationRunQuery"
        )

    admin_graphql(live, SHOP_A, merchant)
    wait_for_bulk(live, SHOP_A)
    compliance.request_customer_data(live.state, SHOP_A, ada.id)
    compliance.redact_customer(live.state, SHOP_A, ada.id)
    live.state.install(SHOP_A, scopes + ",read_products")
    live.state.uninstall(SHOP_A)
    settle(live)
    delivered = rows(live.app, WebhookDelivery)
    assert {d.topic for d in delivered} == set(HANDLERS) - {"shop/redact"}
    assert {(d.topic, d.status, d.last_error) for d in delivered if d.status != "done"} == set()
    assert one(live.app, Customer, Customer.shopify_id == ada.id).redacted_at is not None
    assert not one(live.app, Shop, Shop.domain == SHOP_A).is_installed

    compliance.redact_shop(live.state, SHOP_A)
    settle(live)
    (kept,) = rows(live.app, WebhookDelivery)
    assert (kept.topic, kept.status) == ("shop/redact", "done")
    assert rows(live.app, Customer) == [] and rows(live.app, Order) == []

"""Consent stays current (API 2025-01+: customer payloads carry no consent): the two consent
topics are subscribed, the devstore delivers them with Shopify's payloads when consent
changes (the Admin API's mutation, a checkout's "email me"), the app keeps the state with
its date and opt-in level, ordered by that date, and puts each change on the timeline once."""

from __future__ import annotations

import json

from devstore import commerce
from shopify_app.db import get_session
from shopify_app.models import Customer, Shop, TimelineEvent, WebhookDelivery
from shopify_app.shopify.admin_api import admin_api
from shopify_app.shopify.services import shopify
from shopify_app.values import parse_timestamp
from tests.conftest import SHOP_A
from workers import sync_jobs

from .webhook_support import deliver, install, one, rows, run_jobs, shop_id

EMAIL_TOPIC = "customers_email_marketing_consent/update"
SMS_TOPIC = "customers_marketing_consent/update"
UNSUBSCRIBE = """
mutation Unsubscribe($input: CustomerEmailMarketingConsentUpdateInput!) {
  customerEmailMarketingConsentUpdate(input: $input) {
    customer { id }
    userErrors { field message }
  }
}"""


def settle(live, rounds: int = 3) -> None:
    for _ in range(rounds):
        assert live.state.dispatcher.drain(15)
        run_jobs(live.app)


def consent_events(live, channel="email"):
    return rows(live.app, TimelineEvent, TimelineEvent.kind == f"consent.{channel}")


def test_consent_changed_in_the_devstore_reaches_the_app_with_its_date_once(live):
    install(live, SHOP_A)
    live.state.dispatcher.fault_rates = {"duplicate": 0.5}
    store = f"{live.devstore_url}/shops/{SHOP_A}"
    live.http.post(f"{store}/cart/add.js", data={"id": "8001", "quantity": "1"})
    checkout = live.http.post(
        f"{store}/checkout",
        data={"email": "bea@example.com", "accepts_marketing": "on"},
    )
    assert checkout.status_code == 200
    settle(live)
    bea = commerce.customer_by_email(commerce.data(live.state, SHOP_A), "bea@example.com")
    customer = one(live.app, Customer, Customer.shopify_id == bea.id)
    assert customer.email_marketing_state == "subscribed"
    assert customer.email_marketing_opt_in_level == "single_opt_in"
    assert customer.email_marketing_consent_updated_at == bea.email_consent_updated_at

    with live.app.app_context():
        session = get_session()
        shop = session.get(Shop, shop_id(live.app, SHOP_A))
        admin_api(session, shop, shopify()).mutate(
            UNSUBSCRIBE,
            {
                "input": {
                    "customerId": f"gid://shopify/Customer/{bea.id}",
                    "emailMarketingConsent": {
                        "marketingState": "UNSUBSCRIBED",
                        "marketingOptInLevel": "CONFIRMED_OPT_IN",
                        "consentUpdatedAt": "2030-01-02T03:04:05Z",
                    },
                }
            },
            "customerEmailMarketingConsentUpdate",
        )
    settle(live)
    live.state.dispatcher.fault_rates = {}
    customer = one(live.app, Customer, Customer.shopify_id == bea.id)
    assert (customer.email_marketing_state, customer.email_marketing_opt_in_level) == (
        "unsubscribed",
        "confirmed_opt_in",
    )
    assert customer.email_marketing_consent_updated_at == parse_timestamp("2030-01-02T03:04:05Z")
    events = consent_events(live)
    assert [(e.payload["from"], e.payload["to"]) for e in events] == [
        (None, "subscribed"),
        ("subscribed", "unsubscribed"),
    ]
    assert events[1].occurred_at == customer.email_marketing_consent_updated_at

    deliveries = rows(live.app, WebhookDelivery)
    assert {d.status for d in deliveries} == {"done"}
    assert EMAIL_TOPIC in {d.topic for d in deliveries}
    for d in deliveries:  # Shopify's payloads at API 2026-07: consent only on its own topic
        if d.topic.startswith("customers/"):
            assert "email_marketing_consent" not in json.loads(d.body)

    with live.app.app_context():  # the same state read again through GraphQL: no second event
        sync_jobs.reconcile_shop(shop_id(live.app, SHOP_A))
    assert len(consent_events(live)) == 2
    assert one(live.app, Customer, Customer.shopify_id == bea.id).email_marketing_state == (
        "unsubscribed"
    )


def email_consent(cid: int, state: str, at: str | None, level: str | None = "single_opt_in"):
    return {
        "customer_id": cid,
        "email_address": f"c{cid}@example.com",
        "email_marketing_consent": {
            "state": state,
            "opt_in_level": level,
            "consent_updated_at": at,
        },
    }


def test_an_older_consent_delivered_late_never_overwrites_a_newer_one(live):
    install(live, SHOP_A)
    newer = email_consent(1001, "unsubscribed", "2026-11-20T12:00:00Z", None)
    older = email_consent(1001, "subscribed", "2026-11-20T11:00:00-00:00")
    deliver(live, SHOP_A, EMAIL_TOPIC, newer)  # overtakes customers/create, too
    deliver(live, SHOP_A, EMAIL_TOPIC, older)
    deliver(live, SHOP_A, EMAIL_TOPIC, older)  # a duplicate (another webhook id)
    sms = {
        "id": 1001,
        "phone": "+358401234567",
        "sms_marketing_consent": {
            "state": "subscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": "2026-11-20T10:30:00Z",
            "consent_collected_from": "SHOPIFY",
        },
    }
    deliver(live, SHOP_A, SMS_TOPIC, sms)
    slim = {
        "id": 1001,
        "admin_graphql_api_id": "gid://shopify/Customer/1001",
        "email": "ada@example.com",
        "first_name": "Ada",
        "updated_at": "2026-11-20T13:00:00Z",
    }
    deliver(live, SHOP_A, "customers/create", slim)
    run_jobs(live.app)

    c = one(live.app, Customer, Customer.shopify_id == 1001)
    assert (c.first_name, c.email_marketing_state, c.email_marketing_opt_in_level) == (
        "Ada",
        "unsubscribed",
        None,
    )
    assert c.email_marketing_consent_updated_at == parse_timestamp("2026-11-20T12:00:00Z")
    assert (c.sms_marketing_state, c.sms_marketing_opt_in_level) == ("subscribed", "single_opt_in")
    events = consent_events(live)
    assert [(e.payload["to"], e.payload.get("superseded", False)) for e in events] == [
        ("unsubscribed", False),
        ("subscribed", True),  # the earlier change is on the timeline, at its own date
    ]
    assert events[1].occurred_at < events[0].occurred_at
    assert len(consent_events(live, "sms")) == 1
    assert {d.status for d in rows(live.app, WebhookDelivery)} == {"done"}


def test_a_consent_payload_that_names_no_customer_or_an_unknown_state_does_nothing(live):
    """No customer id: the trust rules refuse it at intake (`rejected`); a state the app does
    not know: the handler gives up on it (`dead`). Both with their reason, neither acts."""
    install(live, SHOP_A)
    deliver(live, SHOP_A, EMAIL_TOPIC, {"email_marketing_consent": {"state": "subscribed"}})
    deliver(live, SHOP_A, EMAIL_TOPIC, email_consent(1002, "maybe", "2026-11-20T12:00:00Z"))
    run_jobs(live.app)
    refused = rows(live.app, WebhookDelivery)
    assert [d.status for d in refused] == ["rejected", "dead"]
    assert "no customer_id" in refused[0].last_error
    assert "unknown state" in refused[1].last_error
    assert rows(live.app, Customer) == [] and consent_events(live) == []

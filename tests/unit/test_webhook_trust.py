"""Webhook trust rules (webhooks/trust.py): a signed body acts only as the topic it is shaped
for, and only for the shop it names."""

from __future__ import annotations

import pytest

from devstore.store import shopify_shop_id
from tests import payloads
from webhooks.routing import HANDLERS
from webhooks.trust import RULES, payload_problem

SHOP = "alpha-shop.myshopify.com"
OTHER = "beta-shop.myshopify.com"
SHOP_ID = shopify_shop_id(SHOP)

# Customer bodies at API 2025-01 and later carry no consent and no tags (shopify-platform.md
# § 3.6); older ones did, and would pass as the SMS consent topic (docs/architecture.md).
CUSTOMER = {
    k: v
    for k, v in payloads.customer().items()
    if k not in ("email_marketing_consent", "sms_marketing_consent", "tags")
}

# One genuine body per topic, as Shopify sends it (consent payloads: shopify-platform.md § 11.4).
GENUINE = {
    "orders/create": payloads.order(),
    "orders/updated": payloads.order(),
    "orders/paid": payloads.order(),
    "orders/cancelled": payloads.order(),
    "orders/fulfilled": payloads.order(),
    "refunds/create": payloads.refund(),
    "customers/create": CUSTOMER,
    "customers/update": CUSTOMER,
    "customers/delete": payloads.customer_deleted(),
    "discounts/create": payloads.discount(),
    "discounts/update": payloads.discount(),
    "discounts/delete": {
        "admin_graphql_api_id": "gid://shopify/DiscountCodeNode/6001",
        "deleted_at": payloads.ts(5),
    },
    "bulk_operations/finish": {
        "admin_graphql_api_id": "gid://shopify/BulkOperation/77",
        "completed_at": payloads.ts(5),
        "created_at": payloads.ts(0),
        "error_code": None,
        "status": "completed",
        "type": "query",
    },
    "customers_email_marketing_consent/update": {
        "customer_id": 1001,
        "email_address": "ada@example.com",
        "email_marketing_consent": {
            "state": "subscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": payloads.ts(5),
        },
    },
    "customers_marketing_consent/update": {
        "id": 1001,
        "phone": "+358401234567",
        "sms_marketing_consent": {
            "state": "subscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": payloads.ts(5),
            "consent_collected_from": "OTHER",
        },
    },
    "app/uninstalled": payloads.app_uninstalled(SHOP),
    "app/scopes_update": payloads.scopes_update(["read_orders"], ["read_orders", "write_orders"]),
    "shop/redact": payloads.shop_redact(SHOP),
    "customers/redact": payloads.customers_redact(SHOP),
    "customers/data_request": payloads.customers_data_request(SHOP),
}

# Topics that carry the same resource: one's body is a valid body of the others.
SAME_SHAPE = [
    {"orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled"},
    {"customers/create", "customers/update", "customers/delete"},
    {"discounts/create", "discounts/update", "discounts/delete"},
]


def same_shape(a: str, b: str) -> bool:
    return a == b or any(a in group and b in group for group in SAME_SHAPE)


def test_every_topic_the_app_routes_has_a_rule():
    assert set(HANDLERS) <= set(RULES)
    assert set(RULES) == set(GENUINE)


@pytest.mark.parametrize("topic", sorted(GENUINE))
def test_genuine_bodies_are_accepted_with_and_without_the_shops_id(topic):
    assert payload_problem(topic, SHOP, GENUINE[topic]) is None
    assert payload_problem(topic, SHOP, GENUINE[topic], SHOP_ID) is None


@pytest.mark.parametrize("topic", sorted(GENUINE))
def test_a_body_never_acts_as_a_topic_of_another_shape(topic):
    for source, body in GENUINE.items():
        if not same_shape(source, topic):
            assert payload_problem(topic, SHOP, body, SHOP_ID), f"{source} body as {topic}"


@pytest.mark.parametrize("topic", ["shop/redact", "customers/redact", "customers/data_request"])
def test_compliance_bodies_must_name_the_header_shop_by_domain_and_id(topic):
    body = GENUINE[topic]
    assert "shop_domain is not" in payload_problem(topic, OTHER, body)
    wrong_id = {**body, "shop_id": SHOP_ID + 1}
    assert payload_problem(topic, SHOP, wrong_id) is None  # the id unknown: domain only
    assert "shop_id is not the shop's Shopify id" in payload_problem(topic, SHOP, wrong_id, SHOP_ID)
    assert "no shop_id" in payload_problem(topic, SHOP, {**body, "shop_id": None})
    upper = {**body, "shop_domain": SHOP.upper()}
    assert payload_problem(topic, SHOP, upper, SHOP_ID) is None


def test_app_uninstalled_must_name_the_header_shop():
    body = GENUINE["app/uninstalled"]
    assert "myshopify_domain is not" in payload_problem("app/uninstalled", OTHER, body)
    wrong = {**body, "id": 5}
    assert "id is not the shop's Shopify id" in payload_problem(
        "app/uninstalled", SHOP, wrong, SHOP_ID
    )
    assert payload_problem("app/uninstalled", SHOP, {"domain": SHOP}) is not None


@pytest.mark.parametrize(
    "body",
    [
        [payloads.shop_redact(SHOP)],
        "shop_domain",
        42,
        None,
        # An app-proxy signature's message (keys sorted, `key=value` joined with nothing)
        # can be made valid JSON with crafted keys, but only an array or a string: `{`
        # sorts after `logged_in_customer_id`, which Shopify always adds.
        ["=logged_in_customer_id=7path_prefix=/apps/referralsshop=" + SHOP + "timestamp=1~="],
    ],
)
def test_a_body_that_is_not_a_json_object_never_acts(body):
    for topic in GENUINE:
        assert payload_problem(topic, SHOP, body) == "payload is not a JSON object"


def test_a_resources_id_must_be_its_gids():
    order = payloads.order(oid=5001)
    assert payload_problem("orders/paid", SHOP, {**order, "id": 5002})
    assert payload_problem("orders/paid", SHOP, {**order, "admin_graphql_api_id": "5001"})
    forged = {**order, "admin_graphql_api_id": "gid://shopify/Order/x"}
    assert payload_problem("orders/paid", SHOP, forged)
    assert "no order_id" in payload_problem(
        "refunds/create", SHOP, {**payloads.refund(), "order_id": None}
    )


def test_a_topic_without_a_rule_is_refused():
    assert payload_problem("products/create", SHOP, {"id": 1}) == (
        "no trust rule for topic products/create"
    )

"""`shopify.app.toml` declares the app, and every path it declares is served (A7)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from shopify_app.config import DEFAULT_API_VERSION, DEFAULT_SCOPES

TOML = tomllib.loads((Path(__file__).parents[2] / "shopify.app.toml").read_text())

A3_TOPICS = {
    "orders/create",
    "orders/updated",
    "orders/paid",
    "orders/cancelled",
    "orders/fulfilled",
    "refunds/create",
    "customers/create",
    "customers/update",
    "customers/delete",
    "customers_email_marketing_consent/update",
    "customers_marketing_consent/update",
    "discounts/create",
    "discounts/update",
    "discounts/delete",
    "app/uninstalled",
    "app/scopes_update",
    "bulk_operations/finish",
}
COMPLIANCE = {"customers/data_request", "customers/redact", "shop/redact"}


def declared_paths() -> list[tuple[str, str]]:
    """(method, path) for the app URL, the OAuth redirect URLs and every webhook uri."""
    paths = [("GET", urlsplit(TOML["application_url"]).path or "/")]
    paths += [("GET", urlsplit(u).path) for u in TOML["auth"]["redirect_urls"]]
    paths += [("POST", s["uri"]) for s in TOML["webhooks"]["subscriptions"]]
    proxy = urlsplit(TOML["app_proxy"]["url"]).path
    paths += [("GET", proxy), ("POST", f"{proxy}/join"), ("POST", f"{proxy}/share")]
    return paths


def test_app_is_embedded_with_the_scopes_the_product_needs():
    assert TOML["embedded"] is True
    scopes = set(TOML["access_scopes"]["scopes"].split(","))
    assert scopes == set(DEFAULT_SCOPES.split(","))
    assert {"read_customers", "write_customers", "read_orders", "write_discounts"} <= scopes
    assert TOML["webhooks"]["api_version"] == DEFAULT_API_VERSION


def test_every_a3_topic_and_compliance_topic_is_subscribed_once():
    subs = TOML["webhooks"]["subscriptions"]
    topics = [t for s in subs for t in s.get("topics", [])]
    compliance = [t for s in subs for t in s.get("compliance_topics", [])]
    assert set(topics) == A3_TOPICS and len(topics) == len(set(topics))
    assert set(compliance) == COMPLIANCE and len(compliance) == len(COMPLIANCE)


@pytest.mark.parametrize(("method", "path"), declared_paths())
def test_every_declared_path_is_served(app, method, path):
    adapter = app.url_map.bind("localhost")
    try:
        adapter.match(path, method=method)
    except (NotFound, MethodNotAllowed) as exc:
        pytest.fail(f"{method} {path} is declared in shopify.app.toml but not served: {exc}")


def test_compliance_webhook_with_a_bad_hmac_answers_401(live):
    response = live.http.post(
        f"{live.app_url}/webhooks",
        content=b"{}",
        headers={
            "X-Shopify-Topic": "shop/redact",
            "X-Shopify-Hmac-Sha256": "bad",
            "X-Shopify-Shop-Domain": "alpha-shop.myshopify.com",
        },
    )
    assert response.status_code == 401

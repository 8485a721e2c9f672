"""The Admin API client against the devstore: cost, THROTTLED, 5xx, and a token refused early."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shopify_app.db import get_session
from shopify_app.models import Shop
from shopify_app.shopify.admin_api import admin_api
from shopify_app.shopify.errors import GraphQLError, ThrottledError
from shopify_app.shopify.graphql import throttle_wait
from shopify_app.shopify.services import shopify
from tests.conftest import SHOP_A

from .webhook_support import install

SHOP_QUERY = "{ shop { name myshopifyDomain } }"


def run(live, query=SHOP_QUERY, variables=None):
    with live.app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        return admin_api(session, shop, shopify()).execute(query, variables)


def test_a_query_reports_its_cost_and_returns_data(live):
    install(live, SHOP_A)
    assert run(live) == {"shop": {"name": "Alpha Shop", "myshopifyDomain": SHOP_A}}


def test_throttled_with_http_200_is_waited_out_not_raised(live):
    install(live, SHOP_A)
    live.state.bucket_restore_rate = 1000.0
    live.state.buckets.clear()
    live.state.graphql_faults = ["throttled", "throttled"]
    assert run(live)["shop"]["name"] == "Alpha Shop"
    assert [r["fault"] for r in live.state.graphql_requests[-3:]] == [
        "throttled",
        "throttled",
        None,
    ]


def test_throttling_that_outlasts_the_budget_raises_a_typed_error(live):
    install(live, SHOP_A)
    live.state.bucket_restore_rate = 0.001  # effectively never refills
    live.state.buckets.clear()
    live.state.graphql_faults = ["throttled"]
    with pytest.raises(ThrottledError) as exc:
        run(live)
    assert exc.value.retry_after > 60


def test_server_errors_are_retried(live):
    install(live, SHOP_A)
    live.state.graphql_faults = ["503", "500"]
    assert run(live)["shop"]["name"] == "Alpha Shop"


def test_a_token_refused_before_its_expiry_is_refreshed_once(live):
    install(live, SHOP_A)
    for token in live.state.access_tokens.values():
        token.revoked = True  # e.g. rotated on Shopify's side
    assert run(live)["shop"]["name"] == "Alpha Shop"
    assert [r["grant_type"] for r in live.state.token_requests].count("refresh_token") == 1


def test_graphql_errors_are_raised_with_shopifys_messages(live):
    install(live, SHOP_A)
    with pytest.raises(GraphQLError) as exc:
        run(live, "{ shop { nope } }")
    assert "nope" in str(exc.value)


def test_throttle_wait_follows_the_documented_formula():
    ext = {
        "cost": {
            "requestedQueryCost": 502,
            "throttleStatus": {
                "maximumAvailable": 2000,
                "currentlyAvailable": 2,
                "restoreRate": 100,
            },
        }
    }
    assert throttle_wait(ext) == pytest.approx(5.0)
    assert throttle_wait({}) == 1.0

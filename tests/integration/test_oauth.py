"""The authorization-code grant, end to end against the devstore, and its refusals."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlsplit

from sqlalchemy import func, select

from shopify_app.db import get_session
from shopify_app.models import OAuthState, Shop
from tests.conftest import SHOP_NEW
from tests.helpers import API_KEY, signed_query


def begin(live, shop=SHOP_NEW):
    response = live.http.get(f"{live.app_url}/auth", params={"shop": shop})
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def approve(live, authorize_url, **overrides):
    """The merchant clicks Install on the devstore's authorize page."""
    parts = urlsplit(authorize_url)
    form = {k: v[0] for k, v in parse_qs(parts.query).items()} | overrides
    response = live.http.post(f"{live.devstore_url}{parts.path}", data=form)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def test_full_authorization_code_install(live):
    authorize_url = begin(live)
    parts = urlsplit(authorize_url)
    assert parts.path == f"/shops/{SHOP_NEW}/admin/oauth/authorize"
    query = parse_qs(parts.query)
    assert query["client_id"] == [API_KEY]
    assert query["redirect_uri"] == [f"{live.app_url}/auth/callback"]
    assert len(query["state"][0]) == 64

    callback = approve(live, authorize_url)
    assert callback.startswith(f"{live.app_url}/auth/callback?")
    host = parse_qs(urlsplit(callback).query)["host"][0]
    assert not host.endswith("="), "Shopify sends `host` without base64 padding"
    response = live.http.get(callback)
    assert response.status_code == 302
    assert response.headers["Location"] == f"{live.devstore_url}/store/gamma-shop/apps/{API_KEY}"
    with live.app.app_context():
        shop = get_session().scalar(select(Shop).where(Shop.domain == SHOP_NEW))
        assert shop.is_installed and shop.access_token_enc and shop.refresh_token_enc
        assert get_session().scalar(select(func.count()).select_from(OAuthState)) == 0

    replay = live.http.get(callback)
    assert replay.status_code == 403  # the state nonce is single use


def test_invalid_shop_domain_is_400(live):
    for shop in ("evil.example", "", "gamma-shop.myshopify.com/../x"):
        assert live.http.get(f"{live.app_url}/auth", params={"shop": shop}).status_code == 400


def test_install_request_with_a_bad_hmac_is_401(live):
    params = signed_query({"shop": SHOP_NEW, "timestamp": str(int(time.time()))})
    params["hmac"] = "0" * 64
    assert live.http.get(f"{live.app_url}/auth", params=params).status_code == 401


def test_install_request_with_a_valid_hmac_begins(live):
    params = signed_query({"shop": SHOP_NEW, "timestamp": str(int(time.time()))})
    assert live.http.get(f"{live.app_url}/auth", params=params).status_code == 302


def test_callback_with_tampered_params_is_401_and_installs_nothing(live):
    callback = approve(live, begin(live))
    parts = urlsplit(callback)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["code"] = "forged-code"
    response = live.http.get(f"{live.app_url}/auth/callback?{urlencode(query)}")
    assert response.status_code == 401
    with live.app.app_context():
        assert get_session().scalar(select(Shop).where(Shop.domain == SHOP_NEW)) is None


def test_callback_with_an_unknown_state_is_403(live):
    params = signed_query(
        {"code": "abc", "shop": SHOP_NEW, "state": "f" * 64, "timestamp": str(int(time.time()))}
    )
    assert live.http.get(f"{live.app_url}/auth/callback", params=params).status_code == 403


def test_callback_with_a_stale_timestamp_is_400(live):
    params = signed_query(
        {
            "code": "abc",
            "shop": SHOP_NEW,
            "state": "f" * 64,
            "timestamp": str(int(time.time()) - 3600),
        }
    )
    assert live.http.get(f"{live.app_url}/auth/callback", params=params).status_code == 400


def test_state_bound_to_another_shop_is_refused(live):
    callback = approve(live, begin(live))
    query = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    query["shop"] = "beta-shop.myshopify.com"
    response = live.http.get(
        f"{live.app_url}/auth/callback",
        params=signed_query({k: v for k, v in query.items() if k != "hmac"}),
    )
    assert response.status_code == 403


def test_granted_scopes_missing_a_required_one_are_refused(live):
    callback = approve(live, begin(live), scope="read_customers,read_orders")
    response = live.http.get(callback)
    assert response.status_code == 403
    assert "write_discounts" in response.text
    with live.app.app_context():
        assert get_session().scalar(select(Shop).where(Shop.domain == SHOP_NEW)) is None


def test_a_prepended_shop_param_cannot_redirect_a_signed_callback(live):
    """Signed for one shop, read for another: repeated keys are refused before anything else."""
    callback = approve(live, begin(live))
    parts = urlsplit(callback)
    tampered = f"{live.app_url}{parts.path}?shop=beta-shop.myshopify.com&{parts.query}"
    response = live.http.get(tampered)
    assert response.status_code == 401
    assert not [r for r in live.state.token_requests if r["shop"] == "beta-shop.myshopify.com"]

"""Every admin request needs a valid ID token: 401 + retry header, bounce page, CSP per shop."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import SHOP_A, SHOP_B
from tests.helpers import API_KEY, id_token, unsigned_token

RETRY = "X-Shopify-Retry-Invalid-Session-Request"


@pytest.mark.parametrize(
    "token",
    [
        lambda: id_token(SHOP_A, exp_in=-60),
        lambda: id_token(SHOP_A, secret="forged-secret-forged-secret-forged"),
        lambda: id_token(SHOP_A, api_key="someone-else"),
        lambda: unsigned_token(SHOP_A),
        lambda: "garbage",
    ],
)
def test_fetch_with_a_bad_token_gets_401_and_the_retry_header(live, token):
    response = live.http.get(f"{live.app_url}/", headers={"Authorization": f"Bearer {token()}"})
    assert response.status_code == 401
    assert response.headers[RETRY] == "1"
    assert response.json()["error"] == "invalid_session"


def test_fetch_with_a_valid_token_is_served(live):
    response = live.http.get(
        f"{live.app_url}/", headers={"Authorization": f"Bearer {id_token(SHOP_A)}"}
    )
    assert response.status_code == 200
    assert "Alpha Shop" in response.text
    assert "<title>Referrals · Alpha Shop</title>" in response.text
    assert response.text.count("<script>") == 1  # one inline script: the Polaris loader


def test_document_load_without_token_goes_to_the_bounce_page(live):
    response = live.http.get(
        f"{live.app_url}/", params={"shop": SHOP_A, "host": "aG9zdA", "embedded": "1", "x": "1"}
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/auth/session-token"
    query = parse_qs(location.query)
    assert query["shop"] == [SHOP_A]
    reload_to = query["shopify-reload"][0]
    assert reload_to.startswith("/?") and "id_token" not in reload_to and "x=1" in reload_to

    bounce = live.http.get(f"{live.app_url}{response.headers['Location']}")
    assert bounce.status_code == 200
    assert f'<meta name="shopify-api-key" content="{API_KEY}">' in bounce.text
    assert "app-bridge.js" in bounce.text
    assert bounce.headers["Content-Security-Policy"] == (
        f"frame-ancestors https://{SHOP_A} {live.devstore_url};"
    )


def test_document_load_with_an_expired_token_bounces_too(live):
    response = live.http.get(
        f"{live.app_url}/",
        params={"shop": SHOP_A, "embedded": "1", "id_token": id_token(SHOP_A, exp_in=-60)},
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/session-token?")


@pytest.mark.parametrize(
    "reload_to",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil",
        "",
        "evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r/evil.example",
        "\t//evil.example",
        "javascript:alert(1)",
        "/\x7f/evil.example",
    ],
)
def test_bounce_page_refuses_to_reload_anything_but_an_app_path(live, reload_to):
    response = live.http.get(
        f"{live.app_url}/auth/session-token", params={"shop": SHOP_A, "shopify-reload": reload_to}
    )
    assert response.status_code == 400


def test_non_embedded_load_is_sent_into_the_admin(live):
    response = live.http.get(f"{live.app_url}/", params={"shop": SHOP_A})
    assert response.status_code == 302
    assert response.headers["Location"] == f"{live.devstore_url}/store/alpha-shop/apps/{API_KEY}"


@pytest.mark.parametrize("shop", [None, "evil.example", "alpha-shop.myshopify.com.evil.example"])
def test_load_without_a_valid_shop_explains_and_is_not_frameable(live, shop):
    response = live.http.get(f"{live.app_url}/", params={"shop": shop} if shop else {})
    assert response.status_code == 400
    assert "Open this app from your Shopify admin" in response.text
    assert response.headers["Content-Security-Policy"] == "frame-ancestors 'none';"


def test_csp_names_the_authenticated_shop_not_the_query_param(live):
    response = live.http.get(
        f"{live.app_url}/", params={"shop": SHOP_B, "embedded": "1", "id_token": id_token(SHOP_A)}
    )
    assert response.status_code == 200
    assert "Alpha Shop" in response.text
    assert response.headers["Content-Security-Policy"] == (
        f"frame-ancestors https://{SHOP_A} {live.devstore_url};"
    )


def test_each_shop_gets_its_own_frame_ancestors(live):
    for shop in (SHOP_A, SHOP_B):
        response = live.http.get(
            f"{live.app_url}/", params={"shop": shop, "embedded": "1", "id_token": id_token(shop)}
        )
        assert response.headers["Content-Security-Policy"] == (
            f"frame-ancestors https://{shop} {live.devstore_url};"
        )
        assert "X-Frame-Options" not in response.headers


def test_no_cookies_are_set(live):
    response = live.http.get(
        f"{live.app_url}/", params={"shop": SHOP_A, "embedded": "1", "id_token": id_token(SHOP_A)}
    )
    assert "Set-Cookie" not in response.headers


def test_staff_user_from_sub_is_available_to_views(app):
    from flask import g

    from shopify_app.auth.embedded import id_token_required

    @id_token_required
    def whoami():
        return g.staff_user_id

    with app.test_request_context(
        "/", headers={"Authorization": f"Bearer {id_token(SHOP_A, user_id=777)}"}
    ):
        assert whoami() == "777"


def test_bounce_page_accepts_an_app_path_with_a_query(live):
    response = live.http.get(
        f"{live.app_url}/auth/session-token",
        params={"shop": SHOP_A, "shopify-reload": "/?shop=x&host=y"},
    )
    assert response.status_code == 200

"""Install by token exchange, expiry, refresh, a dead refresh token, and one refresh at a time."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from shopify_app.db import get_session
from shopify_app.models import Shop, utcnow
from shopify_app.shopify.errors import ReauthorizationRequired, RetryableError
from shopify_app.shopify.offline_tokens import offline_access_token
from shopify_app.shopify.services import shopify
from tests.conftest import SHOP_A, SHOP_B, SHOP_NEW
from tests.helpers import id_token


def open_app(live, shop, **token_kwargs):
    params = {
        "shop": shop,
        "embedded": "1",
        "host": "aG9zdA",
        "id_token": id_token(shop, **token_kwargs),
    }
    return live.http.get(f"{live.app_url}/", params=params)


def shop_row(app, domain) -> Shop:
    with app.app_context():
        return get_session().scalar(select(Shop).where(Shop.domain == domain))


def grants(live, kind):
    """Requests of one grant; token exchanges for the shop's offline token only (the app
    also asks once for an online token, for the staff member's name)."""
    return [
        r
        for r in live.state.token_requests
        if r["grant_type"] == kind and r.get("requested_token_type") != ONLINE
    ]


TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ONLINE = "urn:shopify:params:oauth:token-type:online-access-token"
NOT_LIVE = "Shopify could not be reached"


def lease_of(app, domain):
    shop = shop_row(app, domain)
    return shop.token_refresh_lease_until, shop.token_refresh_lease_owner


def make_stale(app, domain, seconds=30):
    with app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == domain))
        shop.access_token_expires_at = utcnow() + timedelta(seconds=seconds)
        session.commit()


def test_first_load_exchanges_the_id_token_and_stores_encrypted_expiring_tokens(live):
    response = open_app(live, SHOP_A)
    assert response.status_code == 200
    assert "Alpha Shop" in response.text
    assert len(grants(live, TOKEN_EXCHANGE)) == 1
    shop = shop_row(live.app, SHOP_A)
    assert shop.is_installed and shop.name == "Alpha Shop"
    assert "read_orders" in shop.scope_set
    assert shop.access_token_enc and not shop.access_token_enc.startswith("shpat_")
    assert shop.refresh_token_enc and not shop.refresh_token_enc.startswith("shprt_")
    assert timedelta(minutes=55) < shop.access_token_expires_at - utcnow() <= timedelta(hours=1)
    assert shop.refresh_token_expires_at - utcnow() > timedelta(days=29)


def test_later_loads_reuse_the_stored_token(live):
    open_app(live, SHOP_A)
    open_app(live, SHOP_A)
    assert open_app(live, SHOP_A).status_code == 200
    assert len(grants(live, TOKEN_EXCHANGE)) == 1


def test_a_token_near_expiry_is_refreshed_with_the_refresh_grant(live):
    open_app(live, SHOP_A)
    with live.app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        old = shopify().cipher.decrypt(shop.access_token_enc)
        shop.access_token_expires_at = utcnow() + timedelta(seconds=60)
        session.commit()
        live.state.expire_access_tokens(SHOP_A)
        new = offline_access_token(session, shop, shopify())
    assert new != old
    assert len(grants(live, "refresh_token")) == 1
    page = open_app(live, SHOP_A)
    assert page.status_code == 200 and NOT_LIVE not in page.text  # the new token works
    assert lease_of(live.app, SHOP_A) == (None, None)
    assert len(grants(live, TOKEN_EXCHANGE)) == 1


def test_dead_refresh_token_asks_for_reauth_in_background_and_reexchanges_on_next_load(live):
    open_app(live, SHOP_A)
    live.state.expire_access_tokens(SHOP_A)
    live.state.revoke_refresh_tokens(SHOP_A)
    with live.app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        shop.access_token_expires_at = utcnow() - timedelta(seconds=1)
        session.commit()
        with pytest.raises(ReauthorizationRequired):
            offline_access_token(session, shop, shopify())
    shop = shop_row(live.app, SHOP_A)
    assert shop.reauth_required_at is not None and shop.access_token_enc is None
    response = open_app(live, SHOP_A)
    assert response.status_code == 200 and "Alpha Shop" in response.text
    assert NOT_LIVE not in response.text
    assert len(grants(live, TOKEN_EXCHANGE)) == 2
    assert shop_row(live.app, SHOP_A).reauth_required_at is None


def test_concurrent_refreshes_make_exactly_one_refresh_call(live):
    open_app(live, SHOP_A)
    with live.app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        shop.access_token_expires_at = utcnow() + timedelta(seconds=30)
        session.commit()
    results, errors = [], []

    def refresh():
        try:
            with live.app.app_context():
                s = get_session()
                row = s.scalar(select(Shop).where(Shop.domain == SHOP_A))
                results.append(offline_access_token(s, row, shopify()))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=refresh) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(grants(live, "refresh_token")) == 1
    assert len(set(results)) == 1
    assert lease_of(live.app, SHOP_A) == (None, None)


def test_a_failed_refresh_releases_the_lease_and_the_next_call_refreshes(live):
    open_app(live, SHOP_A)
    make_stale(live.app, SHOP_A)
    live.state.token_endpoint_failures = 2  # both attempts of the refresh get a 503
    with live.app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        with pytest.raises(RetryableError):
            offline_access_token(session, shop, shopify())
        assert lease_of(live.app, SHOP_A) == (None, None)
        offline_access_token(session, shop, shopify())
    assert len(grants(live, "refresh_token")) == 1
    assert lease_of(live.app, SHOP_A) == (None, None)


def test_a_refresh_that_someone_else_finished_is_not_repeated(live):
    """Between reading a stale token and taking the lease, another process may refresh."""
    open_app(live, SHOP_A)
    make_stale(live.app, SHOP_A)
    with live.app.app_context():
        session = get_session()
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP_A))
        with live.app.app_context():
            other = get_session()
            offline_access_token(
                other, other.scalar(select(Shop).where(Shop.domain == SHOP_A)), shopify()
            )
        offline_access_token(session, shop, shopify())
    assert len(grants(live, "refresh_token")) == 1


def test_simultaneous_first_loads_install_once_without_errors(live):
    statuses = []

    def load():
        statuses.append(open_app(live, SHOP_A).status_code)

    threads = [threading.Thread(target=load) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 8
    with live.app.app_context():
        assert len(get_session().scalars(select(Shop).where(Shop.domain == SHOP_A)).all()) == 1


def test_refused_exchange_bounces_for_the_token_shop_not_the_query_param(live):
    """gamma-shop has not installed the app: its token exchange is refused."""
    response = live.http.get(
        f"{live.app_url}/", params={"embedded": "1", "shop": SHOP_A, "id_token": id_token(SHOP_NEW)}
    )
    assert response.status_code == 302
    assert f"shop={SHOP_NEW}" in response.headers["Location"]
    no_param = live.http.get(
        f"{live.app_url}/", params={"embedded": "1", "id_token": id_token(SHOP_NEW)}
    )
    assert no_param.status_code == 302


def test_uninstalled_shop_cannot_exchange(live):
    response = open_app(live, SHOP_NEW)
    assert response.status_code == 302
    assert "/auth/session-token" in response.headers["Location"]
    assert shop_row(live.app, SHOP_NEW) is None


def test_one_shops_token_is_never_used_for_another_shop(live):
    assert "Alpha Shop" in open_app(live, SHOP_A).text
    response = open_app(live, SHOP_B)
    assert "Beta Shop" in response.text and "Alpha Shop" not in response.text
    a, b = shop_row(live.app, SHOP_A), shop_row(live.app, SHOP_B)
    with live.app.app_context():
        cipher = shopify().cipher
        token_a, token_b = cipher.decrypt(a.access_token_enc), cipher.decrypt(b.access_token_enc)
    assert token_a != token_b
    assert live.state.access_tokens[token_a].shop == SHOP_A
    assert live.state.access_tokens[token_b].shop == SHOP_B
    assert live.state.check_access_token(SHOP_B, token_a) is None


def test_admin_api_refuses_a_bad_token_with_shopifys_error_shape(live):
    url = f"{live.devstore_url}/shops/{SHOP_A}/admin/api/2026-07/graphql.json"
    response = live.http.post(
        url, json={"query": "{ shop { name } }"}, headers={"X-Shopify-Access-Token": "shpat_forged"}
    )
    assert response.status_code == 401
    assert response.json()["errors"].startswith("[API] Invalid API key or access token")

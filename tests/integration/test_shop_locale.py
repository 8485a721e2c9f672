"""The shop's primary language (G3): the devstore's `shopLocales` (Shopify's shapes, the
`read_locales` scope), the app reading it into `Shop.primary_locale` after install (a job, never
in the request) and after `app/scopes_update`, a shop without the scope left unknown; and the
devstore checkout giving the order the storefront language as `customer_locale`."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from devstore import commerce
from shopify_app import shop_locale
from shopify_app.db import get_session
from shopify_app.models import Customer, Shop
from tests.conftest import SHOP_A, SHOP_B

from .webhook_support import devstore_gql as gql
from .webhook_support import install, one, run_jobs

LOCALES = "query L($p: Boolean) { shopLocales(published: $p) { locale name primary published } }"


@pytest.fixture(autouse=True)
def reading_on(live, monkeypatch):
    """The tests turn the read off (tests/support.py); these test it."""
    monkeypatch.setitem(live.app.config, "SHOP_LOCALE_READ", True)


def shop_row(live, domain=SHOP_A) -> Shop:
    return one(live.app, Shop, Shop.domain == domain)


def test_the_devstore_shop_locales(live):
    install(live, SHOP_A)
    answer = gql(live, LOCALES)
    assert answer["data"]["shopLocales"] == [
        {"locale": "en", "name": "English", "primary": True, "published": True},
        {"locale": "fi", "name": "Finnish", "primary": False, "published": True},
    ]
    assert answer["extensions"]["cost"]["requestedQueryCost"] == 1
    live.state.shop(SHOP_B).primary_locale = "fi"
    live.state.shop(SHOP_B).other_locales = ("en", "sv")
    install(live, SHOP_B)
    assert gql(live, LOCALES, SHOP_B, p=True)["data"]["shopLocales"] == [
        {"locale": "fi", "name": "Finnish", "primary": True, "published": True},
        {"locale": "en", "name": "English", "primary": False, "published": True},
        {"locale": "sv", "name": "Swedish", "primary": False, "published": True},
    ]
    # without read_locales: Shopify's ACCESS_DENIED, no data
    live.state.install(SHOP_A, "read_customers,read_products")
    denied = gql(live, LOCALES)
    assert not denied.get("data")
    assert denied["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
    assert "read_locales" in denied["errors"][0]["message"]


def test_install_reads_the_primary_locale_in_a_job(live):
    live.state.shop(SHOP_A).primary_locale = "fi"
    install(live, SHOP_A)  # the embedded first load, a real ID token
    assert shop_row(live).primary_locale is None  # not in the request
    run_jobs(live.app)
    assert shop_row(live).primary_locale == "fi"
    live.state.shop(SHOP_A).primary_locale = "en"
    install(live, SHOP_A)  # known and read just now: not read again (at most once a day)
    run_jobs(live.app)
    assert shop_row(live).primary_locale == "fi"


def test_scopes_update_reads_it_again(live):
    from .webhook_support import deliver

    install(live, SHOP_A)
    run_jobs(live.app)
    assert shop_row(live).primary_locale == "en"
    live.state.shop(SHOP_A).primary_locale = "fi"
    scopes = live.state.shop(SHOP_A).installed_scopes.split(",")
    deliver(live, SHOP_A, "app/scopes_update", {"current": scopes, "previous": scopes[:-1]})
    run_jobs(live.app)
    assert shop_row(live).primary_locale == "fi"


def test_without_the_scope_it_stays_unknown(live):
    install(live, SHOP_A)
    with live.app.app_context():
        session = get_session()
        shop = session.scalars(select(Shop).where(Shop.domain == SHOP_A)).one()
        assert shop.primary_locale is None
        # the shop has not granted read_locales: nothing is asked of Shopify
        shop.scopes = "read_customers,write_customers"
        session.commit()
        requests = len(live.state.graphql_requests)
        assert shop_locale.read(session, shop.id).startswith("not read")
        assert len(live.state.graphql_requests) == requests
        # the app thinks it has the scope, Shopify says ACCESS_DENIED: refused, still unknown
        shop.scopes = "read_customers,read_locales"
        session.commit()
        live.state.install(SHOP_A, "read_customers,write_customers,read_orders")
        assert shop_locale.read(session, shop.id).startswith("refused")
        session.expire_all()
        assert session.get(Shop, shop.id).primary_locale is None
    run_jobs(live.app)  # whatever the install queued fails quietly too
    assert shop_row(live).primary_locale is None


def test_the_checkout_from_the_finnish_storefront_sends_customer_locale_fi(live):
    from .test_program_pages import settle

    install(live, SHOP_A)
    store = f"{live.devstore_url}/shops/{SHOP_A}"
    with httpx.Client(timeout=10) as shopper:
        page = shopper.get(f"{store}/fi/cart")
        assert f'action="/shops/{SHOP_A}/fi/checkout"' in page.text
        assert shopper.post(f"{store}/fi/cart/add.js", json={"id": 8002, "quantity": 1}).is_success
        placed = shopper.post(f"{store}/fi/checkout", data={"email": "aino@example.com"})
        assert placed.status_code == 200
        assert shopper.post(f"{store}/cart/add.js", json={"id": 8002, "quantity": 1}).is_success
        assert shopper.post(f"{store}/checkout", data={"email": "ada@example.com"}).is_success
        unknown = shopper.post(f"{store}/sv/checkout", data={"email": "x@example.com"})
        assert unknown.status_code == 404  # not a language of the shop
    orders = sorted(commerce.data(live.state, SHOP_A).orders.values(), key=lambda o: o.id)
    assert [o.customer_locale for o in orders[-2:]] == ["fi", "en"]
    settle(live)
    assert one(live.app, Customer, Customer.email == "aino@example.com").locale == "fi"
    assert one(live.app, Customer, Customer.email == "ada@example.com").locale == "en"


def test_a_failed_read_leaves_it_unknown_and_a_later_app_load_tries_again(live):
    from shopify_app import jobs
    from shopify_app.shopify.errors import ShopifyError

    install(live, SHOP_A)  # queues the read (and marks the try for an hour)
    live.state.shop(SHOP_A).primary_locale = "fi"
    live.state.graphql_faults = ["500", "500", "500"]  # Shopify down for the client's retries
    with live.app.app_context():
        session = get_session()
        shop_id = session.scalars(select(Shop.id).where(Shop.domain == SHOP_A)).one()
        with pytest.raises(ShopifyError):  # raised: RQ retries the job later
            shop_locale.read(session, shop_id)
        session.rollback()
    assert shop_row(live).primary_locale is None
    assert live.state.graphql_faults == []
    with live.app.app_context():
        jobs.redis_connection().delete(f"shop-locale-tried:{shop_id}")  # the hour is over
        jobs.get_queue().empty()
    install(live, SHOP_A)  # the next app page load: still unknown, queued again
    run_jobs(live.app)
    assert shop_row(live).primary_locale == "fi"


def test_a_finnish_primary_storefront_serves_finnish_at_its_root(live):
    """The primary language at the root, the others in their folder; the root's checkout is
    the primary language's."""
    live.state.shop(SHOP_B).primary_locale = "fi"
    install(live, SHOP_B)
    store = f"{live.devstore_url}/shops/{SHOP_B}"
    with httpx.Client(timeout=10) as shopper:
        root = shopper.get(f"{store}/")
        assert '<html lang="fi">' in root.text
        assert f'href="/shops/{SHOP_B}/en" hreflang="en"' in root.text
        assert '<html lang="en">' in shopper.get(f"{store}/en/").text
        assert shopper.get(f"{store}/fi/").status_code == 404  # the primary has no folder
        assert shopper.get(f"{store}/sv/").status_code == 404
        assert shopper.post(f"{store}/cart/add.js", json={"id": 8002, "quantity": 1}).is_success
        assert shopper.post(f"{store}/checkout", data={"email": "aino@example.com"}).is_success
    order = max(commerce.data(live.state, SHOP_B).orders.values(), key=lambda o: o.id)
    assert order.customer_locale == "fi"

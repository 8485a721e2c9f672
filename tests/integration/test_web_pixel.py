"""The app's web pixel: activated per shop after install (a job: `webPixelCreate` through the
devstore's Admin API), idempotent, `TAKEN` and `NOT_FOUND` recovered, settings kept in step;
the devstore's web pixel API (settings checked against the extension's TOML, one pixel per
app, the scopes required) and its storefront runtime configuration."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from devstore import commerce
from shopify_app import web_pixel
from shopify_app.conversations import cart_events
from shopify_app.db import get_session
from shopify_app.models import Shop
from tests.conftest import SHOP_A, SHOP_B

from .webhook_support import devstore_gql as gql
from .webhook_support import install, one, run_jobs

CREATE = """mutation C($w: WebPixelInput!) { webPixelCreate(webPixel: $w) {
  webPixel { id settings } userErrors { code field message } } }"""
UPDATE = """mutation U($id: ID!, $w: WebPixelInput!) { webPixelUpdate(id: $id, webPixel: $w) {
  webPixel { id settings } userErrors { code field message } } }"""
DELETE = """mutation D($id: ID!) { webPixelDelete(id: $id) {
  deletedWebPixelId userErrors { code field message } } }"""
READ = "{ webPixel { id settings } }"


@pytest.fixture(autouse=True)
def activation_on(live, monkeypatch):
    """The tests turn activation off (tests/support.py); these test it."""
    monkeypatch.setitem(live.app.config, "WEB_PIXEL_ACTIVATION", True)


def shop_row(live, domain=SHOP_A) -> Shop:
    return one(live.app, Shop, Shop.domain == domain)


def activate(live, domain=SHOP_A) -> str:
    with live.app.app_context():
        return web_pixel.activate(get_session(), shop_row(live, domain).id)


def test_install_activates_the_pixel_once_with_the_shop_key(live):
    install(live, SHOP_A)
    run_jobs(live.app)
    dev_shop = live.state.shop(SHOP_A)
    assert dev_shop.web_pixel is not None
    settings = json.loads(dev_shop.web_pixel.settings)
    shop = shop_row(live)
    with live.app.app_context():
        assert settings == {
            "ingestUrl": live.app.config["SHOPIFY_APP_URL"].rstrip("/") + "/pixel/events",
            "shopKey": cart_events.shop_key(shop),
        }
    assert shop.web_pixel_id == f"gid://shopify/WebPixel/{dev_shop.web_pixel.id}"
    requests = len(live.state.graphql_requests)
    assert activate(live) == "already active"
    assert len(live.state.graphql_requests) == requests  # nothing asked of Shopify
    install(live, SHOP_A)  # the app opened again: nothing owed, nothing queued
    run_jobs(live.app)
    assert live.state.shop(SHOP_A).web_pixel.id == dev_shop.web_pixel.id


def test_taken_not_found_and_stale_settings_are_recovered(live):
    install(live, SHOP_A)
    run_jobs(live.app)
    pixel_id = live.state.shop(SHOP_A).web_pixel.id
    # the app lost its record: create answers TAKEN, the pixel is read back and updated
    with live.app.app_context():
        session = get_session()
        shop = session.query(Shop).filter_by(domain=SHOP_A).one()
        shop.web_pixel_id = shop.web_pixel_settings = None
        session.commit()
    assert activate(live) == "updated (it existed)"
    assert shop_row(live).web_pixel_id == f"gid://shopify/WebPixel/{pixel_id}"
    # the merchant's store lost the pixel: update answers NOT_FOUND, it is created again
    live.state.shop(SHOP_A).web_pixel = None
    with live.app.app_context():
        session = get_session()
        shop = session.query(Shop).filter_by(domain=SHOP_A).one()
        shop.web_pixel_settings = "{}"
        session.commit()
    assert activate(live) == "created"
    assert live.state.shop(SHOP_A).web_pixel is not None
    # a new app URL: the settings are updated in place
    old = live.app.config["SHOPIFY_APP_URL"]
    live.app.config["SHOPIFY_APP_URL"] = "https://referrals.example.net"
    try:
        assert activate(live) == "updated"
        stored = json.loads(live.state.shop(SHOP_A).web_pixel.settings)
        assert stored["ingestUrl"] == "https://referrals.example.net/pixel/events"
    finally:
        live.app.config["SHOPIFY_APP_URL"] = old


def test_oauth_install_and_scopes_update_queue_the_activation(live):
    """Not only the embedded first load: an app/scopes_update granting the pixel scopes."""
    install(live, SHOP_A)
    run_jobs(live.app)
    live.state.shop(SHOP_A).web_pixel = None
    with live.app.app_context():
        session = get_session()
        shop = session.query(Shop).filter_by(domain=SHOP_A).one()
        shop.web_pixel_id = shop.web_pixel_settings = None
        shop.scopes = "read_customers"
        session.commit()
    granted = live.state.shop(SHOP_A).installed_scopes
    live.state.install(SHOP_A, "read_customers")
    assert live.state.dispatcher.drain(15)
    run_jobs(live.app)
    live.state.install(SHOP_A, granted)  # the merchant approves the new permissions
    for _ in range(3):
        assert live.state.dispatcher.drain(15)
        run_jobs(live.app)
    assert live.state.shop(SHOP_A).web_pixel is not None
    assert shop_row(live).web_pixel_id is not None


def test_uninstall_forgets_the_pixel(live):
    install(live, SHOP_A)
    run_jobs(live.app)
    assert shop_row(live).web_pixel_id is not None
    live.state.uninstall(SHOP_A)
    for _ in range(3):
        assert live.state.dispatcher.drain(15)
        run_jobs(live.app)
    assert shop_row(live).web_pixel_id is None
    assert live.state.shop(SHOP_A).web_pixel is None


def test_without_the_pixel_scopes_nothing_is_asked(live):
    install(live, SHOP_A)
    run_jobs(live.app)
    with live.app.app_context():
        session = get_session()
        shop = session.query(Shop).filter_by(domain=SHOP_A).one()
        shop.scopes = "read_customers,write_customers"
        shop.web_pixel_id = None
        session.commit()
    assert activate(live).startswith("not activated")


def test_the_devstore_web_pixel_api(live):
    install(live, SHOP_A)
    install(live, SHOP_B)
    run_jobs(live.app)
    live.state.shop(SHOP_B).web_pixel = None
    good = json.dumps({"shopKey": "1.abc", "ingestUrl": "https://x.example/pixel/events"})
    for settings, code in (
        ("{not json", "INVALID_CONFIGURATION_JSON"),
        (json.dumps({"shopKey": "1.abc"}), "INVALID_SETTINGS"),
        (json.dumps({"shopKey": "1", "ingestUrl": "u", "accountID": "2"}), "INVALID_SETTINGS"),
        (json.dumps({"shopKey": 1, "ingestUrl": "u"}), "INVALID_SETTINGS"),
        (json.dumps(["shopKey"]), "INVALID_SETTINGS"),
    ):
        answer = gql(live, CREATE, shop=SHOP_B, w={"settings": settings})
        errors = answer["data"]["webPixelCreate"]["userErrors"]
        assert [e["code"] for e in errors] == [code], settings
    created = gql(live, CREATE, shop=SHOP_B, w={"settings": good})["data"]["webPixelCreate"]
    assert created["userErrors"] == [] and json.loads(created["webPixel"]["settings"]) == {
        "ingestUrl": "https://x.example/pixel/events",
        "shopKey": "1.abc",
    }
    again = gql(live, CREATE, shop=SHOP_B, w={"settings": good})["data"]["webPixelCreate"]
    assert [e["code"] for e in again["userErrors"]] == ["TAKEN"]
    pixel_id = created["webPixel"]["id"]
    assert gql(live, READ, shop=SHOP_B)["data"]["webPixel"]["id"] == pixel_id
    # another shop's pixel id is not this shop's
    other = gql(live, UPDATE, shop=SHOP_A, id=pixel_id, w={"settings": good})
    assert [e["code"] for e in other["data"]["webPixelUpdate"]["userErrors"]] == ["NOT_FOUND"]
    deleted = gql(live, DELETE, shop=SHOP_B, id=pixel_id)["data"]["webPixelDelete"]
    assert deleted == {"deletedWebPixelId": pixel_id, "userErrors": []}
    assert gql(live, READ, shop=SHOP_B)["data"]["webPixel"] is None
    # without the scopes: ACCESS_DENIED, as Shopify answers
    live.state.shop(SHOP_B).installed_scopes = "read_customers"
    denied = gql(live, CREATE, shop=SHOP_B, w={"settings": good})
    assert denied["data"]["webPixelCreate"] is None
    assert denied["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"
    assert "write_pixels" in denied["errors"][0]["message"]
    assert gql(live, READ, shop=SHOP_B)["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"


def test_storefront_pages_load_the_pixel_only_when_active(live):
    store = f"{live.devstore_url}/shops/{SHOP_A}"
    before = httpx.get(f"{store}/")
    assert 'id="ds-web-pixel"' not in before.text
    install(live, SHOP_A)
    run_jobs(live.app)
    for path in ("/", "/products/teapot", "/cart", "/fi/"):
        page = httpx.get(store + path)
        found = re.search(
            r'<script type="application/json" id="ds-web-pixel">(.*?)</script>', page.text
        )
        assert found, path
        config = json.loads(found.group(1))
        assert config["settings"]["ingestUrl"].endswith("/pixel/events")
        assert config["init"]["data"]["shop"]["myshopifyDomain"] == SHOP_A
        assert config["page"] == ("cart" if path == "/cart" else config["page"])
    bundle = httpx.get(f"{live.devstore_url}/cdn/pixels/referral-pixel/index.js")
    assert bundle.status_code == 200 and "@shopify/web-pixels-extension" not in bundle.text
    assert 'from "./web-pixels-extension.js"' in bundle.text
    runtime = httpx.get(f"{live.devstore_url}/cdn/pixels/referral-pixel/web-pixels-extension.js")
    assert "export function register" in runtime.text
    assert httpx.get(f"{live.devstore_url}/cdn/pixels/referral-pixel/x.js").status_code == 404
    live.state.uninstall(SHOP_A)
    assert 'id="ds-web-pixel"' not in httpx.get(f"{store}/").text
    assert commerce.data(live.state, SHOP_A).products  # the catalogue is still there

"""The storefront chat's app embed in the devstore, as a merchant and a shopper meet it: off
after install, switched on in the theme editor (the app's deep link opens it switched on,
unsaved), rendered with Liquid on every storefront page in the page's language, its assets
served from the devstore's CDN, shop and customer data escaped; and the app's Settings page
sends the merchant there."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from devstore import commerce, create_devstore
from devstore.app_config import load_registered_app
from shopify_app.storefront.chat_embed import theme_editor_link
from tests.conftest import SHOP_A, SHOP_B, SHOP_NEW
from tests.helpers import API_KEY, API_SECRET, id_token
from tests.support import test_shops

from .webhook_support import install

EXTENSION = Path(__file__).parents[2] / "extensions" / "chat-embed"
EDITOR = "/store/{handle}/themes/current/editor"


@pytest.fixture
def devstore():
    registered = load_registered_app(
        api_key=API_KEY, api_secret=API_SECRET, app_url="http://127.0.0.1:9"
    )
    app = create_devstore(registered_app=registered, state=test_shops())
    yield app
    app.extensions["devstore_state"].dispatcher.stop()


def handle(domain: str) -> str:
    return domain.removesuffix(".myshopify.com")


def storefront(client, domain=SHOP_A, folder="") -> str:
    response = client.get(f"/shops/{domain}/{folder}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def switch(client, domain=SHOP_A, on=True, **settings: str):
    form = {f"chat.{k}": v for k, v in settings.items()} | ({"chat.enabled": "on"} if on else {})
    response = client.post(EDITOR.format(handle=handle(domain)), data=form)
    assert response.status_code == 302 and "saved=1" in response.location
    return response


def chat_attributes(page: str) -> dict[str, str]:
    tag = re.search(r'<div id="rc-chat"(.*?)></div>', page, re.S).group(1)
    return {k: html.unescape(v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', tag)}


def test_the_embed_is_off_after_install_and_the_deep_link_switches_it_on_only_when_saved(
    devstore,
):
    client = devstore.test_client()
    page = storefront(client)
    assert 'id="rc-chat"' not in page and "chat.js" not in page

    link = theme_editor_link(API_KEY)
    assert link == (
        f"shopify://admin/themes/current/editor?context=apps&activateAppId={API_KEY}/chat"
    )
    # The devstore's App Bridge opens shopify://admin/<path> at /store/<handle>/<path>.
    editor_url = "/store/alpha-shop/" + link.removeprefix("shopify://admin/")
    editor = client.get(editor_url).get_data(as_text=True)
    assert 'id="editor-activating"' in editor
    assert re.search(r'id="chat-enabled"\s+checked', editor)
    assert "Chat with shoppers" in editor
    assert 'id="rc-chat"' not in storefront(client)  # not saved yet: still off

    other_app = client.get(
        EDITOR.format(handle="alpha-shop"),
        query_string={"context": "apps", "activateAppId": "another-app/chat"},
    ).get_data(as_text=True)
    assert 'id="editor-activating"' not in other_app
    assert not re.search(r'id="chat-enabled"\s+checked', other_app)

    switch(client)
    page = storefront(client)
    assert page.count('id="rc-chat"') == 1
    assets = "/cdn/extensions/chat-embed/assets"
    assert re.search(rf'<script src="{assets}/chat.js\?v=\w+" defer>', page)
    assert re.search(rf'<link rel="stylesheet" href="{assets}/chat.css\?v=\w+"', page)
    attributes = chat_attributes(page)
    assert attributes["data-shop"] == SHOP_A
    assert attributes["data-proxy"] == f"/shops/{SHOP_A}/apps/referrals"
    assert attributes["data-locale"] == "en"
    assert attributes["data-customer-id"] == ""
    assert attributes["data-accent"] == "#008060"  # the schema's default
    assert attributes["data-t-launcher"] == "Chat with us"
    assert 'id="rc-chat"' not in storefront(client, SHOP_B)  # per shop

    switch(client, on=False)
    assert 'id="rc-chat"' not in storefront(client)


def test_the_finnish_storefront_gets_the_finnish_strings_and_the_same_proxy(devstore):
    client = devstore.test_client()
    switch(client)
    page = storefront(client, folder="fi/")
    assert '<html lang="fi">' in page
    attributes = chat_attributes(page)
    assert attributes["data-locale"] == "fi"
    assert attributes["data-t-launcher"] == "Keskustele kanssamme"
    assert attributes["data-t-start"] == "Aloita keskustelu"
    assert attributes["data-t-typing"] == "{name} kirjoittaa…"
    # The app proxy is not under the language folder.
    assert attributes["data-proxy"] == f"/shops/{SHOP_A}/apps/referrals"
    # The language switcher links both ways; the primary language has no folder.
    assert f'href="/shops/{SHOP_A}/" hreflang="en"' in page
    assert f'href="/shops/{SHOP_A}/fi" hreflang="fi"' in storefront(client)
    assert client.get(f"/shops/{SHOP_A}/en/").status_code == 404
    assert client.get(f"/shops/{SHOP_A}/sv/").status_code == 404


def test_the_merchants_settings_reach_the_widget_and_bad_ones_are_not_kept(devstore):
    client = devstore.test_client()
    switch(client, accent="#ffd700", greeting="Hello from Alpha", position="left")
    attributes = chat_attributes(storefront(client))
    assert attributes["data-accent"] == "#ffd700"
    assert attributes["data-greeting"] == "Hello from Alpha"
    assert "rc-chat--left" in attributes["class"]
    switch(client, accent="red; background:url(x)", position="middle")
    attributes = chat_attributes(storefront(client))
    assert attributes["data-accent"] == "#ffd700" and "rc-chat--left" in attributes["class"]


def test_liquid_escapes_the_shop_the_customer_and_the_settings(devstore):
    client = devstore.test_client()
    state = devstore.extensions["devstore_state"]
    evil = '"><script>alert(1)</script>'
    state.shop(SHOP_A).name = f"Alpha {evil}"
    customer = commerce.create_customer(
        state, SHOP_A, email="ada@example.com", first_name=f"Ada{evil}"
    )
    switch(client, greeting=f"Hi {evil}")
    client.post(f"/shops/{SHOP_A}/account/login", data={"email": "ada@example.com"})
    page = storefront(client)
    chat = page[page.index('<div id="shopify-block-') :]
    assert "<script>alert(1)" not in chat
    attributes = chat_attributes(page)
    assert attributes["data-shop-name"] == f"Alpha {evil}"
    assert attributes["data-customer-name"] == f"Ada{evil}"
    assert attributes["data-greeting"] == f"Hi {evil}"
    assert attributes["data-customer-id"] == str(customer.id)
    assert attributes["data-customer-email"] == "ada@example.com"


def test_the_assets_come_from_the_cdn_path_and_nothing_else_does(devstore):
    client = devstore.test_client()
    script = client.get("/cdn/extensions/chat-embed/assets/chat.js")
    assert script.status_code == 200 and "javascript" in script.content_type
    assert script.data == (EXTENSION / "assets" / "chat.js").read_bytes()
    style = client.get("/cdn/extensions/chat-embed/assets/chat.css")
    assert style.status_code == 200 and style.content_type.startswith("text/css")
    for path in (
        "/cdn/extensions/chat-embed/assets/..%2Fshopify.extension.toml",
        "/cdn/extensions/chat-embed/assets/missing.js",
        "/cdn/extensions/chat-embed/blocks/chat.liquid",
        "/cdn/extensions/nope/assets/chat.js",
    ):
        assert client.get(path).status_code == 404, path


def test_no_embed_for_a_shop_without_the_app(devstore):
    client = devstore.test_client()
    state = devstore.extensions["devstore_state"]
    editor = client.get(EDITOR.format(handle="gamma-shop")).get_data(as_text=True)
    assert 'id="no-embeds"' in editor
    switch(client)
    state.uninstall(SHOP_A)
    assert 'id="rc-chat"' not in storefront(client)
    assert 'id="rc-chat"' not in storefront(client, SHOP_NEW)


def test_the_switch_is_kept_when_the_devstore_restarts(tmp_path):
    registered = load_registered_app(
        api_key=API_KEY, api_secret=API_SECRET, app_url="http://127.0.0.1:9"
    )
    first = create_devstore(registered_app=registered, state_dir=tmp_path)
    switch(first.test_client(), "demo-shop.myshopify.com", greeting="Saved greeting")
    first.extensions["devstore_state"].dispatcher.stop()
    first.extensions["devstore_persistence"].close()

    second = create_devstore(registered_app=registered, state_dir=tmp_path)
    try:
        page = storefront(second.test_client(), "demo-shop.myshopify.com")
        assert chat_attributes(page)["data-greeting"] == "Saved greeting"
    finally:
        second.extensions["devstore_state"].dispatcher.stop()
        second.extensions["devstore_persistence"].close()


def test_the_settings_page_links_the_merchant_to_the_theme_editor(live):
    install(live, SHOP_A)
    page = live.http.get(
        f"{live.app_url}/settings",
        headers={"Authorization": f"Bearer {id_token(SHOP_A, user_id=501)}"},
    )
    assert page.status_code == 200
    card = page.text[page.text.index('id="chat-embed-card"') :]
    link = re.search(r'id="chat-embed-link" href="([^"]+)" target="_top"', card).group(1)
    assert html.unescape(link) == theme_editor_link(API_KEY)
    assert "Turn on the chat in the theme editor" in card
    # The devstore's admin opens it at its theme editor, with the chat switched on.
    target = html.unescape(link).removeprefix("shopify://admin/")
    editor = live.http.get(f"{live.devstore_url}/store/alpha-shop/{target}")
    assert editor.status_code == 200 and 'id="editor-activating"' in editor.text

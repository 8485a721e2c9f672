"""Sending a product link and a discount code from the staff inbox (issue 20, F5) over HTTP
with real ID tokens, against the devstore's GraphQL Admin API: only products a shopper could
open, only codes that exist and are active now; another shop's conversation, bad tokens,
retries, Shopify throttling or failing, and links that are not on the store's storefront."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from devstore import commerce
from devstore.cost import LeakyBucket
from devstore.store import now
from shopify_app.conversations import catalog
from shopify_app.db import get_session
from shopify_app.models import ConversationMessage, Shop
from shopify_app.shopify.admin_api import admin_api
from shopify_app.shopify.services import shopify
from tests.conftest import SHOP_A, SHOP_B
from tests.helpers import id_token, unsigned_token

from .test_inbox import send, start
from .test_program_pages import get
from .webhook_support import install, rows, run_jobs

CREATE_CODE = """
mutation($input: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $input) {
    codeDiscountNode { id }
    userErrors { message }
  }
}
"""


@pytest.fixture
def shops(live):
    install(live, SHOP_A)
    install(live, SHOP_B)
    return live


def create_code(live, code, *, starts=None, ends=None, percentage=0.1, shop=SHOP_A):
    """A discount code made as a merchant's app would, through the devstore's Admin API."""
    spec = {
        "title": f"{code} chat offer",
        "code": code,
        "startsAt": (starts or now() - timedelta(hours=1)).isoformat(),
        "endsAt": ends.isoformat() if ends else None,
        "context": {"all": "ALL"},
        "customerGets": {"value": {"percentage": percentage}, "items": {"all": True}},
    }
    with live.app.app_context():
        session = get_session()
        record = session.scalar(select(Shop).where(Shop.domain == shop))
        admin_api(session, record, shopify()).mutate(
            CREATE_CODE, {"input": spec}, "discountCodeBasicCreate"
        )


def storefront(live, shop=SHOP_A):
    return f"{live.devstore_url}/shops/{shop}"


def messages(live):
    return [m for m in rows(live.app, ConversationMessage) if m.kind in ("product", "discount")]


def test_search_offers_only_products_a_shopper_could_open(shops):
    live = shops
    cid = start(live, SHOP_A, "ada@example.com", ("shopper", "Any teapots?"))
    found = get(live, f"/admin/conversations/{cid}/products")
    assert found.status_code == 200
    assert [p["title"] for p in found.json()["products"]] == [
        "First flush Darjeeling gift set with two cups",
        "Green tea 100 g",
        "Oolong 50 g",
        "Teapot",
    ]
    assert found.json()["storefront"] == storefront(live)
    teapot = get(live, f"/admin/conversations/{cid}/products", q="pot").json()["products"]
    assert teapot == [
        {
            "product_id": "gid://shopify/Product/7002",
            "handle": "teapot",
            "title": "Teapot",
            "url": f"{storefront(live)}/products/teapot",
            "image_url": None,
            "price": "49.00",
            "currency": "EUR",
        }
    ]
    # The shop mug (Point of Sale only) and the draft are never offered, whatever is typed.
    assert get(live, f"/admin/conversations/{cid}/products", q="mug").json()["products"] == []
    for typed in ("winter", "status:draft", "publication_ids:90002 mug", '"shop" OR mug'):
        answer = get(live, f"/admin/conversations/{cid}/products", q=typed)
        assert answer.status_code == 200 and answer.json()["products"] == [], typed


def test_staff_send_the_teapot_with_its_online_store_link(shops):
    live = shops
    cid = start(live, SHOP_A, "ada@example.com", ("shopper", "Which teapot?"))
    answer = send(
        live, f"/admin/conversations/{cid}/product", {"product_id": "gid://shopify/Product/7002"}
    )
    assert answer.status_code == 201, answer.text
    message = answer.json()["message"]
    url = f"{storefront(live)}/products/teapot"
    assert (message["author"], message["kind"]) == ("staff", "product")
    assert message["payload"] == {
        "product_id": "gid://shopify/Product/7002",
        "handle": "teapot",
        "title": "Teapot",
        "url": url,
        "image_url": None,
        "price": "49.00",
        "currency": "EUR",
    }
    assert message["body"] == f"Shared a product: Teapot (49.00 EUR) {url}"
    assert answer.json()["storefront"] == storefront(live)
    thread = get(live, f"/admin/conversations/{cid}/messages").json()
    assert thread["conversation"]["preview"].startswith("Shared a product: Teapot")
    # The inbox page carries the payload and the storefront its links must be on.
    page = get(live, "/admin/conversations", c=str(cid)).text
    assert 'data-kind="product"' in page and "&#34;handle&#34;: &#34;teapot&#34;" in page
    assert f'data-storefront="{storefront(live)}"' in page


def test_a_numeric_product_id_is_accepted_and_bad_ids_refused(shops):
    live = shops
    cid = start(live, SHOP_A, "ada@example.com", ("shopper", "Tea?"))
    sent = send(live, f"/admin/conversations/{cid}/product", {"product_id": "7001"})
    assert sent.status_code == 201
    for bad in (None, "", "gid://shopify/Customer/7001", "7001; drop", True, ["7001"], -3):
        answer = send(live, f"/admin/conversations/{cid}/product", {"product_id": bad})
        assert answer.status_code == 422, bad
        assert answer.json()["error"] == 'Choose a product to send (its id as "product_id").'
    assert send(live, f"/admin/conversations/{cid}/product", ["7001"]).status_code == 400
    assert len(messages(live)) == 1


def test_products_a_shopper_could_not_open_are_refused_with_the_reason(shops):
    live = shops
    cid = start(live, SHOP_A, "ada@example.com", ("shopper", "Hello"))
    path = f"/admin/conversations/{cid}/product"
    pos_only = send(live, path, {"product_id": "gid://shopify/Product/7005"})
    assert pos_only.status_code == 422
    assert pos_only.json() == {
        "error": "Shop mug is not available on the Online Store, so a shopper could not open it."
    }
    draft = send(live, path, {"product_id": "gid://shopify/Product/7006"})
    assert draft.status_code == 422
    assert draft.json()["error"] == (
        "Winter blend (coming soon) is not active (its status is draft), so a shopper could "
        "not open it."
    )
    unknown = send(live, path, {"product_id": "gid://shopify/Product/999999"})
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "No such product in this store."
    # Unpublished in the admin after staff found it: the send checks again.
    commerce.data(live.state, SHOP_A).products[7002].publication_ids = [90002]
    teapot = send(live, path, {"product_id": "gid://shopify/Product/7002"})
    assert teapot.status_code == 422
    assert teapot.json()["error"] == (
        "Teapot is not available on the Online Store, so a shopper could not open it."
    )
    assert messages(live) == []


def test_a_retried_send_is_one_message_even_if_the_product_changed_since(shops):
    live = shops
    cid = start(live, SHOP_A, "ada@example.com", ("shopper", "Hello"))
    body = {"product_id": "gid://shopify/Product/7002", "client_id": "send-1"}
    first = send(live, f"/admin/conversations/{cid}/product", body)
    commerce.data(live.state, SHOP_A).products[7002].publication_ids = []
    again = send(live, f"/admin/conversations/{cid}/product", body)
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["message"]["id"] == again.json()["message"]["id"]
    code_body = {"code": "WELCOME10", "client_id": "send-2"}
    create_code(live, "WELCOME10")
    one = send(live, f"/admin/conversations/{cid}/discount", code_body)
    two = send(live, f"/admin/conversations/{cid}/discount", code_body)
    assert one.json()["message"]["id"] == two.json()["message"]["id"]
    assert len(messages(live)) == 2
    bad = send(live, f"/admin/conversations/{cid}/discount", {"code": "X", "client_id": 5})
    assert bad.status_code == 400


def test_staff_send_an_active_discount_code_with_the_link_that_applies_it(shops):
    live = shops
    create_code(live, "WELCOME10")
    cid = start(live, SHOP_A, "ada@example.com", ("shopper", "Any offers?"))
    answer = send(live, f"/admin/conversations/{cid}/discount", {"code": " welcome10 "})
    assert answer.status_code == 201, answer.text
    message = answer.json()["message"]
    apply_url = f"{storefront(live)}/discount/WELCOME10?redirect=/cart"
    assert message["kind"] == "discount"
    assert message["payload"] == {
        "code": "WELCOME10",
        "summary": "10% off entire order",
        "ends_at": None,
        "apply_url": apply_url,
    }
    assert message["body"] == (
        f"Shared a discount code: WELCOME10 (10% off entire order). Apply it: {apply_url}"
    )
    # The link is the devstore's discount route: it sets the cookie the cart reads.
    landed = live.http.get(apply_url)
    assert landed.status_code == 302 and landed.headers["location"].endswith("/cart")
    assert landed.cookies.get("ds_discount") == "WELCOME10"


def test_the_picker_offers_the_shops_active_codes(shops):
    live = shops
    create_code(live, "WELCOME10")
    create_code(live, "OLD", starts=now() - timedelta(days=9), ends=now() - timedelta(days=1))
    create_code(live, "LATER", starts=now() + timedelta(days=2))
    create_code(live, "BETA5", shop=SHOP_B)
    cid = start(live, SHOP_A, "ada@example.com", ("shopper", "Any offers?"))
    answer = get(live, f"/admin/conversations/{cid}/discounts")
    assert answer.status_code == 200
    assert answer.json()["discounts"] == [
        {"code": "WELCOME10", "summary": "10% off entire order", "ends_at": None}
    ]


def test_unknown_expired_and_scheduled_codes_are_refused_with_the_reason(shops):
    live = shops
    ended = (now() - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    begins = (now() + timedelta(days=3)).replace(hour=9, minute=30, second=0, microsecond=0)
    create_code(live, "OLD5", starts=ended - timedelta(days=30), ends=ended)
    create_code(live, "SOON", starts=begins)
    cid = start(live, SHOP_A, "ada@example.com", ("shopper", "Any offers?"))
    path = f"/admin/conversations/{cid}/discount"
    unknown = send(live, path, {"code": "WELCOME10"})
    assert unknown.status_code == 422
    assert unknown.json() == {"error": "No discount code WELCOME10 exists."}
    expired = send(live, path, {"code": "OLD5"})
    assert expired.status_code == 422
    assert expired.json()["error"] == (
        f"OLD5 expired on {ended.day} {ended.strftime('%b %Y')} 12:00 UTC, so a shopper could "
        "not use it."
    )
    scheduled = send(live, path, {"code": "soon"})
    assert scheduled.status_code == 422
    assert scheduled.json()["error"] == (
        f"soon starts on {begins.day} {begins.strftime('%b %Y')} 09:30 UTC, so a shopper "
        "could not use it yet."
    )
    for bad in ("", "   ", "TWO WORDS", "x" * 256, None, 10):
        answer = send(live, path, {"code": bad})
        assert answer.status_code == 422, bad
        assert answer.json()["error"] == "Enter the discount code to send."
    assert messages(live) == []


def test_another_shops_conversation_is_404_and_nothing_is_sent(shops):
    live = shops
    create_code(live, "WELCOME10")
    theirs = start(live, SHOP_B, "bob@example.com", ("shopper", "Hello"))
    for method, path, body in (
        ("GET", f"/admin/conversations/{theirs}/products", None),
        ("GET", f"/admin/conversations/{theirs}/discounts", None),
        ("POST", f"/admin/conversations/{theirs}/product", {"product_id": "7002"}),
        ("POST", f"/admin/conversations/{theirs}/discount", {"code": "WELCOME10"}),
    ):
        answer = send(live, path, body, shop=SHOP_A, method=method)
        assert answer.status_code == 404, path
        assert answer.json() == {"error": "No such conversation in this shop."}
    assert messages(live) == []


def test_bad_or_missing_id_tokens_are_401(shops):
    live = shops
    cid = start(live, SHOP_A, "ada@example.com", ("shopper", "Hello"))
    routes = [
        ("GET", f"/admin/conversations/{cid}/products"),
        ("GET", f"/admin/conversations/{cid}/discounts"),
        ("POST", f"/admin/conversations/{cid}/product"),
        ("POST", f"/admin/conversations/{cid}/discount"),
    ]
    missing, expired, unsigned = "Bearer", id_token(SHOP_A, exp_in=-120), unsigned_token(SHOP_A)
    body = {"product_id": "7002", "code": "X"}
    for method, path in routes:
        for header in (missing, f"Bearer {expired}", f"Bearer {unsigned}"):
            answer = live.http.request(
                method, f"{live.app_url}{path}", json=body, headers={"Authorization": header}
            )
            assert answer.status_code == 401, (method, path, header[:12])
        # Without any Authorization (a cross-site form): bounced, never served.
        plain = live.http.request(method, f"{live.app_url}{path}", data=body)
        assert plain.status_code in (302, 400), (method, path)
    assert messages(live) == []


def test_shopify_throttling_or_failing_is_503_or_502_and_nothing_is_stored(shops):
    live = shops
    cid = start(live, SHOP_A, "ada@example.com", ("shopper", "Hello"))
    path = f"/admin/conversations/{cid}/product"
    assert get(live, f"/admin/conversations/{cid}/products").status_code == 200  # cached
    live.state.buckets[SHOP_A] = LeakyBucket(maximum=2000, restore_rate=0.001)
    live.state.graphql_faults = ["throttled"]
    throttled = send(live, path, {"product_id": "7002", "client_id": "t-1"})
    assert throttled.status_code == 503
    assert throttled.json()["error"] == (
        "Shopify is limiting the app's requests right now; nothing was sent. Try again in a "
        "few seconds."
    )
    live.state.buckets[SHOP_A] = LeakyBucket()
    live.state.graphql_faults = ["503", "503", "503"]
    down = send(live, path, {"product_id": "7002", "client_id": "t-1"})
    assert down.status_code == 503
    assert down.json()["error"] == (
        "Shopify did not answer; nothing was sent. Try again in a moment."
    )
    assert messages(live) == []
    # The same client_id once Shopify answers again: sent once.
    assert send(live, path, {"product_id": "7002", "client_id": "t-1"}).status_code == 201
    assert len(messages(live)) == 1


def test_the_storefront_lookup_is_cached_per_shop(shops):
    live = shops
    cid = start(live, SHOP_A, "ada@example.com", ("shopper", "Hello"))
    before = len(live.state.graphql_requests)
    send(live, f"/admin/conversations/{cid}/product", {"product_id": "7001"})
    send(live, f"/admin/conversations/{cid}/product", {"product_id": "7003"})
    # The first send reads the storefront and the product, the second only the product.
    assert len(live.state.graphql_requests) - before == 3


ROOT = "https://tea.example/shops/tea-shop"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        (f"{ROOT}/products/teapot", True),
        (f"{ROOT}/discount/WELCOME10?redirect=/cart", True),
        ("http://tea.example/shops/tea-shop/products/teapot", False),  # another scheme
        ("javascript:alert(1)//tea.example/shops/tea-shop/", False),
        ("https://evil.example/shops/tea-shop/products/teapot", False),
        ("https://tea.example@evil.example/shops/tea-shop/products/x", False),
        ("https://tea.example.evil.example/shops/tea-shop/products/x", False),
        ("https://tea.example:8443/shops/tea-shop/products/x", False),
        ("https://tea.example/shops/tea-shop-evil/products/x", False),
        ("https://tea.example/shops/other/products/x", False),
        ("https://tea.example/shops/tea-shop", False),
        ("//evil.example/shops/tea-shop/x", False),
        ("https://tea.example/shops/tea-shop/products/a b", False),
        ("https:\\\\evil.example/shops/tea-shop/x", False),
        (None, False),
        (42, False),
    ],
)
def test_only_urls_on_the_storefront_become_links(url, ok):
    assert catalog.on_storefront(url, ROOT) is ok


def test_a_product_with_a_link_off_the_storefront_is_refused():
    storefront = catalog.Storefront("gid://shopify/Publication/1", ROOT)
    node = {
        "title": "Teapot",
        "status": "ACTIVE",
        "publishedOnPublication": True,
        "onlineStoreUrl": "https://evil.example/products/teapot",
    }
    assert catalog.unavailable_reason(node, storefront) == (
        "Teapot's link is not on the store's Online Store, so it was not sent."
    )
    assert catalog._image_url("javascript:alert(1)", ROOT) is None
    assert catalog._image_url("https://cdn.shopify.com/s/files/teapot.png", ROOT)
    assert catalog._image_url("https://evil.example/x.png", ROOT) is None
    assert catalog._image_url("https://tea.example/cdn/teapot.png", ROOT)
    assert catalog._image_url("http://cdn.shopify.com/s/files/teapot.png", ROOT) is None
    assert catalog._image_url("https://x@cdn.shopify.com/teapot.png", ROOT) is None


def test_a_products_image_comes_with_it(shops):
    live = shops
    commerce.data(live.state, SHOP_A).products[7002].image = "favicon.ico"
    cid = start(live, SHOP_A, "ada@example.com", ("shopper", "Which teapot?"))
    found = get(live, f"/admin/conversations/{cid}/products", q="teapot").json()["products"]
    assert found[0]["image_url"] == f"{live.devstore_url}/static/favicon.ico"
    answer = send(live, f"/admin/conversations/{cid}/product", {"product_id": "7002"})
    assert answer.json()["message"]["payload"]["image_url"] == found[0]["image_url"]


def test_at_shopify_the_storefront_root_is_the_primary_domain():
    root = "https://www.teashop.example"
    assert catalog.on_storefront(f"{root}/products/teapot", root)
    assert catalog.on_storefront(f"{root}/discount/WELCOME10?redirect=/cart", root)
    assert not catalog.on_storefront("https://teashop.myshopify.com/products/teapot", root)
    assert not catalog.on_storefront("https://www.teashop.example.evil/products/teapot", root)


def test_without_the_product_scopes_staff_are_told_to_approve_them(shops):
    live = shops
    cid = start(live, SHOP_A, "ada@example.com", ("shopper", "Hello"))
    old = "read_customers,write_customers,read_orders,read_discounts,write_discounts"
    live.state.shop(SHOP_A).installed_scopes = old
    answer = send(live, f"/admin/conversations/{cid}/product", {"product_id": "7002"})
    assert answer.status_code == 502
    assert answer.json()["error"] == (
        "The app lacks Shopify's permission to read this store's products (see the app's "
        "Home page to approve it); nothing was sent."
    )
    assert messages(live) == []
    # Opening the app in the admin approves the deployed scopes (Shopify asks the merchant).
    handle = live.state.shop(SHOP_A).handle
    api_key = live.devstore.extensions["devstore_app"].api_key
    assert live.http.get(f"{live.devstore_url}/store/{handle}/apps/{api_key}").status_code == 200
    assert "read_products" in live.state.shop(SHOP_A).installed_scopes
    again = send(live, f"/admin/conversations/{cid}/product", {"product_id": "7002"})
    assert again.status_code == 201


def test_a_shopper_away_gets_the_product_and_the_code_by_email_with_their_links(shops):
    live = shops
    create_code(live, "WELCOME10")
    cid = start(live, SHOP_A, "away@example.com", ("shopper", "Ping me by email"))
    send(live, f"/admin/conversations/{cid}/product", {"product_id": "7002"})
    send(live, f"/admin/conversations/{cid}/discount", {"code": "WELCOME10"})
    run_jobs(live.app)
    mails = live.devstore.extensions["devstore_mailbox"].to("away@example.com")
    text = "\n".join(m.text for m in mails)
    assert f"{storefront(live)}/products/teapot" in text
    assert f"{storefront(live)}/discount/WELCOME10?redirect=/cart" in text


def test_a_finnish_admin_reads_the_refusals_in_finnish(shops):
    live = shops
    ended = (now() - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    create_code(live, "OLD5", starts=ended - timedelta(days=30), ends=ended)
    cid = start(live, SHOP_A, "ada@example.com", ("shopper", "Hei"))
    pos_only = send(
        live,
        f"/admin/conversations/{cid}/product?locale=fi",
        {"product_id": "gid://shopify/Product/7005"},
    )
    assert pos_only.status_code == 422
    assert pos_only.json()["error"] == (
        "Shop mug ei ole saatavilla verkkokaupassa, joten asiakas ei voisi avata sitä."
    )
    expired = send(live, f"/admin/conversations/{cid}/discount?locale=fi", {"code": "OLD5"})
    assert expired.status_code == 422
    said = expired.json()["error"]
    assert said.startswith(f"OLD5 vanheni {ended.day} ") and "12:00 UTC" in said, said
    assert said.endswith("joten asiakas ei voisi käyttää sitä."), said
    assert messages(live) == []

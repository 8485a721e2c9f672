"""The devstore storefront's cart: Shopify's Ajax cart API (`/cart.js`, `/cart/add.js`,
`/cart/change.js`) in its JSON shapes, only products on the Online Store sold, product pages,
the cart page with the discount code of the shopper's link, and the checkout placing the
cart's lines as the order."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from devstore import commerce, create_devstore
from devstore.store import now

SHOP = "demo-shop.myshopify.com"
PIXEL_SOURCE = Path(__file__).parents[2] / "extensions" / "referral-pixel" / "src" / "index.js"


@pytest.fixture
def client():
    app = create_devstore()
    return app.test_client(), app.extensions["devstore_state"]


def add(client, variant, quantity=1, **kwargs):
    return client.post(f"/shops/{SHOP}/cart/add.js", json={"id": variant, "quantity": quantity})


def test_add_change_and_read_the_cart_in_shopifys_shapes(client):
    http, _state = client
    empty = http.get(f"/shops/{SHOP}/cart.js").get_json()
    assert empty["item_count"] == 0 and empty["items"] == [] and empty["token"] is None
    added = add(http, 8002, 2)
    assert added.status_code == 200
    line = added.get_json()
    assert line["variant_id"] == 8002 and line["product_id"] == 7002 and line["quantity"] == 2
    assert line["price"] == 4900 and line["final_line_price"] == 9800
    assert line["product_title"] == "Teapot" and line["handle"] == "teapot"
    assert "cart=" in added.headers["Set-Cookie"]
    form = http.post(f"/shops/{SHOP}/cart/add.js", data={"id": "8004", "quantity": "1"})
    assert form.status_code == 200
    many = http.post(f"/shops/{SHOP}/cart/add.js", json={"items": [{"id": 8002, "quantity": 1}]})
    assert [i["quantity"] for i in many.get_json()["items"]] == [3]
    cart = http.get(f"/shops/{SHOP}/cart.js").get_json()
    assert cart["item_count"] == 4 and cart["total_price"] == 3 * 4900 + 3990
    assert cart["currency"] == "EUR" and [i["id"] for i in cart["items"]] == [8002, 8004]
    by_line = http.post(f"/shops/{SHOP}/cart/change.js", json={"line": 1, "quantity": 1})
    assert by_line.get_json()["items"][0]["quantity"] == 1
    by_id = http.post(f"/shops/{SHOP}/cart/change.js", json={"id": "8004:7004", "quantity": 0})
    assert [i["id"] for i in by_id.get_json()["items"]] == [8002]
    assert by_id.get_json()["total_price"] == 4900


@pytest.mark.parametrize(
    ("body", "status", "description"),
    [
        ({"id": 8005, "quantity": 1}, 404, "Cannot find variant"),  # Point of Sale only
        ({"id": 8006, "quantity": 1}, 404, "Cannot find variant"),  # a draft
        ({"id": 1, "quantity": 1}, 404, "Cannot find variant"),
        ({"id": "x", "quantity": 1}, 404, "Cannot find variant"),
        ({"id": 8002, "quantity": "two"}, 422, "Quantity must be a number."),
        ({"id": 8002, "quantity": 1000}, 422, "Quantity must be between 0 and 999."),
        ({"id": 8002, "quantity": -1}, 422, "Quantity must be between 0 and 999."),
        ({"items": []}, 422, "Name the variant to add (id)."),
    ],
)
def test_add_refuses_what_is_not_sold_online_and_bad_quantities(client, body, status, description):
    http, _state = client
    answer = http.post(f"/shops/{SHOP}/cart/add.js", json=body)
    assert answer.status_code == status
    assert answer.get_json() == {
        "status": status,
        "message": "Cart Error",
        "description": description,
    }


def test_change_refuses_lines_the_cart_does_not_have(client):
    http, _state = client
    assert (
        http.post(f"/shops/{SHOP}/cart/change.js", json={"line": 1, "quantity": 0}).status_code
        == 400
    )
    add(http, 8001)
    assert (
        http.post(f"/shops/{SHOP}/cart/change.js", json={"line": 2, "quantity": 0}).status_code
        == 400
    )
    assert (
        http.post(f"/shops/{SHOP}/cart/change.js", json={"id": 8002, "quantity": 1}).status_code
        == 400
    )
    assert http.post(f"/shops/{SHOP}/cart/change.js", json={"quantity": 1}).status_code == 400


def test_another_shops_cart_cookie_is_not_this_shops_cart(client):
    http, state = client
    add(http, 8002, 2)
    token = next(iter(state.carts))
    other = state.shops and next(d for d in state.shops if d != SHOP)
    http.set_cookie("cart", token, path=f"/shops/{other}/")
    assert http.get(f"/shops/{other}/cart.js").get_json()["item_count"] == 0


def test_product_pages_sell_only_what_is_on_the_online_store(client):
    http, _state = client
    page = http.get(f"/shops/{SHOP}/products/teapot")
    assert page.status_code == 200 and b'id="add-teapot"' in page.data
    assert http.get(f"/shops/{SHOP}/fi/products/teapot").status_code == 200
    assert http.get(f"/shops/{SHOP}/products/shop-mug").status_code == 404  # POS only
    assert http.get(f"/shops/{SHOP}/products/winter-blend").status_code == 404  # draft
    assert http.get(f"/shops/{SHOP}/xx/products/teapot").status_code == 404
    home = http.get(f"/shops/{SHOP}/").data.decode()
    assert "Teapot" in home and "Shop mug" not in home and "Winter blend" not in home


def test_the_cart_page_shows_the_links_discount_and_checkout_places_the_cart(client):
    http, state = client
    commerce.data(state, SHOP).discounts[1] = commerce.DevDiscount(
        id=1, title="Welcome", code="WELCOME10", starts_at=now() - timedelta(days=1), percentage=0.1
    )
    add(http, 8002, 2)
    link = http.get(f"/shops/{SHOP}/discount/WELCOME10?redirect=/cart")
    assert link.status_code == 302 and link.headers["Location"].endswith(f"/shops/{SHOP}/cart")
    page = http.get(f"/shops/{SHOP}/cart").data.decode()
    assert 'id="cart-discount"' in page and "Discount code WELCOME10 applied" in page
    assert "98.00 EUR" in page and "88.20 EUR" in page  # 10 % off the 98.00 subtotal
    placed = http.post(f"/shops/{SHOP}/checkout", data={"email": "fran@example.com"})
    assert placed.status_code == 200 and b"with the code WELCOME10" in placed.data
    order = max(commerce.data(state, SHOP).orders.values(), key=lambda o: o.id)
    assert [(li.title, li.quantity, li.variant_id) for li in order.line_items] == [
        ("Teapot", 2, 8002)
    ]
    assert order.discount_amount == commerce.Decimal("9.80")
    assert http.get(f"/shops/{SHOP}/cart.js").get_json()["item_count"] == 0
    assert http.post(f"/shops/{SHOP}/checkout", data={"email": "f@example.com"}).status_code == 400


def test_an_expired_code_is_not_shown_as_applied(client):
    http, state = client
    commerce.data(state, SHOP).discounts[2] = commerce.DevDiscount(
        id=2,
        title="Old",
        code="OLD",
        starts_at=now() - timedelta(days=9),
        ends_at=now() - timedelta(days=1),
        percentage=0.5,
    )
    add(http, 8001)
    http.get(f"/shops/{SHOP}/discount/OLD?redirect=/cart")
    page = http.get(f"/shops/{SHOP}/cart").data.decode()
    assert 'id="cart-discount"' not in page and "cannot be applied" in page


def test_the_pixel_source_is_small():
    assert PIXEL_SOURCE.stat().st_size < 128 * 1024  # Shopify's limit for the built bundle

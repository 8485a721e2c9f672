"""The storefront's cart, as Shopify keeps one: server-side, named by the `cart` cookie's
token, read and changed through the Ajax cart API (`/cart.js`, `/cart/add.js`,
`/cart/change.js`) in Shopify's JSON shapes (prices in the currency's minor unit).

Only products a shopper can buy online are sold: ACTIVE and published to the Online Store
(`products.DevProduct.on_online_store`). The same cart also has the web pixel's shape
(`pixel_cart`, `pixel_line`: amounts as decimal numbers, `MoneyV2`), which the pixel
runtime's `init.data.cart` and the standard events carry (shopify-platform.md § 11.2).

Carts live in memory only (a restarted devstore starts every shopper with an empty cart).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .commerce import ShopData, data
from .products import DevProduct, DevVariant, find_variant
from .store import DevStoreState

COOKIE_CART = "cart"
MAX_QUANTITY = 999
MAX_LINES = 100


class CartError(Exception):
    """Shopify's Ajax cart error: `{"status", "message": "Cart Error", "description"}`."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description

    def json(self) -> dict[str, Any]:
        return {"status": self.status, "message": "Cart Error", "description": self.description}


@dataclass
class DevCartLine:
    variant_id: int
    quantity: int


@dataclass
class DevCart:
    token: str
    shop: str
    lines: list[DevCartLine] = field(default_factory=list)


def carts(state: DevStoreState) -> dict[str, DevCart]:
    return state.carts


def find_cart(state: DevStoreState, domain: str, token: str | None) -> DevCart | None:
    found = carts(state).get(token or "")
    return found if found is not None and found.shop == domain else None


def new_cart(state: DevStoreState, domain: str) -> DevCart:
    cart = DevCart(token=secrets.token_hex(16), shop=domain)
    with state.lock:
        carts(state)[cart.token] = cart
    return cart


def drop_cart(state: DevStoreState, token: str) -> None:
    with state.lock:
        carts(state).pop(token, None)


def _quantity(value: Any, *, default: int | None = None) -> int:
    if value is None or value == "":
        if default is None:
            raise CartError(422, "Quantity is required.")
        return default
    if isinstance(value, bool):
        raise CartError(422, "Quantity must be a number.")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise CartError(422, "Quantity must be a number.") from None
    if not 0 <= number <= MAX_QUANTITY:
        raise CartError(422, f"Quantity must be between 0 and {MAX_QUANTITY}.")
    return number


def _sellable(shop: ShopData, variant_id: Any) -> tuple[DevProduct, DevVariant]:
    try:
        wanted = int(str(variant_id).split(":")[0])
    except ValueError:
        raise CartError(404, "Cannot find variant") from None
    found = find_variant(shop.products, wanted)
    if found is None or not found[0].on_online_store:
        raise CartError(404, "Cannot find variant")
    return found


def add(state: DevStoreState, cart: DevCart, variant_id: Any, quantity: Any) -> DevCartLine:
    """`/cart/add.js`: the variant's line grows by `quantity` (default 1), capped at
    MAX_QUANTITY; a variant not sold online is Shopify's 404 "Cannot find variant"."""
    shop = data(state, cart.shop)
    _product, variant = _sellable(shop, variant_id)
    amount = _quantity(quantity, default=1)
    with state.lock:
        line = next((li for li in cart.lines if li.variant_id == variant.id), None)
        if line is None:
            if len(cart.lines) >= MAX_LINES:
                raise CartError(422, "The cart is full.")
            line = DevCartLine(variant.id, 0)
            cart.lines.append(line)
        line.quantity = min(line.quantity + amount, MAX_QUANTITY)
        if line.quantity == 0:
            cart.lines.remove(line)
    return line


def change(state: DevStoreState, cart: DevCart, *, line: Any, variant_id: Any, quantity: Any):
    """`/cart/change.js`: set one line's quantity (0 removes it), the line named by its
    1-based `line` number or by `id` (a variant id or a line key)."""
    amount = _quantity(quantity)
    with state.lock:
        if line not in (None, ""):
            try:
                index = int(str(line)) - 1
            except ValueError:
                raise CartError(400, "Line must be a number.") from None
            if not 0 <= index < len(cart.lines):
                raise CartError(400, "There is no such line in the cart.")
            target = cart.lines[index]
        elif variant_id not in (None, ""):
            try:
                wanted = int(str(variant_id).split(":")[0])
            except ValueError:
                raise CartError(400, "There is no such line in the cart.") from None
            target = next((li for li in cart.lines if li.variant_id == wanted), None)
            if target is None:
                raise CartError(400, "There is no such line in the cart.")
        else:
            raise CartError(400, "Name the line (line) or the variant (id).")
        target.quantity = amount
        if amount == 0:
            cart.lines.remove(target)


def priced_lines(state: DevStoreState, cart: DevCart | None) -> list[dict[str, Any]]:
    """The cart's lines with their product and variant; a product no longer sold online
    drops out of the cart, as on Shopify."""
    if cart is None:
        return []
    shop = data(state, cart.shop)
    out = []
    for li in list(cart.lines):
        found = find_variant(shop.products, li.variant_id)
        if found is None or not found[0].on_online_store:
            continue
        product, variant = found
        out.append({"product": product, "variant": variant, "quantity": li.quantity})
    return out


def subtotal(lines: list[dict[str, Any]]) -> Decimal:
    return sum((li["variant"].price * li["quantity"] for li in lines), Decimal("0"))


def order_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cart's lines as `commerce.place_order` takes them."""
    return [
        {
            "title": li["product"].title,
            "price": str(li["variant"].price),
            "sku": li["variant"].sku,
            "product_id": li["product"].id,
            "variant_id": li["variant"].id,
            "quantity": li["quantity"],
        }
        for li in lines
    ]


def _cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def product_url(product: DevProduct, store_root: str) -> str:
    return f"{store_root.rstrip('/')}/products/{product.handle}"


def line_json(line: dict[str, Any], store_root: str) -> dict[str, Any]:
    """One line item of the Ajax API (`/cart.js` items, `/cart/add.js`'s answer)."""
    product, variant, quantity = line["product"], line["variant"], line["quantity"]
    price = _cents(variant.price)
    return {
        "id": variant.id,
        "key": f"{variant.id}:{product.id}",
        "quantity": quantity,
        "variant_id": variant.id,
        "product_id": product.id,
        "title": product.title,
        "product_title": product.title,
        "variant_title": None,
        "price": price,
        "original_price": price,
        "final_price": price,
        "line_price": price * quantity,
        "original_line_price": price * quantity,
        "final_line_price": price * quantity,
        "total_discount": 0,
        "discounts": [],
        "sku": variant.sku,
        "vendor": product.vendor,
        "product_type": product.product_type,
        "handle": product.handle,
        "url": product_url(product, store_root) + f"?variant={variant.id}",
        "image": product.image,
        "requires_shipping": True,
        "properties": {},
    }


def cart_json(
    state: DevStoreState, cart: DevCart | None, currency: str, store_root: str
) -> dict[str, Any]:
    """`/cart.js`: an empty cart when the shopper has none yet."""
    lines = priced_lines(state, cart)
    total = _cents(subtotal(lines))
    return {
        "token": cart.token if cart is not None else None,
        "note": None,
        "attributes": {},
        "original_total_price": total,
        "total_price": total,
        "total_discount": 0,
        "total_weight": 0,
        "item_count": sum(li["quantity"] for li in lines),
        "items": [line_json(li, store_root) for li in lines],
        "requires_shipping": bool(lines),
        "currency": currency,
        "items_subtotal_price": total,
        "cart_level_discount_applications": [],
    }


def _money(amount: Decimal, currency: str) -> dict[str, Any]:
    return {"amount": float(amount), "currencyCode": currency}


def pixel_line(
    product: DevProduct, variant: DevVariant, quantity: int, currency: str, store_root: str
) -> dict[str, Any]:
    """A web pixel `CartLine`: `{cost: {totalAmount}, merchandise: ProductVariant, quantity}`."""
    return {
        "cost": {"totalAmount": _money(variant.price * quantity, currency)},
        "merchandise": {
            "id": str(variant.id),
            "title": variant.title,
            "untranslatedTitle": variant.title,
            "sku": variant.sku,
            "price": _money(variant.price, currency),
            "image": {"src": product.image},
            "product": {
                "id": str(product.id),
                "title": product.title,
                "untranslatedTitle": product.title,
                "type": product.product_type,
                "vendor": product.vendor,
                "url": product_url(product, store_root),
            },
        },
        "quantity": quantity,
    }


def pixel_cart(
    state: DevStoreState, cart: DevCart | None, currency: str, store_root: str
) -> dict[str, Any] | None:
    """A web pixel `Cart` (`init.data.cart`, `cart_viewed`'s `data.cart`); None when the
    shopper has no cart, as Shopify's `init.data.cart` is null then."""
    if cart is None:
        return None
    lines = priced_lines(state, cart)
    return {
        "id": cart.token,
        "cost": {"totalAmount": _money(subtotal(lines), currency)},
        "lines": [
            pixel_line(li["product"], li["variant"], li["quantity"], currency, store_root)
            for li in lines
        ],
        "totalQuantity": sum(li["quantity"] for li in lines),
        "attributes": [],
    }

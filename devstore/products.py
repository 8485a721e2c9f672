"""The devstore's products and the sales channels they are published to.

Shopify keeps a product's availability per publication (one per sales channel); a product the
app may link to from a chat is one that is ACTIVE and published to the Online Store
(shopify-platform.md § 11.8). Every shop starts with the demo catalogue below: three products
on the Online Store (one with a title over 40 characters, for the cart-event rule), one sold
only at the Point of Sale, and one draft.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

ONLINE_STORE_PUBLICATION_ID = 90001
POINT_OF_SALE_PUBLICATION_ID = 90002
PUBLICATIONS = {
    ONLINE_STORE_PUBLICATION_ID: "Online Store",
    POINT_OF_SALE_PUBLICATION_ID: "Point of Sale",
}


@dataclass
class DevVariant:
    id: int
    title: str
    price: Decimal
    sku: str

    @property
    def gid(self) -> str:
        return f"gid://shopify/ProductVariant/{self.id}"


@dataclass
class DevProduct:
    id: int
    handle: str
    title: str
    description: str = ""
    vendor: str = "Devstore"
    product_type: str = ""
    status: str = "ACTIVE"  # ACTIVE | DRAFT | ARCHIVED
    image: str | None = None  # a path under the devstore's static files
    variants: list[DevVariant] = field(default_factory=list)
    publication_ids: list[int] = field(default_factory=list)

    @property
    def gid(self) -> str:
        return f"gid://shopify/Product/{self.id}"

    def published_on(self, publication_id: int) -> bool:
        return publication_id in self.publication_ids

    @property
    def on_online_store(self) -> bool:
        return self.status == "ACTIVE" and self.published_on(ONLINE_STORE_PUBLICATION_ID)


def publication_gid(publication_id: int) -> str:
    return f"gid://shopify/Publication/{publication_id}"


def default_products() -> dict[int, DevProduct]:
    """The demo catalogue (product ids 7001-7003 are the ones the seeded orders use)."""
    both = [ONLINE_STORE_PUBLICATION_ID, POINT_OF_SALE_PUBLICATION_ID]
    products = [
        DevProduct(
            7001,
            "green-tea",
            "Green tea 100 g",
            "Sencha from Shizuoka.",
            product_type="Tea",
            variants=[DevVariant(8001, "Default Title", Decimal("24.95"), "TEA-GREEN")],
            publication_ids=list(both),
        ),
        DevProduct(
            7002,
            "teapot",
            "Teapot",
            "Cast iron, 0.8 l.",
            product_type="Teaware",
            variants=[DevVariant(8002, "Default Title", Decimal("49.00"), "POT-1")],
            publication_ids=list(both),
        ),
        DevProduct(
            7003,
            "oolong",
            "Oolong 50 g",
            "Roasted Tieguanyin.",
            product_type="Tea",
            variants=[DevVariant(8003, "Default Title", Decimal("18.50"), "TEA-OOLONG")],
            publication_ids=list(both),
        ),
        DevProduct(
            7004,
            "first-flush-darjeeling-gift-set",
            "First flush Darjeeling gift set with two cups",  # 45 characters
            "A tin of first flush and two porcelain cups.",
            product_type="Gift",
            variants=[DevVariant(8004, "Default Title", Decimal("39.90"), "GIFT-DARJ")],
            publication_ids=list(both),
        ),
        DevProduct(
            7005,
            "shop-mug",
            "Shop mug",
            "Sold at the counter only.",
            product_type="Teaware",
            variants=[DevVariant(8005, "Default Title", Decimal("12.00"), "MUG-1")],
            publication_ids=[POINT_OF_SALE_PUBLICATION_ID],
        ),
        DevProduct(
            7006,
            "winter-blend",
            "Winter blend (coming soon)",
            "Not for sale yet.",
            product_type="Tea",
            status="DRAFT",
            variants=[DevVariant(8006, "Default Title", Decimal("21.00"), "TEA-WINTER")],
            publication_ids=[ONLINE_STORE_PUBLICATION_ID],
        ),
    ]
    return {p.id: p for p in products}


def find_variant(
    products: dict[int, DevProduct], variant_id: int
) -> tuple[DevProduct, DevVariant] | None:
    for product in products.values():
        for variant in product.variants:
            if variant.id == variant_id:
                return product, variant
    return None

from __future__ import annotations

import pytest

from shopify_app.shopify.domains import sanitize_shop_domain, shop_handle
from shopify_app.shopify.errors import InvalidShopDomain


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("demo-shop.myshopify.com", "demo-shop.myshopify.com"),
        ("Demo-Shop.MyShopify.com", "demo-shop.myshopify.com"),
        ("https://demo-shop.myshopify.com/", "demo-shop.myshopify.com"),
        ("admin.shopify.com/store/demo-shop", "demo-shop.myshopify.com"),
        ("a.myshopify.com", "a.myshopify.com"),
    ],
)
def test_valid_shop_domains_are_canonicalised(given, expected):
    assert sanitize_shop_domain(given) == expected


@pytest.mark.parametrize(
    "given",
    [
        None,
        "",
        "demo-shop",
        "evil.com",
        "demo-shop.myshopify.com.evil.com",
        "evil.com/demo-shop.myshopify.com",
        "demo-shop.myshopify.com:8080",
        "user@demo-shop.myshopify.com",
        "-demo.myshopify.com",
        "demo_shop.myshopify.com",
        "javascript:alert(1)",
        "https://demo-shop.myshopify.com/?x=1",
        "demo shop.myshopify.com",
        "x" * 300 + ".myshopify.com",
        "ftp://demo-shop.myshopify.com",
    ],
)
def test_invalid_shop_domains_are_refused(given):
    with pytest.raises(InvalidShopDomain):
        sanitize_shop_domain(given)


def test_shop_handle():
    assert shop_handle("demo-shop.myshopify.com") == "demo-shop"

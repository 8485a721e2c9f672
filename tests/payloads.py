"""Shopify-shaped webhook payloads (REST resource JSON, API 2026-07), for handler tests."""

from __future__ import annotations

from typing import Any

from devstore.store import shopify_shop_id


def ts(minute: int, hour: int = 10) -> str:
    return f"2026-11-20T{hour:02d}:{minute:02d}:00-05:00"


def customer(cid: int = 1001, *, updated: int = 0, **overrides: Any) -> dict[str, Any]:
    body = {
        "id": cid,
        "admin_graphql_api_id": f"gid://shopify/Customer/{cid}",
        "email": f"ada.lovelace+{cid}@example.com",
        "phone": "+358401234567",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "state": "enabled",
        "verified_email": True,
        "tags": "vip, newsletter",
        "currency": "EUR",
        "created_at": ts(0, 9),
        "updated_at": ts(updated),
        "email_marketing_consent": {
            "state": "subscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": ts(0, 9),
        },
        "sms_marketing_consent": {
            "state": "not_subscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": None,
            "consent_collected_from": "OTHER",
        },
        "default_address": {"address1": "1 Analytical St", "city": "Helsinki", "zip": "00100"},
    }
    body.update(overrides)
    return body


def customer_deleted(cid: int = 1001) -> dict[str, Any]:
    """`customers/delete`: the id, the GID and empty fields."""
    return {
        "id": cid,
        "admin_graphql_api_id": f"gid://shopify/Customer/{cid}",
        "email": None,
        "phone": None,
        "first_name": None,
        "last_name": None,
        "addresses": [],
    }


def order(oid: int = 5001, *, updated: int = 0, cid: int | None = 1001, **overrides: Any):
    body = {
        "id": oid,
        "admin_graphql_api_id": f"gid://shopify/Order/{oid}",
        "name": f"#{oid - 4000}",
        "order_number": oid - 4000,
        "email": "ada.lovelace+1001@example.com",
        "currency": "EUR",
        "presentment_currency": "EUR",
        "total_price": "89.90",
        "subtotal_price": "99.90",
        "total_discounts": "10.00",
        "total_tax": "0.00",
        "financial_status": "pending",
        "fulfillment_status": None,
        "cancelled_at": None,
        "cancel_reason": None,
        "discount_codes": [{"code": "ADA-FRIEND-7Q3K", "amount": "10.00", "type": "fixed_amount"}],
        "note_attributes": [{"name": "referral_code", "value": "ADA-7Q3K"}],
        "landing_site": "/?ref=ADA-7Q3K&utm_source=referral",
        "referring_site": "https://mail.example.com/",
        "browser_ip": "203.0.113.7",
        "client_details": {"browser_ip": "203.0.113.7", "user_agent": "Mozilla/5.0 (X11)"},
        "shipping_address": {"address1": "2 Engine Rd", "city": "Espoo", "zip": "02100"},
        "line_items": [
            {
                "id": 9001,
                "product_id": 7001,
                "variant_id": 8001,
                "sku": "TEA-GREEN-100",
                "title": "Green tea 100 g",
                "quantity": 2,
                "price": "24.95",
            },
            {
                "id": 9002,
                "product_id": 7002,
                "variant_id": 8002,
                "sku": None,
                "title": "Teapot",
                "quantity": 1,
                "price": "50.00",
            },
        ],
        "refunds": [],
        "processed_at": ts(0),
        "created_at": ts(0),
        "updated_at": ts(updated),
        "customer": customer(cid) if cid else None,
    }
    body.update(overrides)
    return body


def refund(rid: int = 3001, oid: int = 5001, amount: str = "24.95") -> dict[str, Any]:
    return {
        "id": rid,
        "admin_graphql_api_id": f"gid://shopify/Refund/{rid}",
        "order_id": oid,
        "created_at": ts(30),
        "processed_at": ts(30),
        "note": "Damaged in transit",
        "restock": False,
        "user_id": 70000001,
        "refund_line_items": [{"line_item_id": 9001, "quantity": 1, "subtotal": amount}],
        "transactions": [
            {
                "id": 4001,
                "kind": "refund",
                "status": "success",
                "amount": amount,
                "currency": "EUR",
                "gateway": "bogus",
            },
        ],
        "order_adjustments": [],
    }


def discount(did: int = 6001, *, updated: int = 0, status: str = "ACTIVE", **overrides: Any):
    body = {
        "admin_graphql_api_id": f"gid://shopify/DiscountCodeNode/{did}",
        "title": "Friend offer 10%",
        "status": status,
        "created_at": ts(0),
        "updated_at": ts(updated),
    }
    body.update(overrides)
    return body


def customers_redact(shop: str, cid: int = 1001, orders: tuple[int, ...] = (5001,)):
    return {
        "shop_id": shopify_shop_id(shop),
        "shop_domain": shop,
        "customer": {
            "id": cid,
            "email": f"ada.lovelace+{cid}@example.com",
            "phone": "+358401234567",
        },
        "orders_to_redact": list(orders),
    }


def customers_data_request(shop: str, cid: int = 1001, request_id: int = 9999):
    return {
        "shop_id": shopify_shop_id(shop),
        "shop_domain": shop,
        "orders_requested": [5001],
        "customer": {
            "id": cid,
            "email": f"ada.lovelace+{cid}@example.com",
            "phone": "+358401234567",
        },
        "data_request": {"id": request_id},
    }


def shop_redact(shop: str) -> dict[str, Any]:
    return {"shop_id": shopify_shop_id(shop), "shop_domain": shop}


def app_uninstalled(shop: str) -> dict[str, Any]:
    """The Shop resource, as `app/uninstalled` carries it."""
    return {
        "id": shopify_shop_id(shop),
        "name": "Test shop",
        "email": "owner@example.com",
        "domain": shop,
        "myshopify_domain": shop,
        "currency": "EUR",
        "iana_timezone": "Europe/Helsinki",
    }


def scopes_update(previous: list[str], current: list[str]) -> dict[str, Any]:
    return {"previous": previous, "current": current, "updated_at": ts(0)}

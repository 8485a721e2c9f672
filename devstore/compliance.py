"""The mandatory compliance webhooks, with Shopify's payloads (shopify-platform.md § 3.5).

Shopify sends them when a merchant asks for a customer's data or their erasure, and 48 hours
after a shop uninstalls the app; here a test or a shell calls them when it wants them.
"""

from __future__ import annotations

from typing import Any

from .commerce import data, next_id
from .store import DevStoreState


def _shop(state: DevStoreState, domain: str) -> dict[str, Any]:
    shop = state.shop(domain)
    if shop is None:
        raise KeyError(domain)
    return {"shop_id": shop.shopify_id, "shop_domain": domain}


def _customer(state: DevStoreState, domain: str, customer_id: int) -> tuple[dict, list[int]]:
    shop_data = data(state, domain)
    customer = shop_data.customers[customer_id]
    orders = sorted(o.id for o in shop_data.orders.values() if o.customer_id == customer_id)
    return {"id": customer.id, "email": customer.email, "phone": customer.phone}, orders


def request_customer_data(state: DevStoreState, domain: str, customer_id: int) -> int:
    """The merchant asks for a customer's data: `customers/data_request`; returns its id."""
    customer, orders = _customer(state, domain, customer_id)
    request_id = next_id()
    state.emit(
        domain,
        "customers/data_request",
        {
            **_shop(state, domain),
            "orders_requested": orders,
            "customer": customer,
            "data_request": {"id": request_id},
        },
    )
    return request_id


def redact_customer(state: DevStoreState, domain: str, customer_id: int) -> None:
    """The merchant erases a customer's personal data: `customers/redact`."""
    customer, orders = _customer(state, domain, customer_id)
    state.emit(
        domain,
        "customers/redact",
        {**_shop(state, domain), "customer": customer, "orders_to_redact": orders},
    )


def redact_shop(state: DevStoreState, domain: str) -> None:
    """`shop/redact`, which Shopify sends 48 hours after the app was uninstalled (never to
    an installed app)."""
    shop = state.shop(domain)
    if shop is not None and shop.installed:
        raise ValueError(f"{domain} still has the app installed")
    state.emit(domain, "shop/redact", _shop(state, domain), installed_only=False)

"""Topic -> handler, and which topics need an installed shop to do any work."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from shopify_app.models import Shop, WebhookDelivery

from . import app_events, handlers

Handler = Callable[[Session, Shop, Any, WebhookDelivery], None]

SYNC_HANDLERS: dict[str, Handler] = {
    "customers/create": handlers.customer_changed,
    "customers/update": handlers.customer_changed,
    "customers/delete": handlers.customer_deleted,
    # Marketing consent left the customer payload in API 2025-01 (shopify-platform.md § 11.4).
    "customers_email_marketing_consent/update": handlers.email_consent_changed,
    "customers_marketing_consent/update": handlers.sms_consent_changed,
    "orders/create": handlers.order_changed,
    "orders/updated": handlers.order_changed,
    "orders/paid": handlers.order_changed,
    "orders/cancelled": handlers.order_changed,
    "orders/fulfilled": handlers.order_changed,
    "refunds/create": handlers.refund_created,
    "discounts/create": handlers.discount_changed,
    "discounts/update": handlers.discount_changed,
    "discounts/delete": handlers.discount_deleted,
    "bulk_operations/finish": handlers.bulk_operation_finished,
}

# Run whatever the shop's state: privacy law and the app's own lifecycle.
ALWAYS_HANDLERS: dict[str, Handler] = {
    "app/uninstalled": app_events.app_uninstalled,
    "app/scopes_update": app_events.app_scopes_update,
    "shop/redact": handlers.shop_redact,
    "customers/redact": handlers.customers_redact,
    "customers/data_request": handlers.customers_data_request,
}

HANDLERS: dict[str, Handler] = {**SYNC_HANDLERS, **ALWAYS_HANDLERS}


def has_handler(topic: str) -> bool:
    return topic in HANDLERS


def handler_for(topic: str) -> Handler | None:
    return HANDLERS.get(topic)


def needs_installed_shop(topic: str) -> bool:
    return topic in SYNC_HANDLERS

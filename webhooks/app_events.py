"""Handlers for the app's own events: `app/uninstalled` and `app/scopes_update`."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from shopify_app.models import Shop, WebhookDelivery, utcnow
from shopify_app.shopify.offline_tokens import clear_tokens


def app_uninstalled(session: Session, shop: Shop, payload: Any, delivery: WebhookDelivery) -> None:
    """Shopify has already revoked the tokens: forget them and stop work for the shop.

    A late retry after a reinstall must not uninstall the new installation, so a delivery
    triggered before the current install began is ignored.
    """
    fired_at = delivery.triggered_at or delivery.received_at
    if shop.installed_at and fired_at < shop.installed_at:
        return
    clear_tokens(shop)
    shop.web_pixel_id = shop.web_pixel_settings = None  # Shopify removes an uninstalled app's pixel
    if shop.uninstalled_at is None:
        shop.uninstalled_at = utcnow()


def app_scopes_update(
    session: Session, shop: Shop, payload: Any, delivery: WebhookDelivery
) -> None:
    current = payload.get("current") if isinstance(payload, dict) else None
    if isinstance(current, list):
        shop.scopes = ",".join(str(s) for s in current)
        from shopify_app.web_pixel import enqueue_activation

        enqueue_activation(session, shop)  # the pixel scopes granted now
        from shopify_app.shop_locale import enqueue_read

        enqueue_read(session, shop)  # read_locales granted now (or still): read it again

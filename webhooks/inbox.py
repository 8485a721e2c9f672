"""Insert-or-ignore into the inbox: a duplicate delivery is a no-op at the database."""

from __future__ import annotations

from sqlalchemy.orm import Session

from shopify_app.db import insert_ignore
from shopify_app.models import WebhookDelivery, utcnow

from .headers import DeliveryHeaders


def store_delivery(
    session: Session,
    shop_id: int,
    headers: DeliveryHeaders,
    body: bytes,
    *,
    status: str = "pending",
    error: str | None = None,
) -> int | None:
    """Insert the delivery; return its id, or None when this webhook id was already stored."""
    values = {
        "shop_id": shop_id,
        "webhook_id": headers.webhook_id,
        "topic": headers.topic,
        "api_version": headers.api_version,
        "event_id": headers.event_id,
        "triggered_at": headers.triggered_at,
        "body": body,
        "status": status,
        "last_error": error,
        "attempts": 0,
        "received_at": utcnow(),
    }
    return insert_ignore(session, WebhookDelivery, values, ["shop_id", "webhook_id"])

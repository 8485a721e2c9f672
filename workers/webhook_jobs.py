"""Processing one inbox row: route by topic, apply, mark done in the same transaction."""

from __future__ import annotations

import json
import logging

from shopify_app.db import get_session
from shopify_app.models import Shop, WebhookDelivery, utcnow
from webhooks.routing import handler_for

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6


def process_delivery(delivery_id: int) -> str:
    """Apply delivery `delivery_id`; idempotent (a done row is left alone).

    On failure the error and attempt count are recorded and the exception re-raised so RQ
    retries with backoff; after MAX_ATTEMPTS the row is `dead` and kept for inspection.
    """
    session = get_session()
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise LookupError(f"webhook delivery {delivery_id} does not exist")
    if delivery.status == "done":
        return "already done"
    handler = handler_for(delivery.topic)
    if handler is None:
        return "no handler yet"
    try:
        payload = json.loads(delivery.body)
        shop = session.get(Shop, delivery.shop_id)
        if shop is None:
            raise LookupError(f"shop {delivery.shop_id} does not exist")
        handler(session, shop, payload, delivery)
        delivery.status = "done"
        delivery.processed_at = utcnow()
        delivery.attempts += 1
        session.commit()
        return "done"
    except Exception as exc:
        session.rollback()
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            raise
        delivery.attempts += 1
        delivery.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        permanent = isinstance(exc, ValueError) or delivery.attempts >= MAX_ATTEMPTS
        delivery.status = "dead" if permanent else "failed"
        session.commit()
        log.warning("delivery %s %s: %s", delivery_id, delivery.status, delivery.last_error)
        if permanent:
            return "dead"
        raise

"""Insert-or-ignore into the inbox: a duplicate delivery is a no-op at the database."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app.db import insert_ignore
from shopify_app.models import Shop, WebhookDelivery, utcnow

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


def list_deliveries(
    session: Session,
    *,
    status: str | None = None,
    shop_domain: str | None = None,
    limit: int = 50,
) -> list[tuple[WebhookDelivery, str]]:
    """Newest first, with each row's shop domain."""
    query = (
        select(WebhookDelivery, Shop.domain)
        .join(Shop, Shop.id == WebhookDelivery.shop_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(WebhookDelivery.status == status)
    if shop_domain:
        query = query.where(Shop.domain == shop_domain)
    return [(row, domain) for row, domain in session.execute(query).all()]


def replay(session: Session, delivery_ids: list[int]) -> list[int]:
    """Put finished or dead deliveries back to `pending` and enqueue them after commit.

    A replay is safe by construction: every handler is idempotent.
    """
    from workers.queues import enqueue_after_commit
    from workers.webhook_jobs import process_delivery

    replayed = []
    for delivery in session.scalars(
        select(WebhookDelivery).where(
            WebhookDelivery.id.in_(delivery_ids), WebhookDelivery.status != "processing"
        )
    ):
        delivery.status = "pending"
        delivery.attempts = 0
        delivery.locked_until = delivery.next_attempt_at = None
        enqueue_after_commit(session, process_delivery, delivery.id)
        replayed.append(delivery.id)
    session.commit()
    return replayed

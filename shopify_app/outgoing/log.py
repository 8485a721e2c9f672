"""The delivery log the merchant reads: newest first, keyset-paged by id, per shop (and per
endpoint when asked)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shopify_app.models import OutgoingDelivery, OutgoingEndpoint, OutgoingEvent, Shop

PAGE = 50


@dataclass(frozen=True)
class LoggedDelivery:
    id: int
    endpoint_id: int
    endpoint_url: str
    event_type: str
    webhook_id: str
    status: str
    attempts: int
    response_status: int | None
    latency_ms: int | None
    response_excerpt: str | None
    error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    replay_of_id: int | None


def get_delivery(session: Session, shop: Shop, delivery_id: int) -> OutgoingDelivery | None:
    return session.scalar(
        select(OutgoingDelivery).where(
            OutgoingDelivery.shop_id == shop.id, OutgoingDelivery.id == delivery_id
        )
    )


def page(
    session: Session,
    shop: Shop,
    *,
    endpoint_id: int | None = None,
    before: int | None = None,
    status: str | None = None,
) -> tuple[list[LoggedDelivery], int | None]:
    """(deliveries, the cursor of the next page or None)."""
    query = (
        select(OutgoingDelivery, OutgoingEvent.event_type, OutgoingEvent.public_id)
        .add_columns(OutgoingEndpoint.url)
        .join(OutgoingEvent, OutgoingEvent.id == OutgoingDelivery.event_id)
        .join(OutgoingEndpoint, OutgoingEndpoint.id == OutgoingDelivery.endpoint_id)
        .where(OutgoingDelivery.shop_id == shop.id)
        .order_by(OutgoingDelivery.id.desc())
        .limit(PAGE + 1)
    )
    if endpoint_id is not None:
        query = query.where(OutgoingDelivery.endpoint_id == endpoint_id)
    if before is not None:
        query = query.where(OutgoingDelivery.id < before)
    if status in ("pending", "succeeded", "failed"):
        query = query.where(OutgoingDelivery.status == status)
    rows = session.execute(query).all()
    found = [
        LoggedDelivery(
            id=d.id,
            endpoint_id=d.endpoint_id,
            endpoint_url=url,
            event_type=event_type,
            webhook_id=public_id,
            status=d.status,
            attempts=d.attempts,
            response_status=d.response_status,
            latency_ms=d.latency_ms,
            response_excerpt=d.response_excerpt,
            error=d.error,
            created_at=d.created_at,
            last_attempt_at=d.last_attempt_at,
            next_attempt_at=d.next_attempt_at,
            replay_of_id=d.replay_of_id,
        )
        for d, event_type, public_id, url in rows[:PAGE]
    ]
    return found, (found[-1].id if len(rows) > PAGE else None)

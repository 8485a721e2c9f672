"""The inbox sweeper: rows stored but never processed get a drain (Redis was down, a worker
was killed, a retry was lost)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from shopify_app.models import WebhookDelivery, utcnow

from .drain import schedule_drain

SWEEP_GRACE_SECONDS = 30


def sweep_inbox(session: Session, limit: int = 1000) -> int:
    """Schedule a drain for every shop with a row overdue; returns how many rows were found.

    A row younger than `SWEEP_GRACE_SECONDS` is left alone: its drain may still be on its way.
    """
    now = utcnow()
    grace = now - timedelta(seconds=SWEEP_GRACE_SECONDS)
    rows = session.execute(
        select(WebhookDelivery.id, WebhookDelivery.shop_id)
        .where(
            or_(
                and_(WebhookDelivery.status == "pending", WebhookDelivery.received_at < grace),
                and_(WebhookDelivery.status == "failed", WebhookDelivery.next_attempt_at < grace),
                and_(WebhookDelivery.status == "processing", WebhookDelivery.locked_until < now),
            )
        )
        .order_by(WebhookDelivery.id)
        .limit(limit)
    ).all()
    session.commit()
    for shop_id in sorted({shop_id for _id, shop_id in rows}):
        schedule_drain(shop_id, force=True)
    return len(rows)

"""Processing one inbox row: claim it, route by topic, apply, mark done in the same transaction.

Any number of jobs may exist for one row (the intake's, RQ's retries, the sweeper's): the
claim, a conditional UPDATE, lets exactly one of them work on it at a time, and a `done` row
is never processed again.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from shopify_app.db import get_session
from shopify_app.models import Shop, WebhookDelivery, utcnow
from webhooks.routing import handler_for, needs_installed_shop

from .queues import enqueue_after_commit

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
CLAIM_SECONDS = 300
BACKOFF_SECONDS = (10, 60, 300, 1800, 7200)
SWEEP_GRACE_SECONDS = 30


class PermanentDeliveryError(ValueError):
    """The delivery can never succeed as sent (malformed payload)."""


def _claimable(now: datetime):
    return or_(
        WebhookDelivery.status.in_(("pending", "failed")),
        and_(WebhookDelivery.status == "processing", WebhookDelivery.locked_until < now),
    )


def claim(session: Session, delivery_id: int) -> bool:
    now = utcnow()
    result = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, _claimable(now))
        .values(
            status="processing",
            locked_until=now + timedelta(seconds=CLAIM_SECONDS),
            attempts=WebhookDelivery.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1


def _finish(delivery: WebhookDelivery, status: str, error: str | None = None) -> None:
    delivery.status = status
    delivery.last_error = error
    delivery.locked_until = None
    delivery.next_attempt_at = None
    delivery.processed_at = utcnow()


def process_delivery(delivery_id: int) -> str:
    """Apply delivery `delivery_id`; returns what happened (also kept on the row).

    A failure records the error and re-raises so RQ retries with backoff; a malformed payload
    or the last attempt ends `dead`, kept for inspection and replay.
    """
    session = get_session()
    if not claim(session, delivery_id):
        current = session.get(WebhookDelivery, delivery_id)
        if current is None:
            raise LookupError(f"webhook delivery {delivery_id} does not exist")
        return f"not claimed ({current.status})"
    delivery = session.get(WebhookDelivery, delivery_id)
    session.refresh(delivery)
    try:
        outcome = _apply(session, delivery)
        session.commit()
        return outcome
    except Exception as exc:
        session.rollback()
        return _record_failure(session, delivery_id, exc)


def _apply(session: Session, delivery: WebhookDelivery) -> str:
    handler = handler_for(delivery.topic)
    if handler is None:
        _finish(delivery, "ignored", f"no handler for topic {delivery.topic}")
        return "ignored"
    shop = session.get(Shop, delivery.shop_id)
    if shop is None:
        raise LookupError(f"shop {delivery.shop_id} does not exist")
    if needs_installed_shop(delivery.topic) and not shop.is_installed:
        _finish(delivery, "skipped", "shop is not installed")
        return "skipped"
    try:
        payload = json.loads(delivery.body)
    except ValueError as exc:
        raise PermanentDeliveryError(f"malformed JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise PermanentDeliveryError("payload is not a JSON object")
    handler(session, shop, payload, delivery)
    _finish(delivery, "done")
    return "done"


def _record_failure(session: Session, delivery_id: int, exc: Exception) -> str:
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise exc
    session.refresh(delivery)
    error = f"{type(exc).__name__}: {exc}"[:2000]
    if isinstance(exc, PermanentDeliveryError) or delivery.attempts >= MAX_ATTEMPTS:
        _finish(delivery, "dead", error)
        session.commit()
        log.warning("delivery %s dead: %s", delivery_id, error)
        return "dead"
    delay = BACKOFF_SECONDS[min(delivery.attempts - 1, len(BACKOFF_SECONDS) - 1)]
    delivery.status = "failed"
    delivery.last_error = error
    delivery.locked_until = None
    delivery.next_attempt_at = utcnow() + timedelta(seconds=delay)
    session.commit()
    log.warning("delivery %s failed (attempt %s): %s", delivery_id, delivery.attempts, error)
    raise exc


def sweep_inbox(limit: int = 1000) -> int:
    """Re-enqueue rows stored but never processed (Redis was down, a worker was killed, a
    retry was lost). Returns how many were enqueued."""
    session = get_session()
    now = utcnow()
    grace = now - timedelta(seconds=SWEEP_GRACE_SECONDS)
    ids = session.scalars(
        select(WebhookDelivery.id)
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
    for delivery_id in ids:
        enqueue_after_commit(session, process_delivery, delivery_id)
    session.commit()
    return len(ids)

"""Applying claimed deliveries: route by topic, run the handler, mark the row in the same
transaction; record a failure for the retry, or end the row `dead`.

This module and the intake (`inbox.py`) are the only writers of a delivery's status.

Batches: a drain claims many rows at once and `apply_batch` applies them in one transaction
(one read of the rows and the shop, one status update, one commit for all), so a delivery
costs only the statements of its own effects. If anything in a batch fails, the batch is
rolled back whole and its rows are applied one at a time, each in its own transaction, so
one bad delivery records its own failure and holds up nothing else.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from shopify_app import compliance
from shopify_app.compliance import REDACTED_BODY
from shopify_app.models import Shop, WebhookDelivery, utcnow
from shopify_app.timeline.events import batched_events

from .claims import claim
from .errors import PermanentDeliveryError
from .routing import handler_for, needs_installed_shop
from .trust import payload_problem

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BACKOFF_SECONDS = (10, 60, 300, 1800, 7200)


def _finish(delivery: WebhookDelivery, status: str, error: str | None = None) -> None:
    delivery.status = status
    delivery.last_error = error
    delivery.locked_until = None
    delivery.next_attempt_at = None
    delivery.processed_at = utcnow()


_MARK = (
    update(WebhookDelivery.__table__)
    .where(WebhookDelivery.__table__.c.id == bindparam("delivery_id"))
    .values(
        status=bindparam("status"),
        last_error=bindparam("last_error"),
        processed_at=bindparam("processed_at"),
        locked_until=None,
        next_attempt_at=None,
    )
)


def apply_batch(session: Session, shop_id: int, ids: list[int]) -> list[str]:
    """Apply claimed rows `ids` in one transaction; on any error, one by one instead.
    Returns each row's outcome."""
    try:
        shop = session.get(Shop, shop_id)
        if shop is None:
            raise LookupError(f"shop {shop_id} does not exist")
        deliveries = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.id.in_(ids)).order_by(WebhookDelivery.id)
        ).all()
        marks = []
        for delivery in deliveries:
            status, error = _apply(session, shop, delivery)
            marks.append(
                {
                    "delivery_id": delivery.id,
                    "status": status,
                    "last_error": error,
                    "processed_at": utcnow(),
                }
            )
        session.execute(_MARK, marks)  # a row a handler deleted (shop/redact) matches nothing
        session.commit()
        return [m["status"] for m in marks]
    except Exception:  # noqa: BLE001 - the rows are retried one by one, recording their errors
        session.rollback()
        session.expunge_all()  # nothing of the failed batch may leak into the retries
        log.info("a batch of %s for shop %s failed; applying one by one", len(ids), shop_id)
    outcomes = []
    for delivery_id in ids:
        try:
            outcomes.append(process_delivery(session, delivery_id))
        except Exception:  # noqa: BLE001 - recorded on the row by process_delivery
            outcomes.append("failed")
    return outcomes


def process_delivery(session: Session, delivery_id: int) -> str:
    """Apply delivery `delivery_id`; returns what happened (also kept on the row).

    A failure records the error and re-raises so RQ retries with backoff; a malformed payload
    or the last attempt ends `dead`, kept for inspection and replay.
    """
    session.commit()  # start from a fresh transaction
    if not claim(session, delivery_id):
        session.rollback()
        current = session.get(WebhookDelivery, delivery_id)
        if current is None:
            raise LookupError(f"webhook delivery {delivery_id} does not exist")
        return f"not claimed ({current.status})"
    delivery = session.get(WebhookDelivery, delivery_id)
    session.refresh(delivery)
    try:
        shop = session.get(Shop, delivery.shop_id)
        if shop is None:
            raise LookupError(f"shop {delivery.shop_id} does not exist")
        status, error = _apply(session, shop, delivery)
        _finish(delivery, status, error)
        session.commit()
        return status
    except Exception as exc:
        session.rollback()
        return _record_failure(session, delivery_id, exc)


def _apply(session: Session, shop: Shop, delivery: WebhookDelivery) -> tuple[str, str | None]:
    """Run the delivery's handler; returns (status, note) for its row, which it leaves alone.

    The body's trust rules (`webhooks.trust`) are checked here, before every handler, with
    the shop's Shopify id: a replay or a retry is held to them like a first delivery. What
    an erasure forbids (`privacy`) is screened after them: a delivery for an erased shop
    keeps no body, one about an erased customer keeps only what may still be applied."""
    if compliance.drop_for_erased_shop(session, shop, delivery):
        return "skipped", compliance.ERASED_NOTE
    handler = handler_for(delivery.topic)
    if handler is None:
        return "ignored", f"no handler for topic {delivery.topic}"
    if delivery.body == REDACTED_BODY:
        return "rejected", "the body was erased by a redaction: nothing to apply"
    try:
        payload = json.loads(delivery.body)
    except ValueError as exc:
        raise PermanentDeliveryError(f"malformed JSON: {exc}") from exc
    problem = payload_problem(delivery.topic, shop.domain, payload, shop.shopify_id)
    if problem is not None:
        log.warning("delivery %s (%s) rejected: %s", delivery.id, delivery.topic, problem)
        if needs_installed_shop(delivery.topic):
            # kept, but not an erased one's data
            compliance.screen_unapplied(session, shop, delivery)
        return "rejected", problem
    if needs_installed_shop(delivery.topic) and not shop.is_installed:
        compliance.screen_unapplied(session, shop, delivery)
        return "skipped", "shop is not installed"
    if needs_installed_shop(delivery.topic):
        payload = compliance.screen_delivery(session, shop, delivery, payload)
        if payload is None:
            return "skipped", compliance.ERASED_NOTE
    with batched_events(session):
        handler(session, shop, payload, delivery)
    return "done", None


def _record_failure(session: Session, delivery_id: int, exc: Exception) -> str:
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise exc
    session.refresh(delivery)
    delivery.attempts += 1  # the claim's increment was rolled back with the effects
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

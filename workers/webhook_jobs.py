"""Processing the inbox: claim a row, route by topic, apply, mark done in the same transaction.

Any number of jobs may look at one row (a drain, a replay, the sweeper's): the claim, a
conditional UPDATE, lets exactly one of them work on it at a time, and a `done` row is never
processed again.

Hand-off: the intake does not enqueue a job per delivery. It sets a per-shop Redis flag with
SET NX; only the first arrival of a burst enqueues `drain_inbox(shop_id)`, which clears the
flag and then applies the shop's pending rows in arrival order until none are left. RQ's own
cost (about 40 Redis round trips a job) is paid per burst, not per webhook, and a shop's
updates are applied in the order they arrived. A delivery that lands after the drain cleared
the flag schedules the next drain, so none is stranded; the sweeper covers lost jobs.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, text, update
from sqlalchemy.orm import Session

from shopify_app.db import get_session
from shopify_app.models import Shop, WebhookDelivery, utcnow
from webhooks.routing import handler_for, needs_installed_shop

from .queues import after_commit, get_queue, redis_connection

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
DRAIN_FLAG_SECONDS = 600
DRAIN_BATCH = 200
DRAIN_BUDGET_SECONDS = 60.0
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
    """Open the processing transaction by claiming the row (not committed on its own).

    A concurrent claimer blocks on the row and then finds it `done`; a crash rolls the claim
    back with the effects, leaving the row `pending` for the sweeper. On PostgreSQL the
    transaction skips the synchronous WAL flush: losing a just-committed effect on a crash
    loses its `done` mark with it, so the row is simply processed again (handlers are
    idempotent). The intake's insert stays fully durable.
    """
    now = utcnow()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))
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
    return result.rowcount == 1


def _finish(delivery: WebhookDelivery, status: str, error: str | None = None) -> None:
    delivery.status = status
    delivery.last_error = error
    delivery.locked_until = None
    delivery.next_attempt_at = None
    delivery.processed_at = utcnow()


def drain_flag(shop_id: int) -> str:
    return f"referrals:inbox-drain:{shop_id}"


def schedule_drain(shop_id: int, *, force: bool = False) -> bool:
    """Enqueue a drain for the shop unless one is already waiting to start."""
    if not force and not redis_connection().set(
        drain_flag(shop_id), 1, nx=True, ex=DRAIN_FLAG_SECONDS
    ):
        return False
    get_queue().enqueue_call(drain_inbox, args=(shop_id,), retry=None)
    return True


def schedule_drain_after_commit(session: Session, shop_id: int) -> None:
    after_commit(session, lambda: schedule_drain(shop_id))


def drain_inbox(shop_id: int) -> dict[str, int]:
    """Apply the shop's processable rows in arrival order; returns counts by outcome.

    Failures are recorded on their rows (retried by the sweeper when due), never raised: one
    bad delivery must not hold up the rest.
    """
    redis_connection().delete(drain_flag(shop_id))
    session = get_session()
    counts: dict[str, int] = {}
    deadline = time.monotonic() + DRAIN_BUDGET_SECONDS
    while True:
        now = utcnow()
        ids = session.scalars(
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.shop_id == shop_id,
                or_(
                    WebhookDelivery.status == "pending",
                    and_(
                        WebhookDelivery.status == "failed", WebhookDelivery.next_attempt_at <= now
                    ),
                    and_(
                        WebhookDelivery.status == "processing", WebhookDelivery.locked_until < now
                    ),
                ),
            )
            .order_by(WebhookDelivery.id)
            .limit(DRAIN_BATCH)
        ).all()
        session.commit()
        if not ids:
            return counts
        for delivery_id in ids:
            try:
                outcome = process_delivery(delivery_id)
            except Exception:  # noqa: BLE001 - recorded on the row by process_delivery
                outcome = "failed"
            key = outcome.split(" ")[0]
            counts[key] = counts.get(key, 0) + 1
        if time.monotonic() > deadline:
            schedule_drain(shop_id, force=True)  # hand the rest to a fresh job
            return counts


def process_delivery(delivery_id: int) -> str:
    """Apply delivery `delivery_id`; returns what happened (also kept on the row).

    A failure records the error and re-raises so RQ retries with backoff; a malformed payload
    or the last attempt ends `dead`, kept for inspection and replay.
    """
    session = get_session()
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


def sweep_inbox(limit: int = 1000) -> int:
    """Schedule drains for rows stored but never processed (Redis was down, a worker was
    killed, a retry was lost). Returns how many rows were found."""
    session = get_session()
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

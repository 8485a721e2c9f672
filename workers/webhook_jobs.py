"""Processing the inbox: claim rows, route by topic, apply, mark done in the same transaction.

Any number of jobs may look at one row (a drain, a replay, the sweeper's): the claim, a
conditional UPDATE, lets exactly one of them work on it at a time, and a `done` row is never
processed again.

Hand-off: the intake does not enqueue a job per delivery. It sets a per-shop Redis flag with
SET NX; only the first arrival of a burst enqueues `drain_inbox(shop_id)`, which clears the
flag and then applies the shop's pending rows in arrival order until none are left. RQ's own
cost (about 40 Redis round trips a job) is paid per burst, not per webhook. A delivery that
lands after the drain cleared the flag schedules the next drain, so none is stranded; the
sweeper covers lost jobs.

Batches: a drain claims up to `DRAIN_BATCH` rows at once and applies them in one transaction
(one claim, one read of the rows and the shop, one status update, one commit for all), so a
delivery costs only the statements of its own effects. If anything in a batch fails, the
batch is rolled back whole and its rows are applied one at a time, each in its own
transaction, so one bad delivery records its own failure and holds up nothing else.
Lifecycle and privacy deliveries close their batch: what follows them is read afresh.

Several workers on one shop: on PostgreSQL the claim skips rows another drain has locked
(`FOR UPDATE SKIP LOCKED`), and a drain that finds a full batch waiting asks for a helper,
up to `INBOX_DRAIN_WORKERS` at once. Concurrent updates of one order or customer serialise on
its row lock and converge by `updated_at`, as they do for out-of-order deliveries.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, bindparam, or_, select, text, update
from sqlalchemy.orm import Session

from shopify_app import compliance
from shopify_app.compliance import REDACTED_BODY
from shopify_app.db import get_session
from shopify_app.jobs import after_commit, get_queue, redis_connection
from shopify_app.models import Shop, WebhookDelivery, utcnow
from shopify_app.timeline.events import batched_events
from webhooks.routing import ALWAYS_HANDLERS, handler_for, needs_installed_shop
from webhooks.trust import payload_problem

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
DRAIN_FLAG_SECONDS = 600
DRAIN_BATCH = 100
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


def _fast_commit(session: Session) -> None:
    """On PostgreSQL the processing transaction skips the synchronous WAL flush: losing a
    just-committed effect on a crash loses its `done` mark with it, so the row is simply
    processed again (handlers are idempotent). The intake's insert stays fully durable."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))


def _claim_values(now: datetime) -> dict:
    return {
        "status": "processing",
        "locked_until": now + timedelta(seconds=CLAIM_SECONDS),
        "attempts": WebhookDelivery.attempts + 1,
    }


def claim(session: Session, delivery_id: int) -> bool:
    """Open the processing transaction by claiming the row (not committed on its own).

    A concurrent claimer blocks on the row and then finds it `done`; a crash rolls the claim
    back with the effects, leaving the row `pending` for the sweeper.
    """
    now = utcnow()
    _fast_commit(session)
    result = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, _claimable(now))
        .values(**_claim_values(now))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _due(shop_id: int, now: datetime):
    return and_(
        WebhookDelivery.shop_id == shop_id,
        or_(
            WebhookDelivery.status == "pending",
            and_(WebhookDelivery.status == "failed", WebhookDelivery.next_attempt_at <= now),
            and_(WebhookDelivery.status == "processing", WebhookDelivery.locked_until < now),
        ),
    )


def claim_batch(session: Session, shop_id: int, limit: int) -> tuple[list[int], bool]:
    """Claim the shop's next due rows, in arrival order, inside the open transaction.

    Rows another drain holds are skipped (PostgreSQL); the batch ends after the first
    lifecycle or privacy delivery. Returns (claimed ids, whether more rows were due).
    """
    now = utcnow()
    _fast_commit(session)
    candidates = session.execute(
        select(WebhookDelivery.id, WebhookDelivery.topic)
        .where(_due(shop_id, now))
        .order_by(WebhookDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    more = len(candidates) == limit
    chosen: list[int] = []
    for delivery_id, topic in candidates:
        chosen.append(delivery_id)
        if topic in ALWAYS_HANDLERS:
            more = True
            break
    if not chosen:
        return [], False
    claimed = session.scalars(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(chosen), _claimable(now))
        .values(**_claim_values(now))
        .returning(WebhookDelivery.id)
        .execution_options(synchronize_session=False)
    ).all()
    return sorted(claimed), more


def _finish(delivery: WebhookDelivery, status: str, error: str | None = None) -> None:
    delivery.status = status
    delivery.last_error = error
    delivery.locked_until = None
    delivery.next_attempt_at = None
    delivery.processed_at = utcnow()


def drain_flag(shop_id: int, slot: int = 0) -> str:
    return f"referrals:inbox-drain:{shop_id}" + (f":{slot}" if slot else "")


def schedule_drain(shop_id: int, *, force: bool = False, slot: int = 0) -> bool:
    """Enqueue a drain for the shop unless one is already waiting to start (per slot: slot 0
    is the shop's main drain, higher slots are helpers for a backlog)."""
    if not force and not redis_connection().set(
        drain_flag(shop_id, slot), 1, nx=True, ex=DRAIN_FLAG_SECONDS
    ):
        return False
    get_queue().enqueue_call(drain_inbox, args=(shop_id, slot), retry=None)
    return True


def schedule_drain_after_commit(session: Session, shop_id: int) -> None:
    after_commit(session, lambda: schedule_drain(shop_id))


def _drain_workers(session: Session) -> int:
    if session.get_bind().dialect.name == "sqlite":
        return 1  # one writer: a second drain would only wait for the first
    return int(current_app.config.get("INBOX_DRAIN_WORKERS", 1))


def drain_inbox(shop_id: int, slot: int = 0) -> dict[str, int]:
    """Apply the shop's processable rows in arrival order; returns counts by outcome.

    Failures are recorded on their rows (retried by the sweeper when due), never raised: one
    bad delivery must not hold up the rest.
    """
    redis_connection().delete(drain_flag(shop_id, slot))
    session = get_session()
    counts: dict[str, int] = {}
    deadline = time.monotonic() + DRAIN_BUDGET_SECONDS
    helper_asked = slot + 1 >= _drain_workers(session)
    while True:
        session.commit()  # start from a fresh transaction
        ids, more = claim_batch(session, shop_id, DRAIN_BATCH)
        if not ids:
            session.rollback()
            return counts
        if more and not helper_asked:
            helper_asked = True
            after_commit(session, lambda: schedule_drain(shop_id, slot=slot + 1))
        for outcome in _apply_batch(session, shop_id, ids):
            key = outcome.split(" ")[0]
            counts[key] = counts.get(key, 0) + 1
        session.expunge_all()  # constant memory over a long burst
        if time.monotonic() > deadline:
            schedule_drain(shop_id, force=True, slot=slot)  # hand the rest to a fresh job
            return counts


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


def _apply_batch(session: Session, shop_id: int, ids: list[int]) -> list[str]:
    """Apply claimed rows `ids` in one transaction; on any error, one by one instead."""
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
            outcomes.append(process_delivery(delivery_id))
        except Exception:  # noqa: BLE001 - recorded on the row by process_delivery
            outcomes.append("failed")
    return outcomes


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
    an erasure forbids (`compliance`) is screened after them: a delivery for an erased shop
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

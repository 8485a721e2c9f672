"""Claiming inbox rows: a conditional UPDATE lets exactly one job work on a row at a time.

Any number of jobs may look at one row (a drain, a replay, the sweeper's); a `done` row is
never processed again. A claim opens the processing transaction and is not committed on its
own: a crash rolls it back with the effects, leaving the row for the sweeper. On PostgreSQL
a batch claim skips rows another drain has locked (`FOR UPDATE SKIP LOCKED`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, text, update
from sqlalchemy.orm import Session

from shopify_app.models import WebhookDelivery, utcnow

from .routing import ALWAYS_HANDLERS

CLAIM_SECONDS = 300


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

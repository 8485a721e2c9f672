"""Handing the inbox to the worker: one drain per burst of a shop's deliveries.

The intake does not enqueue a job per delivery. It sets a per-shop Redis flag with SET NX;
only the first arrival of a burst enqueues the drain job (`jobs.DRAIN_INBOX`), which clears
the flag and then applies the shop's pending rows in arrival order until none are left.
RQ's own cost (about 40 Redis round trips a job) is paid per burst, not per webhook. A
delivery that lands after the drain cleared the flag schedules the next drain, so none is
stranded; the sweeper (`sweep.py`) covers lost jobs.

A drain claims up to `DRAIN_BATCH` rows at once (`claims.claim_batch`) and applies them in
one transaction (`processing.apply_batch`). Lifecycle and privacy deliveries close their
batch: what follows them is read afresh. Several workers on one shop: a drain that finds a
full batch waiting asks for a helper, up to `INBOX_DRAIN_WORKERS` at once. Concurrent
updates of one order or customer serialise on its row lock and converge by `updated_at`, as
they do for out-of-order deliveries.
"""

from __future__ import annotations

import time

from flask import current_app
from sqlalchemy.orm import Session

from shopify_app import jobs

from .claims import claim_batch
from .processing import apply_batch

DRAIN_FLAG_SECONDS = 600
DRAIN_BATCH = 100
DRAIN_BUDGET_SECONDS = 60.0


def drain_flag(shop_id: int, slot: int = 0) -> str:
    return f"referrals:inbox-drain:{shop_id}" + (f":{slot}" if slot else "")


def schedule_drain(shop_id: int, *, force: bool = False, slot: int = 0) -> bool:
    """Enqueue a drain for the shop unless one is already waiting to start (per slot: slot 0
    is the shop's main drain, higher slots are helpers for a backlog)."""
    if not force and not jobs.redis_connection().set(
        drain_flag(shop_id, slot), 1, nx=True, ex=DRAIN_FLAG_SECONDS
    ):
        return False
    jobs.get_queue().enqueue_call(jobs.DRAIN_INBOX, args=(shop_id, slot), retry=None)
    return True


def schedule_drain_after_commit(session: Session, shop_id: int) -> None:
    jobs.after_commit(session, lambda: schedule_drain(shop_id))


def _drain_workers(session: Session) -> int:
    if session.get_bind().dialect.name == "sqlite":
        return 1  # one writer: a second drain would only wait for the first
    return int(current_app.config.get("INBOX_DRAIN_WORKERS", 1))


def drain_shop(session: Session, shop_id: int, slot: int = 0) -> dict[str, int]:
    """Apply the shop's processable rows in arrival order; returns counts by outcome.

    Failures are recorded on their rows (retried by the sweeper when due), never raised: one
    bad delivery must not hold up the rest.
    """
    jobs.redis_connection().delete(drain_flag(shop_id, slot))
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
            jobs.after_commit(session, lambda: schedule_drain(shop_id, slot=slot + 1))
        for outcome in apply_batch(session, shop_id, ids):
            key = outcome.split(" ")[0]
            counts[key] = counts.get(key, 0) + 1
        session.expunge_all()  # constant memory over a long burst
        if time.monotonic() > deadline:
            schedule_drain(shop_id, force=True, slot=slot)  # hand the rest to a fresh job
            return counts

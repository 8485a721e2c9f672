"""Running the Customers page's bulk jobs (invitations, exports) in the worker, and their
periodic upkeep (stale-job sweep, file expiry).

The job row says where it got to: a retry or a re-enqueue by the sweeper carries on from
there. Progress is written as it goes, so the page shows it while the job runs.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy.orm import Session

from shopify_app import jobs
from shopify_app.db import database
from shopify_app.models import BulkJob, Shop, utcnow
from shopify_app.referrals.advocates import invitation_terms
from shopify_app.storage import storage

from . import bulk

log = logging.getLogger(__name__)

# An export is written again when a customer in it was erased while it was being written;
# after this many tries the job fails and says so.
EXPORT_WRITES = 3


def _progress_writer(job_id: int):
    """Export progress goes through its own short transactions: the export's own session is
    streaming rows and must not commit under its cursor."""

    def write(rows: int) -> None:
        with Session(database().engine) as side:
            job = side.get(BulkJob, job_id)
            if job is not None:
                job.processed = rows
                job.heartbeat_at = utcnow()
                side.commit()

    return write


def run_job(session: Session, job_id: int) -> str:
    """Run (or resume) bulk job `job_id`; returns a line for the job's result."""
    job = session.get(BulkJob, job_id)
    if job is None or job.status in ("completed", "failed"):
        return "nothing to do"
    shop = session.get(Shop, job.shop_id)
    if shop is None or shop.uninstalled_at is not None:
        job.status, job.error, job.finished_at = "failed", "the app was uninstalled", utcnow()
        session.commit()
        return "shop gone"
    if job.attempts >= bulk.MAX_ATTEMPTS:
        job.status, job.finished_at = "failed", utcnow()
        job.error = f"gave up after {job.attempts} attempts: {job.error or 'worker lost'}"
        session.commit()
        return "gave up"
    job.attempts += 1
    job.status = "running"
    job.started_at = job.started_at or utcnow()
    job.heartbeat_at = utcnow()
    session.commit()
    try:
        if job.kind == "invite":
            join_url, offer = invitation_terms(session, shop)
            bulk.run_invite(session, shop, job, join_url=join_url, offer=offer)
        else:
            _run_export(session, shop, job)
    except Exception as exc:
        session.rollback()
        session.expunge_all()
        job = session.get(BulkJob, job_id)
        if job is not None:
            job.error = f"{type(exc).__name__}: {exc}"[:2000]
            job.heartbeat_at = utcnow()
            session.commit()
        raise
    job.status = "completed"
    job.error = None
    job.finished_at = utcnow()
    session.commit()
    return f"{job.kind} {job.id}: {job.processed} customer(s)"


def _run_export(session: Session, shop: Shop, job: BulkJob) -> None:
    """Write the export into storage and publish it as the job's download."""
    store = storage()
    hours = int(current_app.config.get("EXPORT_RETENTION_HOURS", 24))
    for _attempt in range(EXPORT_WRITES):
        job.processed = 0
        session.commit()
        file, rows = bulk.write_export(
            session,
            shop,
            job,
            store,
            expires_at=utcnow() + timedelta(hours=hours),
            on_progress=_progress_writer(job.id),
        )
        session.rollback()  # end the streaming read; the progress writer changed the row
        if bulk.publish_export(session, shop, store, file):
            job.processed = job.total = rows
            return
        session.commit()  # a customer in it was erased meanwhile: its file is gone
        log.info("export %s held a customer erased while it ran; writing it again", job.id)
    raise RuntimeError("customers kept being erased while the export ran; export again")


def expire_files(session: Session) -> int:
    """Delete stored files past their expiry (exports after `EXPORT_RETENTION_HOURS`, and
    writes a dead worker left unfinished); returns how many went."""
    deleted = storage().expire(session)
    session.commit()
    return deleted


def requeue_stale_jobs(session: Session) -> int:
    """Re-enqueue jobs whose worker went quiet; they resume from their cursor."""
    ids = bulk.stale_jobs(session)
    session.commit()
    for job_id in ids:
        jobs.get_queue().enqueue_call(jobs.RUN_BULK_JOB, args=(job_id,))
    return len(ids)

"""Job entry points for the Customers page's bulk jobs; the work is in
`shopify_app.customers.bulk_runs`."""

from __future__ import annotations

from shopify_app.customers import bulk_runs
from shopify_app.db import get_session


def run_bulk_job(job_id: int) -> str:
    return bulk_runs.run_job(get_session(), job_id)


def expire_files() -> int:
    """Periodic: delete stored files past their expiry."""
    return bulk_runs.expire_files(get_session())


def sweep_bulk_jobs() -> int:
    """Periodic: re-enqueue jobs whose worker went quiet."""
    return bulk_runs.requeue_stale_jobs(get_session())

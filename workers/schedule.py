"""Periodic jobs, declared as data and run by RQ's cron scheduler (one scheduler process)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from rq.cron import CronScheduler

from . import bulk_jobs, maintenance, referral_jobs, sync_jobs, webhook_jobs
from .queues import redis_connection


@dataclass(frozen=True)
class PeriodicJob:
    func: object
    interval_seconds: int
    queue: str = "default"


PERIODIC_JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob(webhook_jobs.sweep_inbox, interval_seconds=60),
    PeriodicJob(sync_jobs.poll_imports, interval_seconds=60),
    PeriodicJob(sync_jobs.reconcile_all, interval_seconds=900),
    PeriodicJob(maintenance.refresh_expiring_tokens, interval_seconds=300),
    PeriodicJob(maintenance.purge_expired_oauth_states, interval_seconds=3600),
    PeriodicJob(referral_jobs.complete_due_referrals, interval_seconds=60),
    PeriodicJob(referral_jobs.expire_rewards, interval_seconds=900),
    PeriodicJob(referral_jobs.sweep_referral_work, interval_seconds=120),
    PeriodicJob(bulk_jobs.sweep_bulk_jobs, interval_seconds=60),
    PeriodicJob(bulk_jobs.expire_files, interval_seconds=900),
)


def build_scheduler(app: Flask) -> CronScheduler:
    with app.app_context():
        scheduler = CronScheduler(connection=redis_connection(), name="referrals-scheduler")
    for job in PERIODIC_JOBS:
        scheduler.register(job.func, job.queue, interval=job.interval_seconds)  # type: ignore[arg-type]
    return scheduler

"""Periodic jobs, declared as data and run by RQ's cron scheduler (one scheduler process)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from flask import Flask
from rq.cron import CronScheduler
from rq.exceptions import StopRequested

from shopify_app.jobs import redis_connection

from . import (
    bulk_jobs,
    conversation_jobs,
    maintenance,
    outgoing_jobs,
    referral_jobs,
    sync_jobs,
    webhook_jobs,
)
from .outage import REDIS_ERRORS, Outage, redis_outage

log = logging.getLogger(__name__)


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
    PeriodicJob(maintenance.purge_send_quotas, interval_seconds=3600),
    PeriodicJob(maintenance.purge_idempotent_requests, interval_seconds=3600),
    PeriodicJob(referral_jobs.complete_due_referrals, interval_seconds=60),
    PeriodicJob(referral_jobs.expire_rewards, interval_seconds=900),
    PeriodicJob(referral_jobs.sweep_referral_work, interval_seconds=120),
    PeriodicJob(bulk_jobs.sweep_bulk_jobs, interval_seconds=60),
    PeriodicJob(bulk_jobs.expire_files, interval_seconds=900),
    # Outgoing webhooks: the first retry is due 5 s after a failure, later ones minutes
    # and hours after; this starts them (and any drain a lost enqueue never started).
    PeriodicJob(outgoing_jobs.sweep_outgoing, interval_seconds=30),
    # A staff reply owed an email whose job was lost with Redis or a killed process.
    PeriodicJob(conversation_jobs.sweep_reply_emails, interval_seconds=120),
    # The assignee's email about a shopper message unread past the shop's delay (minutes).
    PeriodicJob(conversation_jobs.sweep_unread_emails, interval_seconds=60),
)


class AppCronScheduler(CronScheduler):
    """RQ's cron scheduler, except that Redis going away does not end it.

    RQ's loop exits on the first Redis error (and then fails to unregister): every periodic
    job stopped with it. Here a tick that cannot reach Redis waits out the outage
    (`workers.outage`: backoff, one line when it starts, one when it ends) and resumes. After
    an outage every job is enqueued at once: what was enqueued before it may have been lost
    with Redis, and the sweepers are what recover that work.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.redis_outage: Outage = redis_outage(self.connection, log)

    def start(self) -> None:
        self.log.info("CronScheduler %s: starting...", self.name)
        self._install_signal_handlers()
        try:
            self.redis_outage.call(self.register_birth)
            while True:
                self.tick()
                sleep_time = self.calculate_sleep_interval()
                if sleep_time > 0:
                    time.sleep(sleep_time)
        except KeyboardInterrupt:
            self.log.info("CronScheduler %s: received KeyboardInterrupt", self.name)
        except StopRequested:
            self.log.info("CronScheduler %s: stop requested", self.name)
        finally:
            try:
                self.register_death()
            except REDIS_ERRORS:
                log.warning(
                    "scheduler %s stopped without unregistering: Redis unreachable", self.name
                )
            self.log.info("CronScheduler %s: shutdown complete", self.name)

    def tick(self) -> None:
        """Enqueue what is due, save the timings, heartbeat; through any Redis outage."""
        try:
            self._tick()
        except REDIS_ERRORS as exc:
            self.redis_outage.begin(exc)
            self.redis_outage.wait()
            for job in self.get_jobs():  # anything enqueued before may be gone: run all now
                if job.interval:
                    job.latest_enqueue_time = job.next_enqueue_time = None
            self.redis_outage.call(self._tick)

    def _tick(self) -> None:
        if self.enqueue_jobs():
            self.save()
        self.heartbeat()


def build_scheduler(app: Flask) -> AppCronScheduler:
    with app.app_context():
        scheduler = AppCronScheduler(connection=redis_connection(), name="referrals-scheduler")
    for job in PERIODIC_JOBS:
        scheduler.register(job.func, job.queue, interval=job.interval_seconds)  # type: ignore[arg-type]
    return scheduler
